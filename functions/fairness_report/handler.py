"""Scheduled fairness and quality report (EventBridge): per tenant and model version, counters ->
reports in S3, metrics, card summaries. It never needs the pepper: groups are named from the
declared labels."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from steward.bootstrap import build_report, report_settings
from steward.catalog.registry import ModelVersion, RegistryStore
from steward.fairness.report_publisher import ReportSink, run_reports
from steward.privacy.logs import RedactingFormatter
from steward.quality.drift_monitor import DriftSketchStore
from steward.quality.drift_reports import DriftRunResult, run_drift_reports
from steward.quality.report import BREACHES_METRIC, QualityReporter
from steward.settings import ReportSettings

SERVICE = "steward-fairness-report"
NAMESPACE = "Steward"
#: Fleet-wide metric the alarm watches (no model dimension, so one alarm covers every model).
MIN_DP_RATIO_METRIC = "MinDemographicParityRatio"
#: Fleet-wide drift maxima the drift alarm watches (periods with enough rows only).
MAX_SHARE_DRIFTED_METRIC = "MaxShareDriftedFeatures"
MAX_PREDICTION_PSI_METRIC = "MaxPredictionPSI"

logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())


COUNT_METRICS = ("Outcomes", "LabelledOutcomes", "UnknownGroupRefusals", "DriftRows")


def publish(tenant_id: str, model: str, version: str, values: Mapping[str, float]) -> None:
    """One EMF record per metric with dimensions tenant, model and version (Powertools single_metric)."""
    for name, value in values.items():
        unit = MetricUnit.Count if name in COUNT_METRICS else MetricUnit.NoUnit
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE, "tenant": tenant_id, "model": model, "version": version},
        ):
            pass


def registered_versions(store: RegistryStore) -> list[ModelVersion]:
    """Every registered model version (one scan of the registry per run)."""
    return [version for doc in store.list_models() for version in doc.versions.values()]


def publish_fleet(name: str, value: float, unit: MetricUnit = MetricUnit.NoUnit) -> None:
    """One fleet-wide EMF record (dimension ``service`` only): what the stage's alarms watch."""
    with single_metric(
        name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
    ):
        pass


def run(settings: ReportSettings, now: float | None = None) -> dict[str, Any]:
    ports = build_report(settings)
    versions = registered_versions(ports.registry)
    cards = {(v.model, v.version): v.card for v in versions}  # the quality thresholds live there
    quality = (
        QualityReporter(ports.quality, cards, lookback_days=settings.fairness_lookback_days)
        if ports.quality is not None
        else None
    )
    result = run_reports(
        [(v.model, v.version) for v in versions],
        ports.counters,
        ports.sink,
        publish,
        now=time.time() if now is None else now,
        lookback_days=settings.fairness_lookback_days,
        dp_ratio_threshold=settings.fairness_dp_ratio_threshold,
        quality=quality,
    )
    # Sent every run (0 too), so the quality alarm always has data.
    publish_fleet(BREACHES_METRIC, len(result.quality_breaches), MetricUnit.Count)
    for breach in result.quality_breaches:
        logger.warning("quality threshold breached", extra=breach)
    if result.min_demographic_parity_ratio is not None:
        publish_fleet(MIN_DP_RATIO_METRIC, result.min_demographic_parity_ratio)
    for breach in result.breaches:
        logger.warning("fairness threshold breached", extra=breach)
    summary = {
        "model_versions": result.model_versions,
        "objects_written": len(result.reports),
        "breaches": len(result.breaches),
        "quality_breaches": len(result.quality_breaches),
    }
    logger.info("fairness reports written", extra=summary)
    drift = run_drift(versions, ports.drift, ports.sink, settings, time.time() if now is None else now)
    summary["drift_reports"] = len(drift.reports)
    summary["drifted"] = len(drift.drifted)
    return summary


def run_drift(
    versions: list[ModelVersion],
    store: DriftSketchStore | None,
    sink: ReportSink,
    settings: ReportSettings,
    now: float,
) -> DriftRunResult:
    """The drift section: reports, per-version metrics and the fleet-wide maxima."""
    if store is None:
        return DriftRunResult()
    result = run_drift_reports(
        versions, store, sink, publish, now=now, lookback_days=settings.fairness_lookback_days
    )
    for name, value in (
        (MAX_SHARE_DRIFTED_METRIC, result.max_share_drifted),
        (MAX_PREDICTION_PSI_METRIC, result.max_prediction_psi),
    ):
        if value is not None:
            publish_fleet(name, value)
    for drifted in result.drifted:
        logger.warning("drift threshold breached", extra=drifted)
    return result


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(report_settings())
