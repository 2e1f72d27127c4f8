"""The scheduled report's drift section: per tenant and drift-monitored model version, each day of
the look-back period and the whole period, as JSON and HTML next to the fairness reports.

The whole period (more rows, steadier bins) feeds the metrics: ``ShareDriftedFeatures`` and
``PredictionPSI`` per tenant/model/version, and the fleet-wide maxima the alarm watches, taken
only over periods with at least ``min_samples`` rows (`drift_monitor.MIN_SAMPLES`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from steward.catalog.registry import ModelVersion
from steward.fairness.report_builder import rolling_window
from steward.fairness.report_html import render_drift_html
from steward.fairness.report_publisher import PublishMetrics, ReportSink
from steward.quality.drift_monitor import (
    MIN_SAMPLES,
    DriftReference,
    DriftSketchStore,
    StoredSketch,
    drift_document,
    metric_values,
    window_of,
)

DRIFT_PREFIX = "reports/drift"


@dataclass
class DriftRunResult:
    reports: list[str] = field(default_factory=list)  # object keys written
    drifted: list[dict[str, Any]] = field(default_factory=list)  # judged periods that drifted
    model_versions: int = 0  # (tenant, model version) pairs reported
    max_share_drifted: float | None = None
    max_prediction_psi: float | None = None


def drift_key(tenant_id: str, model: str, version: str, window: str, extension: str) -> str:
    return f"{DRIFT_PREFIX}/{tenant_id}/{model}/{version}/{window}.{extension}"


def _max(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


def run_drift_reports(
    versions: Iterable[ModelVersion],
    store: DriftSketchStore,
    sink: ReportSink,
    publish: PublishMetrics,
    *,
    now: float,
    lookback_days: int = 7,
    min_samples: int = MIN_SAMPLES,
) -> DriftRunResult:
    """One drift report per tenant and monitored version with sketches in the look-back period."""
    generated_at = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    first, last = window_of(now - (lookback_days - 1) * 86_400), window_of(now)
    period = rolling_window(lookback_days)
    result = DriftRunResult()
    for mv in versions:
        if not mv.drift_profile:
            continue
        reference = DriftReference.from_dict(mv.drift_profile)
        per_tenant: dict[str, list[StoredSketch]] = {}
        for stored in store.sketches(mv.model, mv.version, first, last):
            per_tenant.setdefault(stored.tenant_id, []).append(stored)
        for tenant_id, stored_sketches in sorted(per_tenant.items()):
            document = drift_document(reference, stored_sketches, period=period, min_samples=min_samples)
            if not document["windows"]:
                continue
            result.model_versions += 1
            report = {
                "kind": "drift-report",
                "tenant_id": tenant_id,
                "model": mv.model,
                "version": mv.version,
                "window": period,
                "first_window": first,
                "last_window": last,
                "generated_at": generated_at,
                "drift": document,
            }
            result.reports.extend(_write(sink, report))
            values = metric_values(document["period"])
            if values:
                publish(tenant_id, mv.model, mv.version, values)
                result.max_share_drifted = _max(result.max_share_drifted, values.get("ShareDriftedFeatures"))
                result.max_prediction_psi = _max(result.max_prediction_psi, values.get("PredictionPSI"))
            if document["period"] and document["period"]["drifted"]:
                result.drifted.append(
                    {
                        "tenant_id": tenant_id,
                        "model": mv.model,
                        "version": mv.version,
                        "share_drifted": document["period"]["share_drifted"],
                        "prediction_psi": document["period"]["prediction_psi"],
                    }
                )
    return result


def _write(sink: ReportSink, report: Mapping[str, Any]) -> tuple[str, str]:
    args = (str(report["tenant_id"]), str(report["model"]), str(report["version"]), str(report["window"]))
    json_key, html_key = drift_key(*args, "json"), drift_key(*args, "html")
    sink.put(json_key, json.dumps(report, indent=1, allow_nan=False).encode(), "application/json")
    sink.put(html_key, render_drift_html(report).encode(), "text/html; charset=utf-8")
    return json_key, html_key
