"""The credit-risk tabular model: deterministic build, contract manifest, sane probabilities.

Version 2 (reweighed) has its own tests in test_build_tabular_reweighed.py."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from gpu_backend.build import tabular
from gpu_backend.build.__main__ import main
from gpu_backend.build.manifest import verify_model_dir
from gpu_backend.build.options import BuildOptions
from gpu_backend.build.registry import MODELS, ModelSpec, build_models, build_one

NAME = "credit-risk"
V1 = f"{NAME}@1"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("tabular")
    build_models(output, [NAME])
    return output


@pytest.fixture(scope="module")
def model_dir(repository: Path) -> Path:
    return repository / NAME / "1"


@pytest.fixture(scope="module")
def manifest(model_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def repo_copy(repository: Path, tmp_path: Path) -> Path:
    """A private copy of the built repository that a test may damage or rebuild."""
    return Path(shutil.copytree(repository, tmp_path / "models"))


def _digests(model_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(model_dir.iterdir())}


def test_manifest_follows_the_contract(manifest: dict[str, Any], model_dir: Path) -> None:
    # Given the built tabular manifest
    # When its fields are read
    # Then it is a tabular-classification model with an explain block over ten named features
    assert manifest["schema_version"] == 1
    assert manifest["task"] == "tabular-classification"
    assert manifest["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 10]}]
    assert manifest["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]
    assert manifest["preprocessing"] == {"kind": "none"}
    assert manifest["postprocessing"] == {"kind": "none"}
    assert manifest["approval"] == "approved"
    explain = manifest["explain"]
    assert explain["background"] == "background.npy"
    assert len(explain["feature_names"]) == 10 == len(set(explain["feature_names"]))
    assert explain["sensitive_features"] == ["group"]
    assert explain["target_names"] == ["deny", "approve"]
    assert set(manifest["artifacts"]) == {"model.onnx", "background.npy"}
    for name, entry in manifest["artifacts"].items():
        data = (model_dir / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_card_reports_held_out_figures(manifest: dict[str, Any]) -> None:
    # Given the card of the built model
    card = manifest["card"]
    # When its evaluation and fairness blocks are read
    # Then they hold real held-out figures and non-trivial group rates
    assert 0.6 < card["evaluation"]["accuracy"] <= 1.0
    assert 0.65 < card["evaluation"]["roc_auc"] <= 1.0
    groups = card["fairness"]["groups"]
    assert set(groups) == {"0", "1"}
    assert groups["0"]["approval_rate"] != groups["1"]["approval_rate"]
    assert all(card[field] for field in ("description", "intended_use", "out_of_scope_uses", "owner"))


def test_background_is_float32_rows_of_all_features(model_dir: Path) -> None:
    # Given the background sample
    background = np.load(model_dir / "background.npy", allow_pickle=False)
    # When its shape and type are read
    # Then it is [100, 10] float32 with a binary group column
    assert background.shape == (100, 10)
    assert background.dtype == np.float32
    assert set(np.unique(background[:, -1]).tolist()) <= {0.0, 1.0}


def test_probabilities_are_a_distribution_matching_the_trained_model(model_dir: Path) -> None:
    # Given the ONNX model and the background rows
    background = np.load(model_dir / "background.npy")
    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    # When the rows are scored
    (proba,) = session.run(["probabilities"], {"features": background})
    # Then each row is a probability distribution over (deny, approve)
    assert proba.shape == (100, 2)
    assert proba.dtype == np.float32
    assert ((proba >= 0.0) & (proba <= 1.0)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert 0.0 < proba[:, 1].mean() < 1.0 and proba[:, 1].std() > 0.05


def test_same_seed_builds_identical_artifacts(model_dir: Path, tmp_path: Path) -> None:
    # Given a second build of both versions into another directory
    build_models(tmp_path, [NAME])
    # When the files of both builds are hashed
    # Then every file of every version, the manifest included, is byte-identical
    assert _digests(tmp_path / NAME / "1") == _digests(model_dir)
    assert _digests(tmp_path / NAME / "2") == _digests(model_dir.parent / "2")


def test_rebuild_skips_intact_and_force_rebuilds(repo_copy: Path) -> None:
    # Given a built repository
    manifest = repo_copy / NAME / "1" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    # When the build runs again, then with force
    (skipped,) = build_models(repo_copy, [V1])
    unchanged = manifest.stat().st_mtime_ns == before
    (forced,) = build_models(repo_copy, [V1], force=True)
    # Then the first run skipped without touching files and the forced one rebuilt
    assert skipped.status == "skipped" and unchanged
    assert forced.status == "built"
    assert verify_model_dir(repo_copy / NAME / "1") == []


def test_tampered_artifact_is_detected_and_rebuilt(repo_copy: Path) -> None:
    # Given a built model whose background sample was altered afterwards
    model_dir = repo_copy / NAME / "1"
    background = np.load(model_dir / "background.npy")
    background[0, 0] += 1.0
    np.save(model_dir / "background.npy", background)
    # When it is verified and the build runs again without force
    problems = verify_model_dir(model_dir)
    results = build_models(repo_copy, [NAME])
    # Then the digest mismatch is reported and the model is rebuilt intact
    assert problems == ["background.npy: sha256 mismatch"]
    assert [(r.version, r.status) for r in results] == [("1", "built"), ("2", "skipped")]
    assert verify_model_dir(model_dir) == []


@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda d: (d / "model.onnx").unlink(), "model.onnx: missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "manifest.json unreadable"),
        (lambda d: (d / "manifest.json").unlink(), "manifest.json missing"),
    ],
)
def test_missing_or_malformed_files_are_reported(repo_copy: Path, damage: Any, expected: str) -> None:
    # Given a built model that is then damaged
    model_dir = repo_copy / NAME / "1"
    damage(model_dir)
    # When it is verified
    problems = verify_model_dir(model_dir)
    # Then the problem is named
    assert any(p.startswith(expected) for p in problems), problems


def test_failed_build_leaves_no_model_and_no_staging(tmp_path: Path) -> None:
    # Given a builder that writes an artifact and then fails
    def broken(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
        (model_dir / "model.onnx").write_bytes(b"partial")
        raise RuntimeError("killed mid-build")

    spec = ModelSpec(NAME, "1", broken)
    # When it runs
    with pytest.raises(RuntimeError, match="killed mid-build"):
        build_one(spec, tmp_path, BuildOptions())
    # Then no model directory and no staging directory remain
    assert not (tmp_path / NAME / "1").exists()
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_of_a_dead_build_is_removed(repo_copy: Path) -> None:
    # Given a staging directory left by a build process that no longer exists
    stale = repo_copy / ".staging-credit-risk-1-999999999-abc123"
    stale.mkdir()
    (stale / "model.onnx").write_bytes(b"partial")
    # When a build runs
    build_models(repo_copy, [NAME])
    # Then the stale directory is gone and only the model remains
    assert sorted(p.name for p in repo_copy.iterdir()) == [NAME]


def test_onnx_matches_numpy_model() -> None:
    # Given a small model trained on seeded data
    rng = np.random.default_rng(7)
    data = tabular.synthesize(500, rng)
    model = tabular.train(data, rng)
    # When the exported graph and the numpy forward pass score the same rows
    session = ort.InferenceSession(
        tabular.to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (proba,) = session.run(None, {"features": data.features.astype(np.float32)})
    # Then P(approve) agrees
    np.testing.assert_allclose(proba[:, 1], model.proba(data.features), atol=1e-4)


def test_cli_builds_selected_model_and_rejects_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the CLI
    # When it builds one named model, then one version, then is asked for unknown ones
    code = main(["--output", str(tmp_path), "--models", NAME])
    out = capsys.readouterr().out
    one = main(["--output", str(tmp_path), "--models", f"{NAME}@2", "--force"])
    one_out = capsys.readouterr().out
    bad = main(["--output", str(tmp_path), "--models", "no-such-model"])
    bad_version = main(["--output", str(tmp_path), "--models", f"{NAME}@9"])
    # Then the name builds every version, name@version only that one, unknown ones exit with 2
    assert code == 0 and f"built   {NAME}@1" in out and f"built   {NAME}@2" in out
    assert one == 0 and f"built   {NAME}@2" in one_out and f"{NAME}@1" not in one_out
    assert bad == 2 and bad_version == 2
    assert [spec.version for spec in MODELS[NAME]] == ["1", "2"]
