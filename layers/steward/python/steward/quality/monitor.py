"""Quality monitoring from ground truth: labelled predictions of classifiers, as counters.

Every prediction of a classifier with a class-probability output leaves a pending join (see
`steward.fairness.monitor`: one item per request, the positive-class score and decision of each
row, no input). ``POST /v1/feedback`` turns the rows into a `ClassifierQuality` delta
(`labelled_quality`) that the store adds, atomically, to one counter per (model, version, tenant,
UTC day, decision threshold). Reading merges the days asked for (`merged`) and compares the
metrics with the version's thresholds (`QualityThresholds`, `breaches`).

Thresholds follow SageMaker Model Monitor's model-quality defaults for binary classifiers in
spirit: a breach is F1 below 0.70, accuracy below 0.80 or ROC AUC below 0.75, and it only counts
once at least ``min_samples`` (50) labelled rows back the metric, so a handful of early labels
can't raise an alarm. A version's card overrides them under
``monitoring.quality_thresholds`` (``{"f1": 0.7, "accuracy": 0.8, "roc_auc": 0.75,
"min_samples": 50}``, any subset); a value that is not a number in [0, 1] (an integer >= 1 for
``min_samples``) is ignored and the default applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from steward.quality.classification import ClassifierQuality

#: Metric -> default minimum (a value below it is a breach).
DEFAULT_MINIMUMS: dict[str, float] = {"f1": 0.70, "accuracy": 0.80, "roc_auc": 0.75}
DEFAULT_MIN_SAMPLES = 50
MONITORING_FIELD = "monitoring"
THRESHOLDS_FIELD = "quality_thresholds"
#: Days the quality route merges by default, and at most.
DEFAULT_DAYS = 30
MAX_DAYS = 90


@dataclass(frozen=True)
class QualityCounts:
    """One stored counter: a tenant's labelled rows of one model version on one UTC day."""

    tenant_id: str
    window: str
    quality: ClassifierQuality


@runtime_checkable
class QualityStore(Protocol):
    """Reads the quality counters (`steward.adapters.quality_store` in DynamoDB)."""

    def quality_counts(
        self,
        model: str,
        version: str,
        *,
        first_window: str,
        last_window: str,
        tenant_id: str | None = None,
        threshold: float | None = None,
    ) -> list[QualityCounts]:
        """Counters of windows ``first_window..last_window`` (inclusive), of one tenant or all,
        at one decision threshold or all (the request path reads one tenant at one threshold:
        key lookups only, never another tenant's items)."""
        ...


@dataclass(frozen=True)
class QualityThresholds:
    """Minimum acceptable metric values and the labelled rows needed before a breach counts."""

    minimums: Mapping[str, float]
    min_samples: int = DEFAULT_MIN_SAMPLES

    def view(self) -> dict[str, Any]:
        return {
            **{f"{metric}_min": value for metric, value in self.minimums.items()},
            "min_samples": self.min_samples,
        }


def thresholds_of(card: Mapping[str, Any]) -> QualityThresholds:
    """The card's ``monitoring.quality_thresholds`` over the defaults (invalid values ignored)."""
    monitoring = card.get(MONITORING_FIELD)
    raw = monitoring.get(THRESHOLDS_FIELD) if isinstance(monitoring, Mapping) else None
    overrides = raw if isinstance(raw, Mapping) else {}
    minimums = dict(DEFAULT_MINIMUMS)
    for metric in DEFAULT_MINIMUMS:
        value = _number(overrides.get(metric))
        if value is not None and 0.0 <= value <= 1.0:
            minimums[metric] = value
    samples = _number(overrides.get("min_samples"))
    min_samples = int(samples) if samples is not None and samples >= 1 and samples == int(samples) else None
    return QualityThresholds(minimums, min_samples or DEFAULT_MIN_SAMPLES)


def _number(value: object) -> float | None:
    """A finite JSON number (never a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def breaches(metrics: Mapping[str, Any], thresholds: QualityThresholds) -> list[dict[str, Any]]:
    """Metrics below their minimum, once ``n`` reaches ``min_samples``; undefined metrics never breach."""
    if int(metrics.get("n") or 0) < thresholds.min_samples:
        return []
    found = []
    for metric, minimum in thresholds.minimums.items():
        value = metrics.get(metric)
        if isinstance(value, float | int) and value < minimum:
            found.append({"metric": metric, "value": float(value), "threshold": minimum})
    return found


def labelled_quality(scores: Sequence[float], labels: Sequence[int], threshold: float) -> ClassifierQuality:
    """The counters one feedback adds: its rows' scores and labels at the decision threshold."""
    return ClassifierQuality.from_observations(scores, labels, threshold)


def merged(counts: Iterable[QualityCounts], threshold: float) -> tuple[ClassifierQuality, int, list[str]]:
    """Counters at ``threshold`` summed over windows: (sum, rows at other thresholds, windows).

    Counters are kept per decision threshold (a card may change it); only those at the version's
    current threshold are comparable, the others are counted and left out.
    """
    total = ClassifierQuality(threshold=threshold)
    other = 0
    windows: set[str] = set()
    for item in counts:
        if item.quality.threshold == total.threshold:
            total = total.merge(item.quality)
            windows.add(item.window)
        else:
            other += item.quality.n
    return total, other, sorted(windows)


def quality_metrics(quality: ClassifierQuality, thresholds: QualityThresholds) -> dict[str, Any]:
    """The metrics of ``quality``, its thresholds and breaches (class 1 positive)."""
    metrics = quality.metrics()
    return {
        **{k: metrics[k] for k in ("n", "threshold", "accuracy", "precision", "recall", "f1")},
        "roc_auc": metrics["roc_auc"],
        "roc_auc_max_error": metrics["roc_auc_max_error"],
        "brier": metrics["brier"],
        "ece": metrics["ece"],
        "reliability": metrics["reliability"],
        "thresholds": thresholds.view(),
        "breaches": breaches(metrics, thresholds),
    }
