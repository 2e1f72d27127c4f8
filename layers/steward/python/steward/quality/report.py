"""The quality section of the scheduled report: per tenant and model version, the counters of the
look-back period merged, metrics, the version's thresholds and breaches, and its HTML.

The report run (`steward.fairness.report_publisher`) adds the section to the rolling report of
each tenant with labelled rows (writing a report for a tenant without fairness counters too),
publishes `metric_values` per tenant/model/version and counts breaches fleet-wide
(``QualityThresholdBreaches``, the metric the alarm watches).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from steward.fairness.monitor import threshold_of, window_of
from steward.quality.monitor import QualityCounts, QualityStore, merged, quality_metrics, thresholds_of

#: Section key -> CloudWatch metric name (namespace Steward, dimensions tenant/model/version).
CLOUDWATCH_METRICS = {"accuracy": "Accuracy", "f1": "F1", "roc_auc": "RocAuc", "brier": "Brier"}
BREACHES_METRIC = "QualityThresholdBreaches"

DEFINITIONS = {
    "source": (
        "scikit-learn's definitions (accuracy_score, precision_score, recall_score, f1_score, "
        "roc_auc_score, brier_score_loss) with class 1 positive, at the card's decision threshold, "
        "from aggregate counters of the rows whose ground truth arrived (POST /v1/feedback)."
    ),
    "roc_auc": "From 2000-bin score histograms per label; roc_auc_max_error bounds the difference.",
    "breaches": "A metric below its minimum once at least min_samples labelled rows back it.",
}


class QualityReporter:
    """Builds quality sections from the counters, with each version's card thresholds."""

    def __init__(
        self, store: QualityStore, cards: Mapping[tuple[str, str], Mapping[str, Any]], *, lookback_days: int
    ) -> None:
        self._store = store
        self._cards = cards
        self._days = lookback_days

    def sections(self, model: str, version: str, now: float) -> dict[str, dict[str, Any]]:
        """Tenant -> quality section, for tenants with labelled rows in the look-back period."""
        first, last = window_of(now - (self._days - 1) * 86_400), window_of(now)
        card = self._cards.get((model, version), {})
        per_tenant: dict[str, list[QualityCounts]] = {}
        for found in self._store.quality_counts(model, version, first_window=first, last_window=last):
            per_tenant.setdefault(found.tenant_id, []).append(found)
        out: dict[str, dict[str, Any]] = {}
        for tenant_id, rows in sorted(per_tenant.items()):
            quality, other, windows = merged(rows, threshold_of(card))
            if not quality.n:
                continue
            out[tenant_id] = {
                **quality_metrics(quality, thresholds_of(card)),
                "positive_class": 1,
                "windows_included": windows,
                "rows_at_other_thresholds": other,
                "definitions": DEFINITIONS,
                "counters": quality.to_dict(),
            }
        return out


def metric_values(section: Mapping[str, Any]) -> dict[str, float]:
    """CloudWatch metric name -> value; undefined metrics are left out, not sent as 0."""
    values = {}
    for key, name in CLOUDWATCH_METRICS.items():
        value = section.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = float(value)
    return values


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def quality_html(section: Mapping[str, Any] | None) -> str:
    """The report page's quality section (every value escaped); empty without labelled rows."""
    if not section:
        return ""
    e = html.escape
    parts = [
        "<h2>Quality (ground truth)</h2>",
        f"<p>{e(_fmt(section.get('n')))} labelled rows at threshold {e(_fmt(section.get('threshold')))} "
        f"over {e(', '.join(section.get('windows_included') or []))}.</p>",
    ]
    found = section.get("breaches") or []
    if found:
        listed = ", ".join(f"{b['metric']} {_fmt(b['value'])} &lt; {_fmt(b['threshold'])}" for b in found)
        parts.append(f'<p class="flag">Quality thresholds breached: {listed}.</p>')
    else:
        parts.append('<p class="ok">No quality threshold breached.</p>')
    parts.append("<table><tr><th>metric</th><th>value</th></tr>")
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "brier", "ece"):
        parts.append(f"<tr><td>{e(key)}</td><td>{e(_fmt(section.get(key)))}</td></tr>")
    parts.append(
        "</table><table><tr><th>score bin</th><th>rows</th><th>mean score</th><th>positive rate</th></tr>"
    )
    for b in section.get("reliability") or []:
        parts.append(
            f"<tr><td>{e(_fmt(b.get('lower')))}-{e(_fmt(b.get('upper')))}</td><td>{e(_fmt(b.get('count')))}</td>"
            f"<td>{e(_fmt(b.get('mean_score')))}</td><td>{e(_fmt(b.get('positive_rate')))}</td></tr>"
        )
    parts.append("</table>")
    return "\n".join(parts)
