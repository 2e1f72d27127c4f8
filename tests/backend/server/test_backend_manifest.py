"""Manifest validation (docs/contracts.md, model repository)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tiny_models import write_embedding, write_tabular

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import ModelSource, parse_manifest, read_manifest
from gpu_backend.repository import verify_all


@pytest.fixture
def tabular_dir(tmp_path: Path) -> Path:
    return write_tabular(tmp_path)


@pytest.fixture
def manifest_data(tabular_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tabular_dir / "manifest.json").read_text())
    return data


def test_a_valid_manifest_is_read_with_its_batching_and_tensors(tabular_dir: Path) -> None:
    # Given a tiny tabular model written with a contract manifest
    source = ModelSource("tiny-tabular", "1", tabular_dir)
    # When it is read and verified
    manifest = read_manifest(source)
    artifacts = verify_all(manifest, tabular_dir)
    # Then the tensors, batching and every artifact are there
    assert manifest.inputs[0].shape == (-1, 4)
    assert manifest.batching.max_batch_size == 8
    assert manifest.batchable
    assert set(artifacts) == {"model.onnx", "background.npy"}


def test_the_embedding_manifest_keeps_its_buckets(tmp_path: Path) -> None:
    # Given the tiny embedding model
    version_dir = write_embedding(tmp_path)
    # When its manifest is read
    manifest = read_manifest(ModelSource("tiny-embed", "1", version_dir))
    # Then the sequence buckets and tokenizer settings survive validation
    assert manifest.batching.sequence_buckets == (4, 8, 16)
    assert manifest.preprocessing["max_length"] == 16


def _mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target = out
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("schema_version", 2, "this server reads 1"),
        ("name", "../etc", "must match"),
        ("version", "v1", "positive integer"),
        ("platform", "tensorrt", "'onnxruntime'"),
        ("model_file", "other.onnx", "not listed in 'artifacts'"),
        ("model_file", "../model.onnx", "must be relative"),
        ("inputs", [], "non-empty list"),
        ("inputs", _DELETE, "non-empty list"),
        ("outputs", [{"name": "p", "datatype": "FLOAT", "shape": [-1, 2]}], "is not one of"),
        ("outputs", [{"name": "p", "datatype": "FP32", "shape": [0, 2]}], "positive integers or -1"),
        ("batching.max_batch_size", 0, "must be >= 1"),
        ("batching.max_batch_size", "8", "must be an integer"),
        ("batching.preferred_batch_sizes", [16], "must not exceed max_batch_size"),
        ("batching.preferred_batch_sizes", [4, 2], "strictly ascending"),
        ("batching.max_queue_size", 0, "must be >= 1"),
        ("batching.request_timeout_ms", 0, "must be > 0"),
        ("allow_non_finite", "no", "must be a boolean"),
        ("artifacts.model.onnx", {"sha256": "abc", "bytes": 1}, "64 hex digits"),
        ("preprocessing", {"kind": "magic"}, "is not one of"),
        ("explain.background", "missing.npy", "not listed in 'artifacts'"),
    ],
)
def test_malformed_manifests_are_refused_with_the_reason(
    manifest_data: dict[str, Any], path: str, value: Any, message: str
) -> None:
    # Given a manifest with one field broken
    if path.startswith("artifacts."):
        broken = copy.deepcopy(manifest_data)
        broken["artifacts"]["model.onnx"] = value
    else:
        broken = _mutate(manifest_data, path, value)
    # When it is validated
    # Then it is refused and the reason names the field
    with pytest.raises(ModelLoadError, match=message):
        parse_manifest(broken)


def test_a_manifest_whose_name_differs_from_its_directory_is_refused(manifest_data: dict[str, Any]) -> None:
    # Given a manifest that says tiny-tabular/1 found under another/1
    # When validated against its source directory
    # Then it is refused
    with pytest.raises(ModelLoadError, match="the directory is another/1"):
        parse_manifest(manifest_data, ModelSource("another", "1", Path(".")))


def test_invalid_json_and_a_missing_manifest_are_reported(tmp_path: Path) -> None:
    # Given a version directory with broken JSON and one without a manifest
    broken = tmp_path / "m" / "1"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    empty = tmp_path / "m" / "2"
    empty.mkdir()
    # When they are read
    # Then both say why
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        read_manifest(ModelSource("m", "1", broken))
    with pytest.raises(ModelLoadError, match=r"manifest.json is missing"):
        read_manifest(ModelSource("m", "2", empty))
