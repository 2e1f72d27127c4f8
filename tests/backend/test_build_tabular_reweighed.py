"""credit-risk@2: version 1's recipe retrained with reweighing; its card's before/after figures are
recomputed here from the shipped ONNX graphs on the held-out rows (Fairlearn and scikit-learn)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, roc_auc_score

from gpu_backend.build import tabular
from gpu_backend.build.manifest import verify_model_dir
from gpu_backend.build.registry import build_models

NAME = "credit-risk"
# Predictions at float32 (graph) vs float64 (build) precision may differ for rows scored right at
# the threshold; one row of the smaller group moves a rate by 1/949.
RATE_TOLERANCE = 2.5e-3


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("tabular-v2")
    build_models(output, [NAME])
    return output


def _manifest(repository: Path, version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((repository / NAME / version / "manifest.json").read_text())
    return data


def _figures(repository: Path, version: str, held_out: tabular.Dataset) -> dict[str, float]:
    """The card's comparison figures, recomputed from the shipped graph with Fairlearn's metrics."""
    session = ort.InferenceSession(
        str(repository / NAME / version / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (proba,) = session.run(["probabilities"], {"features": held_out.features.astype(np.float32)})
    threshold = _manifest(repository, version)["card"]["evaluation"]["threshold"]
    predicted = (proba[:, 1] >= threshold).astype(int)
    group = held_out.features[:, tabular.FEATURE_NAMES.index("group")]
    labels = held_out.labels
    tpr = [true_positive_rate(labels[group == g], predicted[group == g]) for g in (0, 1)]
    approval = [predicted[group == g].mean() for g in (0, 1)]
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "roc_auc": float(roc_auc_score(labels, proba[:, 1])),
        "demographic_parity_difference": float(approval[0] - approval[1]),
        "demographic_parity_abs": float(
            demographic_parity_difference(labels, predicted, sensitive_features=group)
        ),
        "demographic_parity_ratio": float(
            demographic_parity_ratio(labels, predicted, sensitive_features=group)
        ),
        "equal_opportunity_difference": float(tpr[0] - tpr[1]),
    }


def test_both_versions_build_intact_with_full_manifests(repository: Path) -> None:
    # Given the built credit-risk versions
    v1, v2 = _manifest(repository, "1"), _manifest(repository, "2")
    # When they are verified and compared
    # Then both are intact, approved, explainable and differ only in version, weights and card
    for version in ("1", "2"):
        assert verify_model_dir(repository / NAME / version) == []
    assert v2["version"] == "2" and v2["approval"] == "approved"
    same = ("schema_version", "name", "task", "inputs", "outputs", "batching", "explain", "allow_non_finite")
    assert {k: v2[k] for k in same} == {k: v1[k] for k in same}
    assert set(v2["artifacts"]) == {"model.onnx", "background.npy"}
    for name, entry in v2["artifacts"].items():
        data = (repository / NAME / "2" / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert v2["artifacts"]["model.onnx"] != v1["artifacts"]["model.onnx"]
    # the explainer background is the same training sample, so explanations stay comparable
    assert v2["artifacts"]["background.npy"] == v1["artifacts"]["background.npy"]


def test_card_states_the_mitigation_and_compares_with_version_1(repository: Path) -> None:
    # Given both cards
    v1, v2 = _manifest(repository, "1")["card"], _manifest(repository, "2")["card"]
    mitigation = v2["fairness"]["mitigation"]
    # When the mitigation block is read
    # Then it names reweighing, its cell weights, and version 1's own card figures as "before"
    assert mitigation["method"] == "reweighing" and "Kamiran" in mitigation["reference"]
    assert "reweighing" in v2["description"] and "Reweighing" in v2["limitations"]
    assert mitigation["compared_with"] == f"{NAME}@1"
    assert mitigation["measured_on"] == v1["evaluation"]["split"] == v2["evaluation"]["split"]
    assert mitigation["before"] == tabular.comparison_figures(v1["evaluation"], v1["fairness"])
    assert mitigation["after"] == tabular.comparison_figures(v2["evaluation"], v2["fairness"])
    assert set(mitigation["weights"]) == {f"group={g},label={y}" for g in (0, 1) for y in (0, 1)}
    # group 1 was approved less often historically, so its approvals weigh more and its denials less
    assert mitigation["weights"]["group=1,label=1"] > 1.0 > mitigation["weights"]["group=1,label=0"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_card_figures_match_a_recomputation_on_the_held_out_rows(repository: Path, version: str) -> None:
    # Given the held-out rows regenerated from the seed and the shipped graph
    held_out = tabular.held_out()
    card = _manifest(repository, version)["card"]
    assert len(held_out.labels) == card["evaluation"]["n_test"]
    # When the figures are recomputed with Fairlearn and scikit-learn
    figures = _figures(repository, version, held_out)
    stated = tabular.comparison_figures(card["evaluation"], card["fairness"])
    # Then they agree with the card (rounded to 4 digits there)
    assert stated["roc_auc"] == pytest.approx(figures["roc_auc"], abs=1e-4)
    for key in (
        "accuracy",
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equal_opportunity_difference",
    ):
        assert stated[key] == pytest.approx(figures[key], abs=RATE_TOLERANCE), key
    assert abs(stated["demographic_parity_difference"]) == pytest.approx(
        figures["demographic_parity_abs"], abs=RATE_TOLERANCE
    )


def test_reweighing_brings_demographic_parity_closer_at_a_small_accuracy_cost(repository: Path) -> None:
    # Given both shipped graphs scored on the same held-out rows
    held_out = tabular.held_out()
    before, after = _figures(repository, "1", held_out), _figures(repository, "2", held_out)
    # When their figures are compared
    # Then version 2 is closer to parity (and passes the four-fifths rule) and to equal opportunity,
    # and loses little accuracy or ranking quality
    assert before["demographic_parity_ratio"] < 0.8 <= after["demographic_parity_ratio"] <= 1.0
    assert after["demographic_parity_abs"] < before["demographic_parity_abs"]
    assert abs(after["equal_opportunity_difference"]) < abs(before["equal_opportunity_difference"])
    assert before["accuracy"] - after["accuracy"] < 0.03
    assert before["roc_auc"] - after["roc_auc"] < 0.02


def test_reweighing_weights_make_group_and_label_independent() -> None:
    # Given training rows whose approval rate differs by group
    rng = np.random.default_rng(3)
    data = tabular.synthesize(4000, rng)
    group = data.features[:, tabular.FEATURE_NAMES.index("group")]
    assert abs(data.labels[group == 0].mean() - data.labels[group == 1].mean()) > 0.05
    # When they are reweighed
    weights, cells = tabular.reweighing_weights(data)
    # Then each group's weighted approval rate is the overall rate and the total weight is kept
    overall = data.labels.mean()
    for g in (0, 1):
        in_group = group == g
        weighted = (weights[in_group] * data.labels[in_group]).sum() / weights[in_group].sum()
        assert weighted == pytest.approx(overall, abs=1e-12)
        assert weights[in_group].sum() == pytest.approx(in_group.sum(), rel=1e-12)
    assert sorted(set(np.round(weights, 4).tolist())) == sorted(cells.values())
