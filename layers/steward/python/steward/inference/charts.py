"""A waterfall chart of one row's Shapley attributions, as hand-written SVG sized to its labels.

Starts at the base value (mean model output over the background sample), adds one feature's
attribution per step (largest magnitude first) and ends at the prediction, so the bars show how
the model got from "average applicant" to "this applicant". Feature names and values are escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steward.errors import InvalidInput
from steward.svg_text import FONT_FAMILY, shorten, text_width

MAX_BARS = 16  # smaller attributions are summed into one "other features" bar
MAX_LABEL_CHARS = 48  # longer feature names are cut with an ellipsis (the bar's tooltip has it whole)
BASE_LABEL = "base value (mean over background)"
TITLE_SIZE, LABEL_SIZE, VALUE_SIZE = 14, 12, 11  # font sizes, px
PAD, GAP, VALUE_GAP = 8, 8, 4  # canvas edge; label to plot; bar end to its value text (px)
PLOT_W, ROW_H, TOP = 420, 24, 36  # plot width before a long title widens it; row height; title band


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _output(result: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for output in result.get("outputs") or []:
        if isinstance(output, Mapping) and output.get("name") == name:
            return output
    raise InvalidInput(f"The explanation has no '{name}' output to chart.")


def _row(output: Mapping[str, Any], row: int) -> list[float]:
    shape = [int(s) for s in output.get("shape") or []]
    data = output.get("data") or []
    flat: list[Any] = []
    stack = list(reversed(data))
    while stack:  # flatten nested lists without recursion limits
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    width = shape[1] if len(shape) == 2 else 1
    rows = shape[0] if shape else 0
    if not 0 <= row < rows:
        raise InvalidInput(f"Row {row} is not in the explanation (it has {rows} row(s)).")
    return [float(v) for v in flat[row * width : (row + 1) * width]]


def waterfall_from_explanation(result: Mapping[str, Any], row: int = 0) -> str:
    """SVG for ``row`` of a backend explanation (outputs attributions/base_value, parameters)."""
    attributions = _row(_output(result, "attributions"), row)
    (base,) = _row(_output(result, "base_value"), row)
    params = result.get("parameters") or {}
    names = params.get("feature_names") or params.get("tokens")
    if not isinstance(names, list) or len(names) != len(attributions):
        names = [f"feature {i}" for i in range(len(attributions))]
    target = params.get("target_name") or params.get("target") or ""
    title = f"{result.get('model_name', '')}: contributions to P({target}), row {row}"
    return waterfall_svg(title, [str(n) for n in names], attributions, base)


@dataclass(frozen=True)
class _Bar:
    label: str
    start: float
    end: float
    text: str  # the value printed right of the bar
    colour: str
    tooltip: str = ""


def _bars(names: Sequence[str], attributions: Sequence[float], base: float) -> list[_Bar]:
    """Base value, one step per feature (largest magnitude first), then the prediction."""
    order = sorted(range(len(attributions)), key=lambda i: -abs(attributions[i]))
    steps = [(names[i], attributions[i]) for i in order[:MAX_BARS]]
    rest = [attributions[i] for i in order[MAX_BARS:]]
    if rest:
        steps.append((f"{len(rest)} other features", math.fsum(rest)))
    bars = [_Bar(BASE_LABEL, 0.0, base, f"{base:.4f}", "#888")]
    running = base
    for name, value in steps:
        colour = "#2e7d32" if value >= 0 else "#c62828"
        tip = f"{name}: {value:+.4f}"
        bars.append(
            _Bar(shorten(name, MAX_LABEL_CHARS), running, running + value, f"{value:+.4f}", colour, tip)
        )
        running += value
    prediction = base + math.fsum(attributions)
    bars.append(_Bar("prediction", 0.0, prediction, f"{prediction:.4f}", "#1f4e8c"))
    return bars


def waterfall_svg(title: str, names: Sequence[str], attributions: Sequence[float], base: float) -> str:
    """The chart, as wide as its labels, values and title need: nothing is clipped at either edge.

    The value axis spans exactly the bars (and zero, where base and prediction bars start), so
    the bars use the plot's whole width; value texts sit right of each bar and the right margin is
    what the widest of them needs there.
    """
    bars = _bars(names, attributions, base)
    ends = [v for bar in bars for v in (bar.start, bar.end)]
    low, high = min(0.0, *ends), max(0.0, *ends)
    span = (high - low) or 1.0
    label_w = PAD + max(text_width(bar.label, LABEL_SIZE) for bar in bars) + GAP
    value_w = [VALUE_GAP + text_width(bar.text, VALUE_SIZE) for bar in bars]
    free_right = [(high - max(bar.start, bar.end)) / span for bar in bars]  # share of plot right of bar
    plot_w = float(PLOT_W)
    right_margin = max(0.0, *(w - f * plot_w for w, f in zip(value_w, free_right, strict=True))) + PAD
    width = math.ceil(
        max(label_w + plot_w + right_margin, PAD + text_width(title, TITLE_SIZE, bold=True) + PAD)
    )
    plot_w = width - label_w - right_margin  # a long title widens the plot, not an empty margin
    height = TOP + len(bars) * ROW_H + 16

    def x(v: float) -> float:
        return label_w + (v - low) / span * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_esc(FONT_FAMILY)}" role="img" '
        f'aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<text x="{PAD}" y="18" font-size="{TITLE_SIZE}" font-weight="bold">{_esc(title)}</text>',
    ]
    if low < 0.0:
        zero, bottom = x(0.0), TOP + len(bars) * ROW_H  # where base and prediction bars start
        parts.append(f'<line x1="{zero:.1f}" y1="{TOP}" x2="{zero:.1f}" y2="{bottom}" stroke="#bbb"/>')
    for i, bar in enumerate(bars):
        y = TOP + i * ROW_H
        left, right = min(x(bar.start), x(bar.end)), max(x(bar.start), x(bar.end))
        tooltip = f"<title>{_esc(bar.tooltip)}</title>" if bar.tooltip else ""
        parts.append(
            f'<text x="{label_w - GAP:.1f}" y="{y + 16}" font-size="{LABEL_SIZE}" text-anchor="end">'
            f"{_esc(bar.label)}</text>"
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1.0):.1f}" height="16" '
            f'fill="{bar.colour}">{tooltip}</rect>'
            f'<text x="{right + VALUE_GAP:.1f}" y="{y + 16}" font-size="{VALUE_SIZE}">{_esc(bar.text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
