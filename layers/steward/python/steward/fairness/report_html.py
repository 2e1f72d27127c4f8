"""Fairness report as one self-contained HTML page with hand-written inline SVG charts.

Each chart sizes to its labels (``steward.svg_text``), so no group name or value is clipped.

No plotting library (the report runs in a small Lambda): bars with 95% interval whiskers are a
few SVG rectangles and lines. Every piece of text that came from data (model names, group names)
is escaped for HTML/XML, so a group called ``<script>`` stays text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from steward.fairness.report_builder import DEFINITIONS
from steward.quality.report import quality_html
from steward.svg_text import FONT_FAMILY, shorten, text_width

Bar = tuple[str, float | None, Sequence[float] | None]  # label, value (None = undefined), CI
MAX_LABEL_CHARS = 48  # longer group names are cut with an ellipsis (the bar's tooltip has it whole)
TITLE_SIZE, LABEL_SIZE, VALUE_SIZE = 14, 12, 11  # font sizes, px
PAD, GAP = 8, 8  # canvas edge; label to plot and plot to value text (px)
PLOT_W, ROW_H, TOP = 360, 26, 40  # plot width before a long title widens it; row height; title band

PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a;line-height:1.4}table{border-collapse:collapse;margin:.5rem 0}"
    "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f3f3f3}"
    "td:first-child,th:first-child{text-align:left}.flag{color:#a40000;font-weight:600}"
    ".ok{color:#136f2d;font-weight:600}figure{margin:1rem 0}dt{font-weight:600}"
    # A chart wider than the page scales down with it instead of overflowing it.
    "figure svg{max-width:100%;height:auto}"
)


def esc(value: object) -> str:
    """Escape for HTML text, attributes and SVG <text> alike."""
    return html.escape(str(value), quote=True)


def format_value(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def bar_chart_svg(
    title: str, bars: Sequence[Bar], *, reference: float | None = None, reference_label: str = ""
) -> str:
    """Horizontal bars on a 0..1 scale with interval whiskers and an optional reference line.

    As wide as its group labels, value texts and title need (estimated with ``steward.svg_text``),
    so nothing is clipped at either edge; a long title widens the plot rather than a margin.
    """
    labels = [shorten(label, MAX_LABEL_CHARS) for label, _, _ in bars]
    values = ["n/a" if value is None else f"{value:.3f}" for _, value, _ in bars]
    label_w = PAD + max((text_width(label, LABEL_SIZE) for label in labels), default=0.0) + GAP
    value_w = max((text_width(v, VALUE_SIZE) for v in values), default=0.0)
    right_margin = GAP + value_w + PAD
    title_w = PAD + text_width(title, TITLE_SIZE, bold=True) + PAD
    width = math.ceil(max(label_w + PLOT_W + right_margin, title_w))
    plot_w = width - label_w - right_margin
    height = TOP + ROW_H * max(len(bars), 1) + 24

    def x(v: float) -> float:
        return label_w + max(0.0, min(1.0, v)) * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{esc(FONT_FAMILY)}" role="img" '
        f'aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<text x="{PAD}" y="18" font-size="{TITLE_SIZE}" font-weight="bold">{esc(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{height - 20}" stroke="#e5e5e5"/>'
            f'<text x="{tx:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">{tick:g}</text>'
        )
    for i, ((name, value, interval), label, text) in enumerate(zip(bars, labels, values, strict=True)):
        y = TOP + i * ROW_H
        parts.append(
            f'<text x="{label_w - GAP:.1f}" y="{y + 15}" font-size="{LABEL_SIZE}" text-anchor="end">'
            f"{esc(label)}</text>"
        )
        if value is None:
            parts.append(
                f'<text x="{label_w + 4:.1f}" y="{y + 15}" font-size="{VALUE_SIZE}" fill="#777">n/a</text>'
            )
            continue
        parts.append(
            f'<rect x="{label_w:.1f}" y="{y + 4}" width="{x(value) - label_w:.1f}" height="{ROW_H - 10}" '
            f'fill="#4a78b5"><title>{esc(name)}: {text}</title></rect>'
        )
        if interval is not None and len(interval) == 2:
            lo, hi = x(float(interval[0])), x(float(interval[1]))
            mid = y + ROW_H / 2 - 1
            parts.append(
                f'<line x1="{lo:.1f}" y1="{mid:.1f}" x2="{hi:.1f}" y2="{mid:.1f}" stroke="#222"/>'
                f'<line x1="{lo:.1f}" y1="{mid - 4:.1f}" x2="{lo:.1f}" y2="{mid + 4:.1f}" stroke="#222"/>'
                f'<line x1="{hi:.1f}" y1="{mid - 4:.1f}" x2="{hi:.1f}" y2="{mid + 4:.1f}" stroke="#222"/>'
            )
        parts.append(
            f'<text x="{label_w + plot_w + GAP:.1f}" y="{y + 15}" font-size="{VALUE_SIZE}">{text}</text>'
        )
    if reference is not None:
        rx = x(reference)
        # The label reads right of the line, or left of it where the right margin is too narrow.
        fits_right = rx + 3 + text_width(reference_label, 10) <= width - PAD
        lx, anchor = (rx + 3, "start") if fits_right else (rx - 3, "end")
        parts.append(
            f'<line x1="{rx:.1f}" y1="{TOP - 6}" x2="{rx:.1f}" y2="{height - 20}" stroke="#a40000" '
            f'stroke-dasharray="4 3"/><text x="{lx:.1f}" y="{TOP - 8}" font-size="10" '
            f'text-anchor="{anchor}" fill="#a40000">{esc(reference_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _group_bars(groups: Mapping[str, Any], rate: str) -> list[Bar]:
    return [(name, g.get(rate), g.get(f"{rate}_ci")) for name, g in groups.items()]


def _figure(title: str, bars: Sequence[Bar]) -> str:
    return "<figure>" + bar_chart_svg(title, bars) + "</figure>"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report page (title, verdict, charts, tables, definitions)."""
    model, version, window = report.get("model", ""), report.get("version", ""), report.get("window", "")
    groups: Mapping[str, Any] = report.get("groups") or {}
    metrics: Mapping[str, Any] = report.get("metrics") or {}
    rule = report.get("four_fifths_rule") or {}
    tenant = report.get("tenant_id") or ""
    title = f"Fairness report: {model}@{version}, window {window}" + (f", tenant {tenant}" if tenant else "")
    selection = [(name, g.get("selection_rate"), None) for name, g in groups.items()]
    ratio = metrics.get("demographic_parity_ratio")
    top_rate = max((v for _, v, _ in selection if v is not None), default=None)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {esc(report.get('generated_at', ''))} from aggregate counters "
        f"({esc(format_value(report.get('totals', {}).get('outcomes')))} outcomes, "
        f"{esc(format_value(report.get('totals', {}).get('labelled')))} with ground truth; "
        f"{esc(format_value(report.get('totals', {}).get('unknown_group_refusals', 0)))} refused undeclared "
        "group values) over "
        f"{esc(', '.join(report.get('windows_included') or [str(window)]))}.</p>",
    ]
    if rule.get("violated"):
        parts.append(
            f'<p class="flag">Four-fifths rule violated: demographic parity ratio '
            f"{esc(format_value(ratio))} &lt; {esc(format_value(rule.get('threshold'), 2))}.</p>"
        )
    else:
        parts.append(
            '<p class="ok">Four-fifths rule not violated (demographic parity ratio '
            f"{esc(format_value(ratio))}).</p>"
        )
    reference = 0.8 * top_rate if top_rate else None
    parts += [
        "<h2>Charts</h2>",
        "<figure>"
        + bar_chart_svg(
            "Selection rate by group (95% CI)",
            _group_bars(groups, "selection_rate"),
            reference=reference,
            reference_label="4/5 of highest",
        )
        + "</figure>",
        _figure("True positive rate by group (95% CI)", _group_bars(groups, "true_positive_rate")),
        _figure("False positive rate by group (95% CI)", _group_bars(groups, "false_positive_rate")),
        "<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>",
    ]
    for key, value in metrics.items():
        parts.append(f"<tr><td>{esc(key)}</td><td>{esc(format_value(value))}</td></tr>")
    parts.append("</table><h2>Groups</h2><table><tr><th>group</th><th>outcomes</th><th>labelled</th>")
    parts.append("<th>selection rate [95% CI]</th><th>TPR [95% CI]</th><th>FPR [95% CI]</th></tr>")
    for name, g in groups.items():
        cells = [esc(name), esc(format_value(g.get("count"))), esc(format_value(g.get("labelled")))]
        for rate in ("selection_rate", "true_positive_rate", "false_positive_rate"):
            ci = g.get(f"{rate}_ci") or [None, None]
            low, high = esc(format_value(ci[0])), esc(format_value(ci[1]))
            cells.append(f"{esc(format_value(g.get(rate)))} [{low}, {high}]")
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    parts.append(quality_html(report.get("quality")))
    parts.append("<h2>Definitions</h2><dl>")
    for key, text in (report.get("definitions") or DEFINITIONS).items():
        parts.append(f"<dt>{esc(key)}</dt><dd>{esc(text)}</dd>")
    parts.append(f"</dl><p>{esc(report.get('privacy', ''))}</p></body></html>")
    return "\n".join(parts)


