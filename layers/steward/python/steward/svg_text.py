"""Text width estimates for Steward's hand-written SVG charts, so each chart sizes to its labels.

SVG has no layout engine: a ``<text>`` that is wider than the space left for it is clipped at the
canvas edge. The charts therefore measure their labels before choosing their width. The measure is
a per-character table of DejaVu Sans advance widths (regular and bold, in 1/1000 em, read from the
font's ``hmtx`` table), and the charts ask for DejaVu Sans first (``FONT_FAMILY``), then Verdana,
which has nearly the same metrics. Under any other sans-serif (Arial, Helvetica, Segoe UI, Roboto,
system-ui) the estimate errs on the wide side, because DejaVu Sans is among the widest of them:
a label may get a few pixels too much room, never too little. A per-character table rather than
one average width because labels such as ``"mmm"`` and ``"iii"`` differ threefold in width;
characters outside printable ASCII count as one full em (CJK ideographs' width, the widest case).
No font library is imported: this runs on the Lambda import path.
"""

from __future__ import annotations

FONT_FAMILY = "'DejaVu Sans', Verdana, sans-serif"

# Advance widths of U+0020..U+007E in DejaVu Sans (Book), 1/1000 em.
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip
# The same for DejaVu Sans Bold.
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365,
    696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580,
    1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
    733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500,
    500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687,
    716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
)  # fmt: skip
_OTHER = 1000  # one em: anything outside printable ASCII
_OTHER_BOLD = 1103  # the widest bold ASCII glyph ("W")


def text_width(text: str, font_size: float, *, bold: bool = False) -> float:
    """Estimated rendered width of ``text`` (unescaped) in pixels at ``font_size``."""
    table, other = (_BOLD, _OTHER_BOLD) if bold else (_REGULAR, _OTHER)
    units = 0
    for char in text:
        code = ord(char) - 32
        units += table[code] if 0 <= code < len(table) else other
    return units * font_size / 1000


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` with an ellipsis, so one huge name cannot make a huge chart."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\u2026"
