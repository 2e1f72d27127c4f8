"""Fairness report documents and their HTML/SVG rendering, and the report run over fake ports."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
from steward.fairness.counters import FairnessCounters
from steward.fairness.groups import GroupLabels
from steward.fairness.metrics import report_from_counters
from steward.fairness.monitor import TenantCounters
from steward.fairness.report_builder import build_report, metric_values, summary
from steward.fairness.report_html import render_html
from steward.fairness.report_publisher import run_reports

from tests.fakes import InMemoryFairnessStore

NOW = 1_795_000_000.0  # 2026-11-18T...Z
GROUP = '<img src=x onerror="alert(1)">'


def counters() -> FairnessCounters:
    c = FairnessCounters()
    c.add("A", 1, 1, 40)
    c.add("A", 1, 0, 10)
    c.add("A", 0, 1, 5)
    c.add("A", 0, 0, 45)
    c.add(GROUP, 1, 1, 10)
    c.add(GROUP, 0, 1, 20)
    c.add(GROUP, 0, 0, 30)
    c.add(GROUP, 1, None, 5)
    return c


def report() -> dict[str, Any]:
    return build_report("credit<risk>", "1", "2026-11-18", counters(), generated_at="2026-11-18T00:00:00Z")


def test_the_json_report_holds_the_fairlearn_metrics_per_group_rates_and_definitions() -> None:
    # Given counters of two groups / When the report is built
    doc = report()
    expected = report_from_counters(counters()).to_dict()

    # Then metrics equal steward.fairness's (Fairlearn-equal) numbers and say whose definitions
    assert doc["model"] == "credit<risk>" and doc["window"] == "2026-11-18"
    assert doc["metrics"]["demographic_parity_ratio"] == pytest.approx(expected["demographic_parity_ratio"])
    assert doc["metrics"]["equalized_odds_difference"] == pytest.approx(expected["equalized_odds_difference"])
    assert doc["groups"]["A"]["selection_rate"] == 0.5 and doc["groups"]["A"]["selection_rate_ci"][0] < 0.5
    assert doc["totals"] == {"outcomes": 165, "labelled": 160, "groups": 2, "unknown_group_refusals": 0}
    assert "Fairlearn" in doc["definitions"]["source"]
    assert "Wilson" in doc["definitions"]["confidence_intervals"]
    # selection rates 0.5 vs 15/65 = 0.23: ratio 0.46 < 0.8
    assert doc["four_fifths_rule"]["violated"] is True
    assert doc["breaches"] == [
        {
            "metric": "demographic_parity_ratio",
            "value": doc["metrics"]["demographic_parity_ratio"],
            "threshold": 0.8,
        }
    ]
    json.dumps(doc, allow_nan=False)  # strict JSON (NaN would be null)


def test_undefined_metrics_are_null_in_json_and_left_out_of_cloudwatch() -> None:
    # Given outcomes without any ground truth and nobody selected
    c = FairnessCounters()
    c.add("A", 0, None, 3)
    c.add("B", 0, None, 2)
    doc = build_report("m", "1", "w", c, generated_at="t")
    assert doc["metrics"]["demographic_parity_ratio"] is None  # 0/0
    values = metric_values(doc)
    assert "DemographicParityRatio" not in values and "EqualizedOddsRatio" not in values
    assert values["DemographicParityDifference"] == 0.0 and values["FourFifthsRuleViolated"] == 0.0
    assert all(math.isfinite(v) for v in values.values())


def test_the_html_page_escapes_names_has_svg_charts_and_states_the_definitions() -> None:
    page = render_html(report())
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert GROUP not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "credit&lt;risk&gt;" in page and "credit<risk>" not in page
    assert "Fairlearn" in page and "Four-fifths rule violated" in page
    assert "Selection rate by group (95% CI)" in page and "4/5 of highest" in page


def test_the_card_summary_is_short_and_links_the_reports() -> None:
    short = summary(report(), json_key="k.json", html_key="k.html")
    assert short["report_json"] == "k.json" and short["four_fifths_rule_violated"] is True
    assert set(short["groups"]["A"]) == {
        "count",
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
    }
    assert "counters" not in short


class Sink:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (body, content_type)


def _tokens(c: FairnessCounters, tokens: Mapping[str, str]) -> FairnessCounters:
    """``c`` as the store holds it: keyed by group token instead of label."""
    out = FairnessCounters()
    for group, cells in c.counts.items():
        for (prediction, label), n in cells.items():
            out.add(tokens[group], prediction, label, n)
    return out


def test_a_run_writes_reports_per_tenant_named_by_declared_labels() -> None:
    # Given acme's counters (group tokens) in two recent windows and one outside the 7-day
    # look-back, acme's declared labels, and globex's counters of one undeclared-since token
    store = InMemoryFairnessStore()
    tokens = {"A": "a" * 32, GROUP: "b" * 32}
    store.labels["acme"] = GroupLabels("acme", ("A", GROUP), {t: g for g, t in tokens.items()}, 1)
    acme = TenantCounters(
        windows={w: _tokens(counters(), tokens) for w in ("2026-11-18", "2026-11-17", "2026-10-01")},
        unknown={"2026-11-18": 3, "2026-10-01": 9},
    )
    globex_counts = FairnessCounters()
    globex_counts.add("c" * 32, 1, 1, 4)
    store.windows[("credit", "1")] = {"acme": acme, "globex": TenantCounters({"2026-11-18": globex_counts})}
    sink, published = Sink(), []

    def publish(tenant: str, model: str, version: str, values: Mapping[str, float]) -> None:
        published.append((tenant, model, version, dict(values)))

    # When the run reports every model version it is given
    result = run_reports([("credit", "1"), ("quiet", "1")], store, sink, publish, now=NOW)

    # Then each tenant's recent windows and rolling report exist as JSON + HTML under its prefix
    prefix = "reports/fairness/acme/credit/1/"
    mine = sorted(k for k in sink.objects if k.startswith(prefix))
    assert mine == sorted(
        prefix + f"{w}.{ext}" for w in ("2026-11-17", "2026-11-18", "rolling-7d") for ext in ("json", "html")
    )
    assert any(k.startswith("reports/fairness/globex/credit/1/") for k in sink.objects)
    rolling = json.loads(sink.objects[prefix + "rolling-7d.json"][0])
    assert rolling["tenant_id"] == "acme" and rolling["windows_included"] == ["2026-11-17", "2026-11-18"]
    assert rolling["totals"]["outcomes"] == 2 * 165 and rolling["totals"]["unknown_group_refusals"] == 3
    assert set(rolling["groups"]) == {"A", GROUP}  # declared labels, not tokens
    assert "c" * 32 not in sink.objects[prefix + "rolling-7d.json"][0].decode()
    assert sink.objects[prefix + "rolling-7d.html"][1].startswith("text/html")
    assert [(t, m, v) for t, m, v, _ in published] == [("acme", "credit", "1"), ("globex", "credit", "1")]
    assert published[0][3]["DemographicParityRatio"] == pytest.approx(
        rolling["metrics"]["demographic_parity_ratio"]
    )
    assert published[0][3]["UnknownGroupRefusals"] == 3.0
    assert result.model_versions == 2 and len(result.breaches) == 1
    assert result.breaches[0]["tenant_id"] == "acme"
    assert result.min_demographic_parity_ratio == pytest.approx(
        rolling["metrics"]["demographic_parity_ratio"]
    )
    assert store.latest_report("acme", "credit", "1")["report_html"] == prefix + "rolling-7d.html"  # type: ignore[index]
    # A token whose label was never declared (here: globex has no label set) is shown as the token
    globex = json.loads(sink.objects["reports/fairness/globex/credit/1/rolling-7d.json"][0])
    assert set(globex["groups"]) == {"c" * 32}