def render_drift_html(report: Mapping[str, Any]) -> str:
    """The drift report page: one table of per-feature statistics per window (text only, escaped)."""
    drift = report.get("drift") or {}
    title = f"Drift: {report.get('model')}@{report.get('version')} ({report.get('tenant_id')})"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>",
        f"<style>{PAGE_STYLE}</style></head><body><h1>{esc(title)}</h1>",
        f"<p>Generated {esc(report.get('generated_at'))}. A feature drifts when PSI &gt; "
        f"{esc(drift.get('psi_threshold'))} or JS distance &gt; 0.1; a window is judged from "
        f"{esc(drift.get('min_samples'))} rows.</p>",
    ]
    windows = [*drift.get("windows", []), *([drift["period"]] if drift.get("period") else [])]
    for window in windows:
        verdict = (
            "<span class=flag>drifted</span>"
            if window.get("drifted")
            else ("<span class=ok>stable</span>" if window.get("sufficient") else "too few rows")
        )
        parts.append(
            f"<h2>{esc(window.get('window'))}: {verdict}</h2><p>{esc(window.get('rows'))} rows; share of "
            f"drifted features {format_value(window.get('share_drifted'))}; prediction PSI "
            f"{format_value(window.get('prediction_psi'))}</p><table><tr><th>feature</th><th>PSI</th>"
            "<th>JS distance</th><th>KS</th><th>rows</th><th>drifted</th></tr>"
        )
        for name, f in (window.get("features") or {}).items():
            parts.append(
                f"<tr><td>{esc(name)}</td><td>{format_value(f.get('psi'))}</td><td>{format_value(f.get('js_distance'))}</td>"
                f"<td>{format_value(f.get('ks'))}</td><td>{esc(f.get('live_count'))}</td>"
                f"<td>{'<span class=flag>yes</span>' if f.get('drifted') else 'no'}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
