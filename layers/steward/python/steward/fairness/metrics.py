"""Group fairness metrics computed from `FairnessCounters` alone, with Fairlearn's definitions.

Pure Python (this runs in Lambda). Numbers match Fairlearn 0.15 (``MetricFrame`` with
``selection_rate`` / ``true_positive_rate`` / ``false_positive_rate``,
``demographic_parity_difference/ratio`` and ``equalized_odds_difference/ratio`` with the default
``method="between_groups"``, ``agg="worst_case"``), including its edge cases:

* A group with no outcomes does not exist (Fairlearn drops unobserved categories).
* A group with labelled outcomes but no positives has TPR 0.0, one with no negatives FPR 0.0
  (Fairlearn normalises scikit-learn's confusion matrix and turns 0/0 into 0). Their Wilson
  intervals are (0, 1): the rate is unknown, and the report says so through ``positives`` /
  ``negatives`` and the interval rather than through the point value.
* Difference = max - min over groups; ratio = min / max, which is NaN when max is 0 (0/0).
* Equalized odds takes ``max(tpr_diff, fpr_diff)`` / ``min(tpr_ratio, fpr_ratio)`` with Python's
  ``max``/``min`` over (TPR, FPR) in that order, as Fairlearn does: a NaN TPR ratio gives NaN, a
  NaN FPR ratio gives the TPR ratio.

Steward's extension: outcomes whose ground truth has not arrived (label None) count for the
selection rate but not for TPR/FPR. A group with no labelled outcome has TPR/FPR NaN (undefined),
and NaN group rates are skipped by min/max (pandas' skipna, i.e. the same as leaving the group out
of Fairlearn's input for those metrics). With no group at all every aggregate is NaN.
``to_dict`` writes NaN as null (JSON has no NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from steward.fairness.counters import FairnessCounters

#: Two-sided 95% standard normal quantile (Phi^-1(0.975)).
Z_95 = 1.959963984540054
#: The EEOC "four-fifths rule": a selection-rate ratio below this flags adverse impact.
FOUR_FIFTHS = 0.8

Interval = tuple[float, float]


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials.

    Preferred over the normal (Wald) interval because it stays inside [0, 1] and keeps its
    coverage for small groups and rates near 0 or 1, which is where fairness problems hide.
    """
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)) / denominator
    # At k = 0 and k = n the interval touches 0 or 1 exactly; rounding must not open a gap there.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True)
class GroupRates:
    """Per-group counts and rates; ``labelled`` excludes outcomes whose label is unknown."""

    count: int
    labelled: int
    selected: int
    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float
    selection_rate_ci: Interval
    true_positive_rate_ci: Interval
    false_positive_rate_ci: Interval


@dataclass(frozen=True)
class FairnessReport:
    groups: dict[str, GroupRates]
    demographic_parity_difference: float
    demographic_parity_ratio: float
    true_positive_rate_difference: float
    true_positive_rate_ratio: float
    false_positive_rate_difference: float
    false_positive_rate_ratio: float
    equalized_odds_difference: float
    equalized_odds_ratio: float
    four_fifths_rule_violated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None, intervals become ``[low, high]``."""
        out: dict[str, Any] = {
            "groups": {
                name: {key: _json_value(value) for key, value in vars(rates).items()}
                for name, rates in self.groups.items()
            }
        }
        for key, value in vars(self).items():
            if key != "groups":
                out[key] = _json_value(value)
        return out


def metrics(
    y_true: Sequence[object | None], y_pred: Sequence[object], sensitive: Sequence[object]
) -> FairnessReport:
    """Fairness report for raw aligned sequences (binary 0/1; ``y_true`` entries may be None)."""
    return report_from_counters(FairnessCounters.from_records(sensitive, y_pred, y_true))


def report_from_counters(counters: FairnessCounters) -> FairnessReport:
    """All metrics from the aggregate counters only (what is stored per window)."""
    groups = {name: _group_rates(counters, name) for name in counters.groups()}
    selection = [g.selection_rate for g in groups.values()]
    tpr = [g.true_positive_rate for g in groups.values()]
    fpr = [g.false_positive_rate for g in groups.values()]
    dp_ratio = _ratio(selection)
    tpr_diff, fpr_diff = _difference(tpr), _difference(fpr)
    tpr_ratio, fpr_ratio = _ratio(tpr), _ratio(fpr)
    return FairnessReport(
        groups=groups,
        demographic_parity_difference=_difference(selection),
        demographic_parity_ratio=dp_ratio,
        true_positive_rate_difference=tpr_diff,
        true_positive_rate_ratio=tpr_ratio,
        false_positive_rate_difference=fpr_diff,
        false_positive_rate_ratio=fpr_ratio,
        equalized_odds_difference=max(tpr_diff, fpr_diff),
        equalized_odds_ratio=min(tpr_ratio, fpr_ratio),
        four_fifths_rule_violated=dp_ratio < FOUR_FIFTHS,  # NaN (nobody selected) is not flagged
    )


def _group_rates(counters: FairnessCounters, group: str) -> GroupRates:
    def n(prediction: int, label: int | None) -> int:
        return counters.get(group, prediction, label)

    tp, fp, fn, tn = n(1, 1), n(1, 0), n(0, 1), n(0, 0)
    selected = tp + fp + n(1, None)
    count = selected + fn + tn + n(0, None)
    positives, negatives = tp + fn, fp + tn
    labelled = positives + negatives
    return GroupRates(
        count=count,
        labelled=labelled,
        selected=selected,
        positives=positives,
        negatives=negatives,
        true_positives=tp,
        false_positives=fp,
        selection_rate=selected / count,
        true_positive_rate=_labelled_rate(tp, positives, labelled),
        false_positive_rate=_labelled_rate(fp, negatives, labelled),
        selection_rate_ci=wilson_interval(selected, count),
        true_positive_rate_ci=wilson_interval(tp, positives),
        false_positive_rate_ci=wilson_interval(fp, negatives),
    )


def _labelled_rate(hits: int, trials: int, labelled: int) -> float:
    """Fairlearn's 0/0 -> 0 within a labelled group; NaN when the group has no label at all."""
    if trials:
        return hits / trials
    return 0.0 if labelled else math.nan


def _defined(values: Iterable[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def _difference(values: Iterable[float]) -> float:
    defined = _defined(values)
    return max(defined) - min(defined) if defined else math.nan


def _ratio(values: Iterable[float]) -> float:
    defined = _defined(values)
    if not defined:
        return math.nan
    low, high = min(defined), max(defined)
    return low / high if high else math.nan  # 0/0, as pandas' float division gives


def _json_value(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value
