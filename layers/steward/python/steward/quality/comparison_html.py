"""A version comparison (`steward.quality.comparison`) as one self-contained HTML page.

A table of every figure per version, and one bar chart per rate (0..1) with a bar per version,
drawn by the fairness report's chart (`steward.fairness.report_html.bar_chart_svg`, which sizes to
its labels). Every value that came from data is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steward.fairness.report_html import PAGE_STYLE, bar_chart_svg, esc, format_value

#: (view, figure, label) rows of the table; the rates among them are also charted.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("quality", "n", "labelled predictions"),
    ("quality", "accuracy", "accuracy"),
    ("quality", "precision", "precision"),
    ("quality", "recall", "recall"),
    ("quality", "f1", "F1"),
    ("quality", "roc_auc", "ROC AUC"),
    ("quality", "brier", "Brier score"),
    ("fairness", "min_demographic_parity_ratio", "min demographic parity ratio"),
    ("drift", "share_drifted", "share of drifted features"),
    ("drift", "prediction_psi", "prediction PSI"),
    ("serving", "calls", "calls"),
    ("serving", "error_rate", "error rate"),
    ("serving", "latency_p50_ms", "latency p50 (ms)"),
    ("serving", "latency_p99_ms", "latency p99 (ms)"),
    ("serving.shadow", "calls", "shadow calls"),
    ("serving.shadow", "agreement", "shadow agreement"),
    ("serving.shadow", "latency_p99_ms", "shadow latency p99 (ms)"),
)
CHARTED = frozenset(
    {"accuracy", "f1", "roc_auc", "min_demographic_parity_ratio", "share_drifted", "error_rate", "agreement"}
)


def figure(version: Mapping[str, Any], view: str, name: str) -> Any:
    """``version[view][name]`` where ``view`` may be dotted (``serving.shadow``); None if absent."""
    node: Any = version
    for part in (*view.split("."), name):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _rate(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def render_comparison_html(comparison: Mapping[str, Any]) -> str:
    versions: Sequence[Mapping[str, Any]] = comparison.get("versions") or []
    model = str(comparison.get("model", ""))
    window = comparison.get("window") or {}
    title = f"Version comparison: {model}"
    head = "".join(f"<th>{esc(v.get('version'))} ({esc(v.get('approval'))})</th>" for v in versions)
    rows = []
    for view, name, label in ROWS:
        cells = "".join(f"<td>{esc(format_value(figure(v, view, name)))}</td>" for v in versions)
        rows.append(f"<tr><td>{esc(label)}</td>{cells}</tr>")
    charts = []
    for view, name, label in ROWS:
        if name not in CHARTED:
            continue
        bars = [(f"version {v.get('version')}", _rate(figure(v, view, name)), None) for v in versions]
        if any(value is not None for _, value, _ in bars):
            charts.append("<figure>" + bar_chart_svg(label, bars) + "</figure>")
    span = f"{window.get('from', '')} to {window.get('to', '')}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head><body>",
            f"<h1>{esc(title)}</h1>",
            f"<p>Your tenant's traffic, {esc(span)} (UTC days). n/a: no data yet for that view.</p>",
            f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>",
            *charts,
            "</body></html>",
        ]
    )
