"""Fairness counters and metrics: Fairlearn's numbers from counters only, merging, JSON, flags."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import warnings
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from steward.fairness import FairnessCounters, metrics, report_from_counters, wilson_interval
from steward.fairness.metrics import Z_95

Data = tuple[list[int], list[int], list[str]]


def random_groups(seed: int) -> Data:
    """2-6 groups of 1-40 rows; some groups lack a label class or a prediction class on purpose."""
    rng = random.Random(seed)
    y_true: list[int] = []
    y_pred: list[int] = []
    sensitive: list[str] = []
    kinds = ["mixed", "no_positives", "no_negatives", "never_selected", "always_selected", "single_row"]
    for g in range(rng.randint(2, 6)):
        kind = rng.choice(kinds)
        size = 1 if kind == "single_row" else rng.randint(2, 40)
        base_rate, select_rate = rng.random(), rng.random()
        for _ in range(size):
            label = int(rng.random() < base_rate)
            label = {"no_positives": 0, "no_negatives": 1}.get(kind, label)
            prediction = int(rng.random() < (0.8 * select_rate if label else select_rate))
            prediction = {"never_selected": 0, "always_selected": 1}.get(kind, prediction)
            y_true.append(label)
            y_pred.append(prediction)
            sensitive.append(f"g{g}")
    order = list(range(len(y_true)))
    rng.shuffle(order)
    return [y_true[i] for i in order], [y_pred[i] for i in order], [sensitive[i] for i in order]


@pytest.fixture(scope="module")
def fairlearn_metrics() -> ModuleType:
    import fairlearn.metrics

    return fairlearn.metrics


def close(ours: float, theirs: Any) -> bool:
    theirs = float(theirs)
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    return abs(ours - theirs) <= 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_matches_fairlearn_on_random_groups(fairlearn_metrics: ModuleType, seed: int) -> None:
    # Given seeded data with 2-6 groups, including empty-class and single-class groups
    fl = fairlearn_metrics
    y_true, y_pred, sensitive = random_groups(seed)

    # When Steward computes its report from counters and Fairlearn computes from the raw rows
    report = metrics(y_true, y_pred, sensitive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = fl.MetricFrame(
            metrics={
                "count": fl.count,
                "selection_rate": fl.selection_rate,
                "tpr": fl.true_positive_rate,
                "fpr": fl.false_positive_rate,
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=sensitive,
        )
        expected = {
            "demographic_parity_difference": fl.demographic_parity_difference,
            "demographic_parity_ratio": fl.demographic_parity_ratio,
            "equalized_odds_difference": fl.equalized_odds_difference,
            "equalized_odds_ratio": fl.equalized_odds_ratio,
        }
        expected_values = {
            name: fn(y_true, y_pred, sensitive_features=sensitive) for name, fn in expected.items()
        }

    # Then every per-group rate and every aggregate is the same to 1e-12 (NaN where Fairlearn has NaN)
    by_group = frame.by_group
    assert sorted(report.groups) == sorted(by_group.index)
    for name, rates in report.groups.items():
        assert rates.count == by_group.loc[name, "count"]
        assert close(rates.selection_rate, by_group.loc[name, "selection_rate"])
        assert close(rates.true_positive_rate, by_group.loc[name, "tpr"])
        assert close(rates.false_positive_rate, by_group.loc[name, "fpr"])
    for name, value in expected_values.items():
        assert close(getattr(report, name), value), (name, getattr(report, name), value)
    assert report.four_fifths_rule_violated == (expected_values["demographic_parity_ratio"] < 0.8)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("y_true", "y_pred", "sensitive"),
    [
        # nobody selected: selection-rate and TPR/FPR ratios are 0/0
        ([0, 1, 0, 1], [0, 0, 0, 0], ["a", "a", "b", "b"]),
        # no false positive anywhere (FPR ratio 0/0): Fairlearn's min() keeps the TPR ratio
        ([1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 1, 0], ["a", "a", "a", "b", "b", "b"]),
        # no true positive anywhere (TPR ratio 0/0): Fairlearn's min() gives NaN
        ([1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1], ["a", "a", "a", "b", "b", "b"]),
        # one group only
        ([1, 0, 1], [1, 1, 0], ["solo", "solo", "solo"]),
    ],
)
def test_nan_edge_cases_match_fairlearn(
    fairlearn_metrics: ModuleType, y_true: list[int], y_pred: list[int], sensitive: list[str]
) -> None:
    # Given data where some ratios are 0/0
    fl = fairlearn_metrics

    # When both compute the aggregates
    report = metrics(y_true, y_pred, sensitive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dpr = fl.demographic_parity_ratio(y_true, y_pred, sensitive_features=sensitive)
        eor = fl.equalized_odds_ratio(y_true, y_pred, sensitive_features=sensitive)
        eod = fl.equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive)

    # Then NaN appears exactly where Fairlearn has it
    assert close(report.demographic_parity_ratio, dpr)
    assert close(report.equalized_odds_ratio, eor)
    assert close(report.equalized_odds_difference, eod)


def test_hand_computed_report() -> None:
    # Given group a: TP, FP, TN, FN and group b: TP, TN, TN, TN
    y_true = [1, 0, 0, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 0, 0, 0]
    sensitive = ["a"] * 4 + ["b"] * 4

    # When the report is computed
    report = metrics(y_true, y_pred, sensitive)

    # Then rates, differences, ratios and the four-fifths flag follow the definitions
    a, b = report.groups["a"], report.groups["b"]
    assert (a.count, a.selection_rate, a.true_positive_rate, a.false_positive_rate) == (4, 0.5, 0.5, 0.5)
    assert (b.count, b.selection_rate, b.true_positive_rate, b.false_positive_rate) == (4, 0.25, 1.0, 0.0)
    assert report.demographic_parity_difference == 0.25
    assert report.demographic_parity_ratio == 0.5
    assert report.equalized_odds_difference == 0.5  # max(TPR diff 0.5, FPR diff 0.5)
    assert report.equalized_odds_ratio == 0.0  # min(TPR ratio 0.5, FPR ratio 0/0.5)
    assert report.four_fifths_rule_violated is True


def test_single_class_group_follows_fairlearn_zero_convention() -> None:
    # Given group b whose labels are all negative (no positives to compute a TPR from)
    report = metrics([1, 0, 0, 0], [1, 0, 1, 0], ["a", "a", "b", "b"])

    # When reading its rates
    b = report.groups["b"]

    # Then TPR is 0.0 as in Fairlearn, and the interval says it is unknown
    assert (b.positives, b.true_positive_rate, b.true_positive_rate_ci) == (0, 0.0, (0.0, 1.0))
    assert b.false_positive_rate == 0.5


def test_unknown_labels_count_for_selection_but_not_for_error_rates() -> None:
    # Given labelled outcomes plus some whose ground truth has not arrived (one group has none)
    y_true = [1, 0, None, None, 1, 0, None, None]
    y_pred = [1, 0, 1, 1, 0, 0, 1, 0]
    sensitive = ["a", "a", "a", "a", "b", "b", "b", "b"]
    y_true += [None, None]
    y_pred += [1, 0]
    sensitive += ["c", "c"]

    # When the report is computed
    report = metrics(y_true, y_pred, sensitive)

    # Then selection uses everything, TPR/FPR only labelled rows, and an unlabelled group is skipped
    a, c = report.groups["a"], report.groups["c"]
    assert (a.count, a.labelled, a.selection_rate, a.true_positive_rate) == (4, 2, 0.75, 1.0)
    assert c.labelled == 0 and math.isnan(c.true_positive_rate) and math.isnan(c.false_positive_rate)
    labelled_only = metrics([1, 0, 1, 0], [1, 0, 0, 0], ["a", "a", "b", "b"])
    assert report.true_positive_rate_difference == labelled_only.true_positive_rate_difference == 1.0
    assert report.equalized_odds_ratio == labelled_only.equalized_odds_ratio
    assert report.demographic_parity_difference == 0.75 - 0.25


def test_resolving_a_label_moves_one_outcome_out_of_unknown() -> None:
    # Given an outcome recorded before its ground truth was known
    counters = FairnessCounters()
    counters.add("a", 1)

    # When the label arrives
    counters.resolve_label("a", 1, 0)

    # Then it counts as a false positive and no unknown remains; resolving again is refused
    assert counters.get("a", 1, 0) == 1 and counters.get("a", 1, None) == 0
    assert report_from_counters(counters).groups["a"].false_positive_rate == 1.0
    with pytest.raises(ValueError, match="unknown label"):
        counters.resolve_label("a", 1, 0)


def test_merged_windows_equal_counting_everything_at_once() -> None:
    # Given the same records split into two windows
    y_true, y_pred, sensitive = random_groups(7)
    half = len(y_true) // 2
    first = FairnessCounters.from_records(sensitive[:half], y_pred[:half], y_true[:half])
    second = FairnessCounters.from_records(sensitive[half:], y_pred[half:], y_true[half:])
    before = first.to_dict()

    # When the windows are merged
    merged = first.merge(second)

    # Then they add up to the whole, give the same report, and the inputs are untouched
    whole = FairnessCounters.from_records(sensitive, y_pred, y_true)
    assert merged == whole and first + second == whole
    assert report_from_counters(merged) == metrics(y_true, y_pred, sensitive)
    assert first.to_dict() == before
    assert merged.total() == len(y_true)


def test_json_round_trip_including_dynamodb_decimals() -> None:
    # Given counters with known and unknown labels
    counters = FairnessCounters.from_records(["a", "a", "b"], [1, 0, 1], [1, None, 0])

    # When written to JSON and read back, and when read back from DynamoDB-style Decimals
    data = json.loads(json.dumps(counters.to_dict()))
    from_dynamo = {
        "schema_version": Decimal(1),
        "counts": {g: {k: Decimal(v) for k, v in cells.items()} for g, cells in data["counts"].items()},
    }

    # Then nothing is lost and the form is the documented one
    assert FairnessCounters.from_dict(data) == counters
    assert FairnessCounters.from_dict(from_dynamo) == counters
    assert data == {"schema_version": 1, "counts": {"a": {"1/1": 1, "0/-": 1}, "b": {"1/0": 1}}}


@pytest.mark.parametrize(
    "data",
    [
        {"schema_version": 2, "counts": {}},
        {"counts": {}},
        {"schema_version": 1, "counts": {"a": {"1/2": 1}}},
        {"schema_version": 1, "counts": {"a": {"1/1": -1}}},
        {"schema_version": 1, "counts": {"a": {"1/1": 1.5}}},
        {"schema_version": 1, "counts": {"a": {"1/1": True}}},
        {"schema_version": 1, "counts": {"a": {"1/1": float("nan")}}},
        {"schema_version": 1, "counts": [1]},
    ],
)
def test_malformed_stored_counters_are_refused(data: dict[str, Any]) -> None:
    # Given a stored item that is not a valid counter document
    # When / Then loading it fails loudly instead of producing wrong metrics
    with pytest.raises(ValueError):
        FairnessCounters.from_dict(data)


def test_non_binary_or_misaligned_inputs_are_refused() -> None:
    # Given predictions or labels outside {0, 1}, or sequences of different lengths
    # When / Then they are refused
    with pytest.raises(ValueError, match="prediction"):
        metrics([1], [2], ["a"])
    with pytest.raises(ValueError, match="label"):
        metrics([0.5], [1], ["a"])
    with pytest.raises(ValueError, match="length"):
        metrics([1, 0], [1], ["a"])


def test_four_fifths_flag_is_strictly_below_point_eight() -> None:
    # Given selection rates 0.5 vs 0.4 (ratio 0.8) and 0.5 vs 0.3 (ratio 0.6)
    def report(selected_b: int) -> Any:
        preds = [1] * 5 + [0] * 5 + [1] * selected_b + [0] * (10 - selected_b)
        return metrics([None] * 20, preds, ["a"] * 10 + ["b"] * 10)

    # When / Then only the ratio below 0.8 is flagged; nobody selected (NaN ratio) is not flagged
    assert (
        report(4).demographic_parity_ratio == pytest.approx(0.8) and not report(4).four_fifths_rule_violated
    )
    assert report(3).four_fifths_rule_violated
    nobody = metrics([None] * 4, [0] * 4, ["a", "a", "b", "b"])
    assert math.isnan(nobody.demographic_parity_ratio) and not nobody.four_fifths_rule_violated


def test_empty_input_has_no_groups_and_nan_aggregates() -> None:
    # Given a window with no traffic
    report = report_from_counters(FairnessCounters())

    # When / Then there are no groups, aggregates are NaN, nothing is flagged, and JSON has nulls
    assert report.groups == {}
    assert math.isnan(report.demographic_parity_difference) and math.isnan(report.equalized_odds_ratio)
    assert not report.four_fifths_rule_violated
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["equalized_odds_ratio"] is None


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 7), (1, 1), (450, 1000)])
def test_wilson_interval_endpoints_solve_the_score_equation(k: int, n: int) -> None:
    # Given an observed proportion k/n
    p_hat = k / n

    # When the 95% Wilson interval is computed
    low, high = wilson_interval(k, n)

    # Then it contains p_hat and each endpoint p solves (p_hat - p)^2 = z^2 p (1 - p) / n
    assert 0.0 <= low <= p_hat <= high <= 1.0
    for p in (low, high):
        assert (p_hat - p) ** 2 == pytest.approx(Z_95**2 * p * (1 - p) / n, abs=1e-12)
    assert wilson_interval(0, 10)[1] == pytest.approx(Z_95**2 / (10 + Z_95**2), abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_report_to_dict_is_strict_json() -> None:
    # Given a report with a NaN rate (group without labels)
    report = metrics([None, 1], [1, 1], ["a", "b"])

    # When serialised without allowing NaN
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    # Then NaN became null and intervals are lists
    assert data["groups"]["a"]["true_positive_rate"] is None
    assert data["groups"]["b"]["true_positive_rate_ci"] == list(wilson_interval(1, 1))


def test_fairness_package_does_not_import_numpy() -> None:
    # Given a fresh interpreter (this code runs in Lambda, where numpy is not on the path)
    code = "import sys, steward.fairness; sys.exit('numpy' in sys.modules or 'pandas' in sys.modules)"

    # When the package is imported
    result = subprocess.run([sys.executable, "-c", code], check=False)

    # Then neither numpy nor pandas was pulled in
    assert result.returncode == 0
