"""A waterfall chart of one row's Shapley attributions, as hand-written SVG.

Starts at the base value (mean model output over the background sample), adds one feature's
attribution per step (largest magnitude first) and ends at the prediction, so the bars show how
the model got from "average applicant" to "this applicant". Feature names and values are escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from steward.errors import InvalidInput

MAX_BARS = 16  # smaller attributions are summed into one "other features" bar


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


def waterfall_svg(title: str, names: Sequence[str], attributions: Sequence[float], base: float) -> str:
    order = sorted(range(len(attributions)), key=lambda i: -abs(attributions[i]))
    steps = [(names[i], attributions[i]) for i in order[:MAX_BARS]]
    rest = [attributions[i] for i in order[MAX_BARS:]]
    if rest:
        steps.append((f"{len(rest)} other features", math.fsum(rest)))
    prediction = base + math.fsum(attributions)
    running = [base]
    for _, value in steps:
        running.append(running[-1] + value)
    low = min([0.0, *running])
    high = max([1.0, *running]) if all(0.0 <= v <= 1.0 for v in running) else max(running)
    span = (high - low) or 1.0
    label_w, plot_w, row_h, top = 220, 420, 24, 36
    n_rows = len(steps) + 2
    width, height = label_w + plot_w + 90, top + n_rows * row_h + 16

    def x(v: float) -> float:
        return label_w + (v - low) / span * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<text x="4" y="18" font-size="14" font-weight="600" font-family="sans-serif">{_esc(title)}</text>',
    ]

    def label(y: float, text: str) -> None:
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end" '
            f'font-family="sans-serif">{_esc(text)}</text>'
        )

    def value_text(y: float, at: float, text: str) -> None:
        parts.append(
            f'<text x="{at + 4:.1f}" y="{y + 16}" font-size="11" font-family="sans-serif">{_esc(text)}</text>'
        )

    y = top
    label(y, "base value (mean over background)")
    parts.append(
        f'<rect x="{x(low):.1f}" y="{y + 4}" width="{x(base) - x(low):.1f}" height="16" fill="#888"/>'
    )
    value_text(y, x(base), f"{base:.4f}")
    for i, (name, value) in enumerate(steps):
        y = top + (i + 1) * row_h
        start, end = running[i], running[i + 1]
        left, right = min(x(start), x(end)), max(x(start), x(end))
        colour = "#2e7d32" if value >= 0 else "#c62828"
        label(y, name)
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1.0):.1f}" height="16" '
            f'fill="{colour}"><title>{_esc(name)}: {value:+.4f}</title></rect>'
        )
        value_text(y, right, f"{value:+.4f}")
    y = top + (len(steps) + 1) * row_h
    label(y, "prediction")
    parts.append(
        f'<rect x="{x(low):.1f}" y="{y + 4}" width="{x(prediction) - x(low):.1f}" height="16" '
        'fill="#1f4e8c"/>'
    )
    value_text(y, x(prediction), f"{prediction:.4f}")
    parts.append("</svg>")
    return "".join(parts)
