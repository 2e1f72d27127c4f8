"""The scheduled fairness report run: counters -> JSON + HTML in S3, metrics, card summary.

For every tenant and model version with counters it reports each daily window of the look-back
period (labels keep arriving for as long as the feedback join lives, so recent windows are
re-reported) plus one rolling report over the whole period. The rolling report feeds the
CloudWatch metrics (more outcomes, steadier rates) and the summary shown on that tenant's model
card. Counters hold group tokens; reports name each group by the label the tenant declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.fairness.counters import FairnessCounters
from steward.fairness.groups import GroupLabels
from steward.fairness.metrics import FOUR_FIFTHS
from steward.fairness.monitor import FairnessStore, window_of
from steward.fairness.report_builder import (
    build_report,
    merge_windows,
    metric_values,
    rolling_window,
    summary,
)
from steward.fairness.report_html import render_html
from steward.quality.report import QualityReporter
from steward.quality.report import metric_values as quality_metric_values

REPORT_PREFIX = "reports/fairness"
#: (tenant, model, version, metric name -> value)
PublishMetrics = Callable[[str, str, str, Mapping[str, float]], None]


class ReportSink(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


@dataclass
class RunResult:
    reports: list[str] = field(default_factory=list)  # object keys written
    breaches: list[dict[str, Any]] = field(default_factory=list)
    model_versions: int = 0  # (tenant, model version) pairs reported
    min_demographic_parity_ratio: float | None = None
    quality_breaches: list[dict[str, Any]] = field(default_factory=list)


def report_key(tenant_id: str, model: str, version: str, window: str, extension: str) -> str:
    return f"{REPORT_PREFIX}/{tenant_id}/{model}/{version}/{window}.{extension}"


def named(counters: FairnessCounters, labels: GroupLabels) -> FairnessCounters:
    """The same counts keyed by the declared label of each token (the token if never declared)."""
    out = FairnessCounters()
    for token, cells in counters.counts.items():
        for (prediction, label), n in cells.items():
            out.add(labels.display_name(token), prediction, label, n)
    return out


def _write(sink: ReportSink, report: Mapping[str, Any]) -> tuple[str, str]:
    import json

    tenant_id, model = str(report["tenant_id"]), str(report["model"])
    version, window = str(report["version"]), str(report["window"])
    json_key = report_key(tenant_id, model, version, window, "json")
    html_key = report_key(tenant_id, model, version, window, "html")
    body = json.dumps(report, indent=1, sort_keys=False, allow_nan=False).encode()
    sink.put(json_key, body, "application/json")
    sink.put(html_key, render_html(report).encode(), "text/html; charset=utf-8")
    return json_key, html_key


def run_reports(
    targets: Iterable[tuple[str, str]],
    store: FairnessStore,
    sink: ReportSink,
    publish: PublishMetrics,
    *,
    now: float,
    lookback_days: int = 7,
    dp_ratio_threshold: float = FOUR_FIFTHS,
    quality: QualityReporter | None = None,
) -> RunResult:
    generated_at = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    first_window = window_of(now - (lookback_days - 1) * 86_400)
    result = RunResult()
    for model, version in targets:
        sections = quality.sections(model, version, now) if quality is not None else {}
        for tenant_id, counts in sorted(store.counters(model, version).items()):
            labels = store.group_labels(tenant_id) or GroupLabels(tenant_id)
            windows = {w: named(c, labels) for w, c in counts.windows.items()}
            recent = sorted(w for w in windows if w >= first_window and windows[w].total())
            if not recent:
                continue
            result.model_versions += 1
            for window in recent:
                report = build_report(
                    model, version, window, windows[window], tenant_id=tenant_id,
                    unknown_groups=counts.unknown.get(window, 0),
                    generated_at=generated_at, dp_ratio_threshold=dp_ratio_threshold,
                )  # fmt: skip
                result.reports.extend(_write(sink, report))
            rolling = build_report(
                model,
                version,
                rolling_window(lookback_days),
                merge_windows(windows, recent),
                tenant_id=tenant_id,
                unknown_groups=sum(n for w, n in counts.unknown.items() if w >= first_window),
                generated_at=generated_at,
                windows_included=recent,
                dp_ratio_threshold=dp_ratio_threshold,
            )
            _add_quality(rolling, sections.pop(tenant_id, None), result, publish)
            json_key, html_key = _write(sink, rolling)
            result.reports += [json_key, html_key]
            values = metric_values(rolling)
            publish(tenant_id, model, version, values)
            ratio = values.get("DemographicParityRatio")
            if ratio is not None and (
                result.min_demographic_parity_ratio is None or ratio < result.min_demographic_parity_ratio
            ):
                result.min_demographic_parity_ratio = ratio
            result.breaches += [
                {"tenant_id": tenant_id, "model": model, "version": version, **b} for b in rolling["breaches"]
            ]
            summary_ = summary(rolling, json_key=json_key, html_key=html_key)
            store.put_latest_report(tenant_id, model, version, summary_)
        for tenant_id, section in sections.items():  # labelled rows, but no recent fairness counters
            result.model_versions += 1
            rolling = build_report(
                model, version, rolling_window(lookback_days), FairnessCounters(), tenant_id=tenant_id,
                generated_at=generated_at, dp_ratio_threshold=dp_ratio_threshold,
            )  # fmt: skip
            _add_quality(rolling, section, result, publish)
            result.reports.extend(_write(sink, rolling))
    return result


def _add_quality(
    report: dict[str, Any], section: dict[str, Any] | None, result: RunResult, publish: PublishMetrics
) -> None:
    """The report's quality section (`steward.quality.report`), its metrics and its breaches."""
    if section is None:
        return
    report["quality"] = section
    tenant_id, model, version = str(report["tenant_id"]), str(report["model"]), str(report["version"])
    publish(tenant_id, model, version, quality_metric_values(section))
    result.quality_breaches += [
        {"tenant_id": tenant_id, "model": model, "version": version, **b} for b in section["breaches"]
    ]
