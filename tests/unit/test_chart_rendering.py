"""Steward's SVG charts checked as rendered pixels, not only as markup.

Each sample chart (scripts/render_charts.py: the explanation waterfall with the long base-value
label, long and non-ASCII feature names, positive and negative attributions; the inline charts of
the fairness report page and of the version comparison page) is rasterised with resvg and must
leave its border columns and rows blank (nothing clipped at an edge) while its drawing reaches
across most of the canvas (no empty half).
The text width table that the charts size themselves with is checked against drawn text too.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops
from steward.svg_text import text_width

from scripts.render_charts import BACKGROUND, render_png, sample_charts

BORDER = 2  # px at the left and right edges that must stay background
SPAN = 0.9  # the drawing's rightmost column lies beyond this share of the width


def _ink_box(svg: str) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Bounding box (left, top, right, bottom; right/bottom exclusive) of non-background pixels."""
    image = Image.open(io.BytesIO(render_png(svg))).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, BACKGROUND)).getbbox()
    assert box is not None, "nothing was drawn"
    return box, image.size


@pytest.fixture(scope="module", autouse=True)
def _text_is_drawn() -> None:
    """Without DejaVu Sans resvg draws no text, and a clipped label could not show: skip then."""
    probe = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="40"><text x="10" y="30">Hg</text></svg>'
    )
    image = Image.open(io.BytesIO(render_png(probe))).convert("RGB")
    if ImageChops.difference(image, Image.new("RGB", image.size, BACKGROUND)).getbbox() is None:
        pytest.skip("DejaVu Sans is not installed (Debian: fonts-dejavu-core), so resvg draws no text")


@pytest.mark.parametrize(("name", "svg"), sorted(sample_charts().items()))
def test_a_rendered_chart_is_not_clipped_and_uses_its_width(name: str, svg: str) -> None:
    (left, top, right, bottom), (width, height) = _ink_box(svg)
    assert left >= BORDER, f"{name}: ink in the left {BORDER} px columns (clipped)"
    assert right <= width - BORDER, f"{name}: ink in the right {BORDER} px columns (clipped)"
    assert top >= 1 and bottom <= height - 1, f"{name}: ink on the top or bottom row (clipped)"
    assert right > SPAN * width, f"{name}: drawing ends at {right}/{width} px (empty space on the right)"
    assert left < 0.05 * width, f"{name}: drawing starts at {left}/{width} px (empty space on the left)"


def test_the_waterfall_samples_include_the_label_that_used_to_be_clipped() -> None:
    charts = sample_charts()
    assert "base value (mean over background)" in charts["waterfall_probability"]
    assert "-0.0500" in charts["waterfall_probability"] and "+0.1200" in charts["waterfall_probability"]
    assert sum(name.startswith("fairness_report_chart_") for name in charts) == 3


@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("size", [10, 12, 14])
@pytest.mark.parametrize(
    "text",
    ["base value (mean over background)", "WWWWWWWW", "iiiiiiii", "+0.1200", "âge du demandeur", "18-24"],
)
def test_the_width_estimate_covers_the_drawn_text_closely(text: str, size: int, bold: bool) -> None:
    weight = ' font-weight="bold"' if bold else ""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * len(text) * 2}" height="{size * 3}">'
        f'<text x="{size}" y="{size * 2}" font-size="{size}"{weight}>{text}</text></svg>'
    )
    (left, _, right, _), _ = _ink_box(svg)
    drawn, estimate = right - left, text_width(text, size, bold=bold)
    assert drawn <= estimate + 1, f"{text!r} drawn {drawn} px, estimated {estimate:.1f} px"
    assert estimate <= drawn * 1.1 + size * 0.3, f"{text!r} estimate {estimate:.1f} px, drawn {drawn} px"
