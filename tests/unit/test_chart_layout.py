"""Every text and bar of Steward's SVG charts lies inside the canvas by the charts' own width table.

The markup-level twin of test_chart_rendering.py: it needs no font, so it runs where DejaVu Sans
is missing too, and it says which element would overflow and by how much.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from steward.svg_text import text_width

from scripts.render_charts import sample_charts

SVG = "{http://www.w3.org/2000/svg}"


def _extents(svg: str) -> tuple[float, list[tuple[str, float, float]]]:
    """Canvas width and (what, left, right) of every <text> and <rect>."""
    root = ET.fromstring(svg)
    width = float(root.attrib["viewBox"].split()[2])
    assert float(root.attrib["width"]) == width
    items: list[tuple[str, float, float]] = []
    for rect in root.iter(f"{SVG}rect"):
        x = float(rect.attrib["x"])
        items.append(("rect", x, x + float(rect.attrib["width"])))
    for text in root.iter(f"{SVG}text"):
        content = text.text or ""
        x, size = float(text.attrib["x"]), float(text.attrib.get("font-size", 16))
        w = text_width(content, size, bold=text.attrib.get("font-weight") == "bold")
        anchor = text.attrib.get("text-anchor", "start")
        left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
        items.append((content, left, left + w))
    return width, items


@pytest.mark.parametrize(("name", "svg"), sorted(sample_charts().items()))
def test_every_text_and_bar_lies_inside_the_canvas(name: str, svg: str) -> None:
    width, items = _extents(svg)
    outside = [
        (what, round(left, 1), round(right, 1)) for what, left, right in items if left < 0 or right > width
    ]
    assert not outside, f"{name} (width {width}): {outside}"
    assert max(right for _, _, right in items) > 0.9 * width, f"{name}: the right part of the canvas is empty"


def test_a_label_set_the_old_fixed_layout_clipped_now_fits() -> None:
    from steward.inference.charts import waterfall_svg

    names = ["number of open credit lines and loans in the last 24 months", "age"]
    width, items = _extents(waterfall_svg("t", names, [0.3, -0.1], 0.4))
    labels = {what: (left, right) for what, left, right in items}
    assert labels["base value (mean over background)"][0] >= 0
    assert "number of open credit lines and loans in the last 24 months" not in labels  # cut at 48
    assert any(what.endswith("\u2026") and left >= 0 for what, left, _ in items)
    assert width < 1000  # sized to the labels, not to an unbounded name
