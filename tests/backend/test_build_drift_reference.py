"""The build's drift reference: the profile of known reference rows and of the graph's predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from steward.quality.drift import DriftProfile
from steward.quality.drift_monitor import PREDICTION, DriftReference, checked_drift_reference

from gpu_backend.build import drift_reference, tabular


def _model(tmp_path: Path, rows: np.ndarray, *, leave_rows: bool) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = rows.shape[1]
    mlp = tabular.Mlp(w1=rng.normal(size=(n, 4)), b1=np.zeros(4), w2=rng.normal(size=4), b2=0.1)
    onnx.save(tabular.to_onnx(mlp), str(tmp_path / "model.onnx"))
    np.save(tmp_path / "background.npy", rows[:10].astype(np.float32))
    if leave_rows:
        np.save(tmp_path / drift_reference.ROWS_FILE, rows.astype(np.float32))
    return {
        "name": "tiny",
        "task": "tabular-classification",
        "model_file": "model.onnx",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, n]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
        "explain": {"background": "background.npy", "feature_names": [f"f{i}" for i in range(n)]},
        "_mlp": mlp,
    }


@pytest.mark.parametrize("leave_rows", [True, False])
def test_tabular_reference_is_the_profile_of_the_rows_and_their_predictions(
    tmp_path: Path, leave_rows: bool
) -> None:
    # Given known reference rows and a graph
    rows = np.random.default_rng(1).normal(size=(400, 3)).astype(np.float32)
    manifest = _model(tmp_path, rows, leave_rows=leave_rows)
    mlp = manifest.pop("_mlp")

    # When the build attaches the drift reference
    drift_reference.attach(tmp_path, manifest)

    # Then it is the profile of the rows the builder left (else the background) and of P(class 1)
    used = rows if leave_rows else rows[:10]
    columns: dict[str, list[object]] = {f"f{i}": used[:, i].tolist() for i in range(3)}
    columns[PREDICTION] = mlp.proba(used.astype(np.float64)).tolist()
    reference = DriftReference.from_dict(manifest["drift_profile"])
    expected = DriftProfile.build(columns)
    assert reference.profile.features.keys() == expected.features.keys()
    for name in ("f0", "f1", "f2"):
        assert reference.profile.features[name] == expected.features[name]
        assert reference.profile.reference.counts[name] == expected.reference.counts[name]
    assert sum(reference.profile.reference.counts[PREDICTION]) == len(used)
    edges = reference.profile.features[PREDICTION].edges  # type: ignore[union-attr]
    assert np.allclose(edges, expected.features[PREDICTION].edges, atol=1e-5)  # type: ignore[union-attr]
    assert (reference.input_name, reference.prediction_output) == ("features", "probabilities")
    assert checked_drift_reference(manifest["drift_profile"]) == manifest["drift_profile"]
    assert not (tmp_path / drift_reference.ROWS_FILE).exists()  # a build hand-off, never served


def test_a_task_without_a_reference_is_left_unchanged(tmp_path: Path) -> None:
    manifest: dict[str, Any] = {"task": "token-classification"}
    drift_reference.attach(tmp_path, manifest)
    assert "drift_profile" not in manifest
