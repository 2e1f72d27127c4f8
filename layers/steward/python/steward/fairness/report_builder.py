"""Fairness report documents: one tenant, one model version, one window, from counters only.

The JSON document is what the report Lambda stores in S3 next to its HTML rendering
(`steward.fairness.report_html`), what the latest-report summary on the model card is cut from, and
where the CloudWatch metric values come from. It states the definitions it uses (Fairlearn's),
so a reader does not have to guess what "ratio" means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from steward.fairness.counters import FairnessCounters
from steward.fairness.metrics import FOUR_FIFTHS, Z_95, report_from_counters

REPORT_SCHEMA_VERSION = 1
ROLLING_PREFIX = "rolling-"

DEFINITIONS: dict[str, str] = {
    "source": (
        "Metrics follow Fairlearn's definitions (fairlearn.metrics, version 0.15: MetricFrame with "
        "selection_rate, true_positive_rate and false_positive_rate; demographic_parity_difference/"
        "ratio and equalized_odds_difference/ratio with method='between_groups', agg='worst_case'), "
        "computed from aggregate counters; results equal Fairlearn's on the same records."
    ),
    "selection_rate": "Share of outcomes predicted positive (favourable) in the group.",
    "true_positive_rate": "Among labelled outcomes with label 1, the share predicted 1.",
    "false_positive_rate": "Among labelled outcomes with label 0, the share predicted 1.",
    "demographic_parity_difference": "max over groups of selection rate minus min over groups.",
    "demographic_parity_ratio": "min over groups of selection rate divided by max over groups.",
    "equalized_odds_difference": "The larger of the TPR difference and the FPR difference.",
    "equalized_odds_ratio": "The smaller of the TPR ratio and the FPR ratio.",
    "four_fifths_rule": (
        "Flagged when the demographic parity ratio is below 0.8 (EEOC adverse-impact rule of thumb)."
    ),
    "confidence_intervals": (
        f"95% Wilson score intervals per group rate (z = {Z_95:.4f}); (0, 1) when a rate has no trials."
    ),
    "unknown_labels": (
        "Outcomes whose ground truth has not arrived count for the selection rate only, not for "
        "TPR/FPR; a group without any label has TPR/FPR null."
    ),
}

#: Report key -> CloudWatch metric name (namespace Steward, dimensions model/version).
CLOUDWATCH_METRICS: dict[str, str] = {
    "demographic_parity_difference": "DemographicParityDifference",
    "demographic_parity_ratio": "DemographicParityRatio",
    "equalized_odds_difference": "EqualizedOddsDifference",
    "equalized_odds_ratio": "EqualizedOddsRatio",
    "true_positive_rate_difference": "TruePositiveRateDifference",
    "false_positive_rate_difference": "FalsePositiveRateDifference",
}


def rolling_window(days: int) -> str:
    return f"{ROLLING_PREFIX}{days}d"


def merge_windows(windows: Mapping[str, FairnessCounters], names: Iterable[str]) -> FairnessCounters:
    merged = FairnessCounters()
    for name in names:
        if name in windows:
            merged = merged.merge(windows[name])
    return merged


def build_report(
    model: str,
    version: str,
    window: str,
    counters: FairnessCounters,
    *,
    generated_at: str,
    tenant_id: str = "",
    unknown_groups: int = 0,
    windows_included: Iterable[str] = (),
    dp_ratio_threshold: float = FOUR_FIFTHS,
) -> dict[str, Any]:
    """The JSON report (NaN written as null); ``unknown_groups`` counts refused undeclared values."""
    computed = report_from_counters(counters).to_dict()
    groups = computed.pop("groups")
    ratio = computed["demographic_parity_ratio"]
    breaches = []
    if ratio is not None and ratio < dp_ratio_threshold:
        breaches.append(
            {"metric": "demographic_parity_ratio", "value": ratio, "threshold": dp_ratio_threshold}
        )
    labelled = sum(int(g["labelled"]) for g in groups.values())
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": "steward.fairness.report",
        "tenant_id": tenant_id,
        "model": model,
        "version": version,
        "window": window,
        "windows_included": sorted(windows_included) or [window],
        "generated_at": generated_at,
        "favourable_prediction": 1,
        "totals": {
            "outcomes": counters.total(),
            "labelled": labelled,
            "groups": len(groups),
            "unknown_group_refusals": unknown_groups,
        },
        "groups": groups,
        "metrics": computed,
        "four_fifths_rule": {
            "threshold": FOUR_FIFTHS,
            "demographic_parity_ratio": ratio,
            "violated": bool(computed["four_fifths_rule_violated"]),
        },
        "thresholds": {"demographic_parity_ratio_min": dp_ratio_threshold},
        "breaches": breaches,
        "definitions": DEFINITIONS,
        "privacy": (
            "Computed from aggregate counters per group; no per-record data is stored or shown. Groups "
            "are stored as keyed hashes and named here by the labels the tenant declared."
        ),
        "counters": counters.to_dict(),
    }


def metric_values(report: Mapping[str, Any]) -> dict[str, float]:
    """CloudWatch metric name -> value; undefined (null) metrics are left out, not sent as 0."""
    values: dict[str, float] = {}
    metrics = report.get("metrics") or {}
    for key, name in CLOUDWATCH_METRICS.items():
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values[name] = float(value)
    values["FourFifthsRuleViolated"] = 1.0 if report.get("four_fifths_rule", {}).get("violated") else 0.0
    values["Outcomes"] = float(report.get("totals", {}).get("outcomes", 0))
    values["LabelledOutcomes"] = float(report.get("totals", {}).get("labelled", 0))
    values["UnknownGroupRefusals"] = float(report.get("totals", {}).get("unknown_group_refusals", 0))
    return values


def summary(report: Mapping[str, Any], *, json_key: str = "", html_key: str = "") -> dict[str, Any]:
    """The short form shown on the model card: window, headline metrics, per-group rates."""
    metrics = report.get("metrics") or {}
    groups = report.get("groups") or {}
    out: dict[str, Any] = {
        "window": report.get("window"),
        "generated_at": report.get("generated_at"),
        "outcomes": report.get("totals", {}).get("outcomes"),
        "unknown_group_refusals": report.get("totals", {}).get("unknown_group_refusals"),
        "demographic_parity_difference": metrics.get("demographic_parity_difference"),
        "demographic_parity_ratio": metrics.get("demographic_parity_ratio"),
        "equalized_odds_difference": metrics.get("equalized_odds_difference"),
        "equalized_odds_ratio": metrics.get("equalized_odds_ratio"),
        "four_fifths_rule_violated": report.get("four_fifths_rule", {}).get("violated"),
        "groups": {
            name: {
                "count": g.get("count"),
                "selection_rate": g.get("selection_rate"),
                "true_positive_rate": g.get("true_positive_rate"),
                "false_positive_rate": g.get("false_positive_rate"),
            }
            for name, g in groups.items()
        },
        "definitions": "Fairlearn definitions (see the full report)",
    }
    if json_key:
        out["report_json"] = json_key
    if html_key:
        out["report_html"] = html_key
    return out
