"""Render every chart Steward draws to PNG, to look at them as a reader would.

Usage: ``.venv/bin/python scripts/render_charts.py [--out charts-png]``

Writes one PNG per sample chart (the explanation waterfall and the fairness report's inline SVG
bar charts, with long labels, negative values and non-ASCII names) and prints each file's path and
size. The renderer is resvg (``resvg-py``, a dev dependency: a self-contained Rust library, no
system libraries, no browser); text is drawn with DejaVu Sans, the font whose metrics
``steward.svg_text`` estimates with. tests/unit/test_chart_rendering.py renders the same samples
and checks the pixels.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import resvg_py
from steward.fairness.counters import FairnessCounters
from steward.fairness.report_builder import build_report
from steward.fairness.report_html import bar_chart_svg, render_html
from steward.inference.charts import waterfall_svg
from steward.quality.comparison_html import render_comparison_html

FONT = "DejaVu Sans"
BACKGROUND = "white"


def render_png(svg: str) -> bytes:
    """PNG bytes of ``svg`` on a white background, every font family drawn as DejaVu Sans."""
    return bytes(
        resvg_py.svg_to_bytes(svg_string=svg, background=BACKGROUND, font_family=FONT, sans_serif_family=FONT)
    )


def _fairness_report_svgs() -> list[str]:
    """The inline SVG charts of a fairness report page with long and hostile group names."""
    counters = FairnessCounters()
    for group, (tp, fp, fn, tn) in {
        "applicants aged 65 and over (self-declared)": (40, 10, 5, 45),
        "<script>alert(1)</script>": (10, 0, 20, 30),
        "18-24": (90, 5, 1, 4),
    }.items():
        counters.add(group, 1, 1, tp)
        counters.add(group, 1, 0, fp)
        counters.add(group, 0, 1, fn)
        counters.add(group, 0, 0, tn)
    counters.add("région Île-de-France, nouveaux clients", 1, None, 7)  # no ground truth: n/a rates
    report = build_report(
        "credit-risk-gradient-boosted-2026", "12", "2026-11-18", counters, generated_at="2026-11-18T00:00:00Z"
    )
    return re.findall(r"<svg\b.*?</svg>", render_html(report), flags=re.DOTALL)


def _comparison_svgs() -> list[str]:
    """The inline SVG charts of a version comparison page (two versions, some views empty)."""
    versions = [
        {
            "version": "1",
            "approval": "approved",
            "artifact_digest": "sha256:" + "a" * 64,
            "quality": {"n": 270, "accuracy": 0.74, "f1": 0.71, "roc_auc": 0.78},
            "fairness": {"min_demographic_parity_ratio": 0.71},
            "drift": None,
            "serving": {"calls": 270, "error_rate": 0.0, "shadow": {"calls": 0, "agreement": None}},
        },
        {
            "version": "2-reweighed-release-candidate",
            "approval": "approved",
            "artifact_digest": "sha256:" + "b" * 64,
            "quality": {"n": 30, "accuracy": 0.73, "f1": 0.70, "roc_auc": 0.77},
            "fairness": None,
            "drift": {"share_drifted": 0.1},
            "serving": {"calls": 30, "error_rate": 0.033, "shadow": {"calls": 30, "agreement": 0.93}},
        },
    ]
    page = render_comparison_html(
        {"model": "credit-risk", "window": {"from": "2026-11-26", "to": "2026-12-02"}, "versions": versions}
    )
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)


def sample_charts() -> dict[str, str]:
    """Chart name -> SVG, covering the layouts that used to clip or leave space empty."""
    long_names = [
        "months since most recent delinquency",
        "revolving utilisation of unsecured lines",
        "debt to income ratio",
        "age",
        "number of open credit lines and loans",
    ]
    charts = {
        "waterfall_probability": waterfall_svg(
            "credit-risk: contributions to P(default), row 0",
            long_names,
            [0.12, -0.05, 0.02, -0.01, 0.04],
            0.31,
        ),
        "waterfall_log_odds_negative": waterfall_svg(
            "m: contributions to log-odds(default), row 3",
            [
                "a feature name far longer than any chart should print in full: " + "x" * 60,
                "âge du demandeur",
                "收入",
                "WWWWWWWW",
            ],
            [-1.5, 0.4, -0.2, 0.0],
            -0.3,
        ),
        "waterfall_many_features_long_title": waterfall_svg(
            "credit-risk-gradient-boosted-with-a-very-long-model-name-2026-11: contributions to "
            "P(default), row 63",
            [f"feature number {i}" for i in range(24)],
            [(-1) ** i * 0.01 * (i + 1) for i in range(24)],
            0.5,
        ),
        "bar_chart_reference_near_one": bar_chart_svg(
            "Selection rate by group (95% CI)",
            [("a group with a long descriptive name", 0.99, (0.97, 1.0)), ("b", None, None)],
            reference=0.98,
            reference_label="4/5 of highest",
        ),
    }
    for i, svg in enumerate(_fairness_report_svgs()):
        charts[f"fairness_report_chart_{i}"] = svg
    for i, svg in enumerate(_comparison_svgs()):
        charts[f"comparison_chart_{i}"] = svg
    return charts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("charts-png"), help="folder for the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, svg in sample_charts().items():
        path = args.out / f"{name}.png"
        path.write_bytes(render_png(svg))
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
