"""The MiniLM model version written by ``python -m gpu_backend.build`` follows docs/contracts.md."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import onnx
import pytest

from gpu_backend.build.manifest import verify_model_dir
from gpu_backend.build.registry import build_models

MODEL = Path("all-minilm-l6-v2") / "1"
CARD_FIELDS = {
    "description",
    "intended_use",
    "out_of_scope_uses",
    "training_data",
    "evaluation",
    "fairness",
    "limitations",
    "owner",
    "license",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(model_repository: Path) -> Path:
    return model_repository / MODEL


@pytest.fixture(scope="module")
def manifest(model_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    return data


def test_manifest_follows_the_contract(manifest: dict[str, Any]) -> None:
    # Given the built manifest
    # When its fields are read
    # Then they are exactly what docs/contracts.md pins for a sentence-embedding model
    assert manifest["schema_version"] == 1
    assert (manifest["name"], manifest["version"]) == ("all-minilm-l6-v2", "1")
    assert manifest["task"] == "sentence-embedding"
    assert manifest["platform"] == "onnxruntime"
    assert manifest["model_file"] == "model.onnx"
    assert manifest["fp16_model_file"] == "model.fp16.onnx"
    assert manifest["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert manifest["outputs"] == [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}]
    assert manifest["preprocessing"] == {
        "kind": "bert-tokenizer",
        "tokenizer": "tokenizer.json",
        "max_length": 256,
        "graph_inputs": ["input_ids", "attention_mask", "token_type_ids"],
    }
    assert manifest["postprocessing"] == {"kind": "graph-output", "graph_output": "sentence_embedding"}
    assert manifest["approval"] == "approved"
    assert manifest["allow_non_finite"] is False
    batching = manifest["batching"]
    assert batching["max_batch_size"] == max(batching["preferred_batch_sizes"])
    assert max(batching["sequence_buckets"]) == 256
    assert set(manifest["card"]) == CARD_FIELDS
    assert manifest["card"]["license"] == "Apache-2.0"


def test_every_artifact_is_listed_with_its_digest(manifest: dict[str, Any], model_dir: Path) -> None:
    # Given the artifacts block
    artifacts = manifest["artifacts"]
    # When each file is hashed independently of the build code
    # Then sizes and sha256 digests match, and nothing else sits in the directory
    assert set(artifacts) == {"model.onnx", "model.fp16.onnx", "tokenizer.json"}
    for name, entry in artifacts.items():
        data = (model_dir / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert {p.name for p in model_dir.iterdir()} == {*artifacts, "manifest.json"}


@pytest.mark.parametrize("model_file", ["model.onnx", "model.fp16.onnx"])
def test_graph_has_contract_inputs_and_outputs(model_dir: Path, model_file: str) -> None:
    # Given a built graph (fp32 or fp16)
    graph = onnx.load(str(model_dir / model_file)).graph

    # When its inputs and outputs are inspected
    def signature(values: Any) -> dict[str, tuple[int, list[str | int]]]:
        return {
            v.name: (
                v.type.tensor_type.elem_type,
                [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            )
            for v in values
        }

    # Then both variants take INT64 [batch, seq] ids and return FP32 tensors (casts stay inside)
    int64, fp32 = onnx.TensorProto.INT64, onnx.TensorProto.FLOAT
    assert signature(graph.input) == {
        name: (int64, ["batch", "sequence"]) for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    assert signature(graph.output) == {
        "sentence_embedding": (fp32, ["batch", 384]),
        "last_hidden_state": (fp32, ["batch", "sequence", 384]),
    }


def test_shipped_tokenizer_truncates_at_manifest_max_length(model_dir: Path) -> None:
    # Given the shipped tokenizer.json
    config = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    # When its truncation and padding settings are read
    # Then it truncates at 256 and pads per batch (not to a fixed 128 like the raw package file)
    assert config["truncation"]["max_length"] == 256
    assert config["padding"]["strategy"] == "BatchLongest"


def test_built_model_verifies(model_dir: Path) -> None:
    # Given the built model directory
    # When it is verified
    # Then no problems are reported
    assert verify_model_dir(model_dir) == []


def test_rebuild_skips_an_intact_model(model_repository: Path, model_dir: Path) -> None:
    # Given an intact built model
    before = (model_dir / "manifest.json").stat().st_mtime_ns
    # When the build runs again without --force
    (result,) = build_models(model_repository, ["all-minilm-l6-v2"])
    # Then it is skipped and nothing is rewritten
    assert result.status == "skipped"
    assert (model_dir / "manifest.json").stat().st_mtime_ns == before


def test_tampered_or_missing_artifacts_are_detected(model_dir: Path, tmp_path: Path) -> None:
    # Given a copy of the model whose tokenizer was edited and whose fp16 graph was removed
    copy = Path(shutil.copytree(model_dir, tmp_path / "1"))
    tokenizer = copy / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    (copy / "model.fp16.onnx").unlink()
    # When the copy is verified
    problems = verify_model_dir(copy)
    # Then both problems are reported by file name
    assert "tokenizer.json: sha256 mismatch" in problems
    assert "model.fp16.onnx: missing" in problems
