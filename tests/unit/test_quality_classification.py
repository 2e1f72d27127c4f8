"""ClassifierQuality agrees with scikit-learn on the same observations, merges and round-trips."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from steward.quality.classification import AUC_BINS, RELIABILITY_BINS, ClassifierQuality

EXACT = 1e-12


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores that carry signal, with exact 0.0 / 1.0 and repeated values mixed in."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.22), 0.0, 1.0)
    scores[rng.random(n) < 0.05] = 0.5  # ties at the threshold
    return scores, labels


def _assert_matches_sklearn(
    quality: ClassifierQuality, scores: np.ndarray, labels: np.ndarray, t: float
) -> None:
    predictions = (scores >= t).astype(int)
    m = quality.metrics()
    assert m["n"] == len(labels)
    assert m["threshold"] == t
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, predictions), rel=EXACT)
    for ours, theirs in (
        (m["precision"], precision_score(labels, predictions, zero_division=np.nan)),
        (m["recall"], recall_score(labels, predictions, zero_division=np.nan)),
        (m["f1"], f1_score(labels, predictions, zero_division=np.nan)),
    ):
        if math.isnan(theirs):
            assert ours is None
        else:
            assert ours == pytest.approx(theirs, rel=EXACT)
    assert m["brier"] == pytest.approx(brier_score_loss(labels, scores), rel=EXACT, abs=1e-15)
    if len(set(labels.tolist())) == 2:
        exact_auc = roc_auc_score(labels, scores)
        assert abs(m["roc_auc"] - exact_auc) <= m["roc_auc_max_error"] + 1e-12
        assert abs(m["roc_auc"] - exact_auc) < 0.005
    else:
        assert m["roc_auc"] is None and m["roc_auc_max_error"] is None


@pytest.mark.parametrize("n", [1, 2, 10, 1000, 100_000])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_metrics_equal_sklearn(n: int, threshold: float) -> None:
    scores, labels = _data(n, seed=n)
    quality = ClassifierQuality.from_observations(scores.tolist(), labels.tolist(), threshold)
    _assert_matches_sklearn(quality, scores, labels, threshold)


def test_one_million_rows_equal_sklearn_and_merge_exactly() -> None:
    scores, labels = _data(1_000_000, seed=7)
    s, y = scores.tolist(), labels.tolist()
    half = len(s) // 2
    first = ClassifierQuality.from_observations(s[:half], y[:half])
    second = ClassifierQuality.from_observations(s[half:], y[half:])
    whole = first.merge(second)
    _assert_matches_sklearn(whole, scores, labels, 0.5)
    assert whole.metrics()["roc_auc_max_error"] < 0.005  # the documented bound, not only the observed error
    restored = ClassifierQuality.from_dict(json.loads(json.dumps(whole.to_dict())))
    assert restored == whole
    assert restored.metrics() == whole.metrics()


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_merge_of_halves_equals_whole(n: int) -> None:
    scores, labels = _data(n, seed=100 + n)
    s, y = scores.tolist(), labels.tolist()
    whole = ClassifierQuality.from_observations(s, y, 0.4)
    a = ClassifierQuality.from_observations(s[: n // 3], y[: n // 3], 0.4)
    b = ClassifierQuality.from_observations(s[n // 3 :], y[n // 3 :], 0.4)
    assert a + b == whole
    assert (b + a).to_dict() == whole.to_dict()
    assert (a + b).metrics() == whole.metrics()  # exact, not approximate: integer state
    assert a.n == n // 3  # inputs unchanged


def test_round_trip_is_json_and_dynamodb_safe() -> None:
    scores, labels = _data(1000, seed=3)
    quality = ClassifierQuality.from_observations(scores.tolist(), labels.tolist(), 0.35)
    data = quality.to_dict()
    text = json.dumps(data)

    def leaves(value: object) -> list[object]:
        if isinstance(value, dict):
            return [leaf for v in value.values() for leaf in leaves(v)]
        if isinstance(value, list):
            return [leaf for v in value for leaf in leaves(v)]
        return [value]

    assert all(isinstance(leaf, int | str) for leaf in leaves(data))  # no float for DynamoDB
    assert all(abs(leaf) < 10**38 for leaf in leaves(data) if isinstance(leaf, int))
    assert ClassifierQuality.from_dict(json.loads(text)) == quality
    # DynamoDB hands numbers back as Decimal.
    as_dynamodb = json.loads(text, parse_int=Decimal)
    restored = ClassifierQuality.from_dict(as_dynamodb)
    assert restored == quality and restored.metrics() == quality.metrics()
    assert restored.threshold == 0.35


def test_reliability_bins() -> None:
    scores = [0.05, 0.05, 0.15, 0.95, 1.0, 0.99]
    labels = [0, 1, 0, 1, 1, 0]
    m = ClassifierQuality.from_observations(scores, labels).metrics()
    bins = m["reliability"]
    assert len(bins) == RELIABILITY_BINS
    assert bins[0] == {"lower": 0.0, "upper": 0.1, "count": 2, "mean_score": 0.05, "positive_rate": 0.5}
    assert bins[1]["count"] == 1 and bins[1]["positive_rate"] == 0.0
    assert bins[9]["count"] == 3
    assert bins[9]["mean_score"] == pytest.approx((0.95 + 1.0 + 0.99) / 3, rel=EXACT)
    assert bins[9]["positive_rate"] == pytest.approx(2 / 3, rel=EXACT)
    assert bins[5] == {"lower": 0.5, "upper": 0.6, "count": 0, "mean_score": None, "positive_rate": None}
    expected_ece = (2 * abs(0.05 - 0.5) + abs(0.15 - 0) + 3 * abs((0.95 + 1.0 + 0.99) / 3 - 2 / 3)) / 6
    assert m["ece"] == pytest.approx(expected_ece, rel=EXACT)


def test_undefined_metrics_are_none() -> None:
    empty = ClassifierQuality().metrics()
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "brier", "ece"):
        assert empty[key] is None, key
    assert empty["n"] == 0

    negatives_only = ClassifierQuality.from_observations([0.1, 0.2], [0, 0]).metrics()
    assert negatives_only["accuracy"] == 1.0
    assert negatives_only["precision"] is None  # nothing predicted positive
    assert negatives_only["recall"] is None  # no positive
    assert negatives_only["f1"] is None
    assert negatives_only["roc_auc"] is None

    missed = ClassifierQuality.from_observations([0.1, 0.2], [1, 0]).metrics()
    assert missed["precision"] is None and missed["recall"] == 0.0 and missed["f1"] == 0.0
    assert missed["roc_auc"] == 0.0
    assert not any(isinstance(v, float) and math.isnan(v) for v in missed.values())


def test_auc_of_identical_bins_is_a_tie_and_the_bound_says_so() -> None:
    quality = ClassifierQuality.from_observations([0.5, 0.5], [0, 1])
    m = quality.metrics()
    assert m["roc_auc"] == 0.5 and m["roc_auc_max_error"] == 0.5
    assert len(quality.histogram[0]) == 1 and max(quality.histogram[0]) < AUC_BINS


@pytest.mark.parametrize(
    ("score", "label", "message"),
    [
        (1.5, 1, "score"),
        (-0.01, 0, "score"),
        (float("nan"), 0, "score"),
        ("0.5", 0, "score"),
        (True, 0, "score"),
        (0.5, 2, "label"),
        (0.5, -1, "label"),
        (0.5, 0.5, "label"),
        (0.5, "1", "label"),
        (0.5, None, "label"),
    ],
)
def test_bad_observations_raise(score: object, label: object, message: str) -> None:
    quality = ClassifierQuality()
    with pytest.raises(ValueError, match=message):
        quality.add(score, label)
    assert quality.n == 0


def test_a_bad_row_counts_nothing_of_its_batch() -> None:
    quality = ClassifierQuality()
    with pytest.raises(ValueError, match="score"):
        quality.add_many([0.2, 0.3, 7.0], [0, 1, 1])
    assert quality.n == 0 and quality.brier_sum == 0
    with pytest.raises(ValueError, match="differ in length"):
        quality.add_many([0.2], [0, 1])


@pytest.mark.parametrize("threshold", [0, 0.0, -0.1, 1.01, float("nan"), True, "x", None])
def test_bad_thresholds_raise(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        ClassifierQuality.from_observations([0.5], [1], threshold)


def test_threshold_one_predicts_only_certain_scores() -> None:
    m = ClassifierQuality.from_observations([1.0, 0.999, 0.2], [1, 1, 0], threshold=1).metrics()
    assert m["recall"] == 0.5 and m["precision"] == 1.0


def test_merge_refuses_different_thresholds() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        ClassifierQuality(threshold=0.5).merge(ClassifierQuality(threshold=0.6))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(schema_version=2),
        lambda d: d.update(auc_bins=1000),
        lambda d: d["confusion"].update(tp=-1),
        lambda d: d["confusion"].update(tp=1.5),
        lambda d: d["histogram"]["1"].update({str(AUC_BINS): 1}),
        lambda d: d["histogram"].update({"2": {}}),
        lambda d: d.update(brier_sum="x"),
        lambda d: d["reliability"].update(count=[0]),
        lambda d: d["confusion"].update(tn=d["confusion"]["tn"] + 1),  # totals disagree
        lambda d: d.update(threshold="0"),
    ],
)
def test_from_dict_rejects_corrupt_state(mutate: object) -> None:
    data = ClassifierQuality.from_observations([0.2, 0.8, 0.6], [0, 1, 0]).to_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValueError):
        ClassifierQuality.from_dict(data)


def test_package_imports_no_numerical_library() -> None:
    code = "import sys, steward.quality; print(sorted({'numpy', 'scipy', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_numpy_scalars_and_decimals_are_accepted() -> None:
    quality = ClassifierQuality.from_observations(
        [np.float32(0.25), np.float64(0.75), Decimal("0.5"), 1], [np.int64(0), 1, Decimal(1), True]
    )
    assert quality.n == 4 and quality.tp == 3 and quality.tn == 1
