"""Artifact integrity and discovery (docs/contracts.md, model repository)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import write_tabular

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import ModelSource, read_manifest
from gpu_backend.repository import discover, verify_all


@pytest.fixture
def tabular_dir(tmp_path: Path) -> Path:
    return write_tabular(tmp_path)


def test_a_tampered_artifact_fails_the_integrity_check(tabular_dir: Path) -> None:
    # Given a verified model whose background sample is then changed in place (same size)
    manifest = read_manifest(ModelSource("tiny-tabular", "1", tabular_dir))
    data = bytearray((tabular_dir / "background.npy").read_bytes())
    data[-1] ^= 0xFF
    (tabular_dir / "background.npy").write_bytes(bytes(data))
    # When the artifacts are verified
    # Then the digest mismatch is reported for that file
    with pytest.raises(ModelLoadError, match=r"integrity check failed for 'background.npy': sha256"):
        verify_all(manifest, tabular_dir)


def test_a_truncated_or_missing_artifact_is_refused(tabular_dir: Path) -> None:
    # Given a model whose ONNX file is truncated, then deleted
    manifest = read_manifest(ModelSource("tiny-tabular", "1", tabular_dir))
    model = tabular_dir / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1])
    # When verified
    # Then the size mismatch, then the missing file, is reported
    with pytest.raises(ModelLoadError, match="bytes on disk"):
        verify_all(manifest, tabular_dir)
    model.unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        verify_all(manifest, tabular_dir)


def test_discover_lists_model_versions_and_skips_markers(tmp_path: Path) -> None:
    # Given a repository with two versions, a .complete marker and a hidden folder
    write_tabular(tmp_path, version="1")
    write_tabular(tmp_path, version="2")
    (tmp_path / ".complete").touch()
    (tmp_path / ".cache" / "1").mkdir(parents=True)
    # When discovered
    sources = discover(tmp_path)
    # Then only the model versions are listed
    assert [(s.name, s.version) for s in sources] == [("tiny-tabular", "1"), ("tiny-tabular", "2")]
