"""Explanations, model cards and fairness feedback over HTTP against the local stack."""

from __future__ import annotations

import httpx
import pytest

from scripts.local.seed import DEMO_TENANT
from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROW = [40.0, 55.0, 6.0, 0.3, 12.0, 4.0, 1.0, 20.0, 10.0, 1.0]


def _auth(stack: RunningStack, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.key}", **extra}


def _features(**parameters: object) -> dict[str, object]:
    body: dict[str, object] = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 10], "data": ROW}]
    }
    if parameters:
        body["parameters"] = parameters
    return body


def test_credit_risk_explanation_adds_up_and_renders_a_waterfall(stack: RunningStack) -> None:
    # Given one applicant / When explained through the gateway (JSON, then SVG)
    url = f"{stack.api_url}/v1/models/credit-risk/explain"
    response = httpx.post(url, headers=_auth(stack), json=_features(), timeout=60)
    svg = httpx.post(url, headers=_auth(stack, Accept="image/svg+xml"), json=_features(), timeout=60)

    # Then exact Shapley values sum to P(approve) - base value, and the chart names the features
    assert response.status_code == 200, response.text
    body = response.json()
    out = {o["name"]: o["data"] for o in body["outputs"]}
    assert body["parameters"]["method"] == "exact" and len(out["attributions"]) == 10
    assert abs(sum(out["attributions"]) - (out["prediction"][0] - out["base_value"][0])) < 1e-9
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "debt_to_income" in svg.text and svg.text.startswith("<svg")


def test_the_card_is_served_as_json_and_html(stack: RunningStack) -> None:
    url = f"{stack.api_url}/v1/models/credit-risk/card"
    card = httpx.get(url, headers=_auth(stack), timeout=10)
    page = httpx.get(url, headers=_auth(stack, Accept="text/html"), timeout=10)
    assert card.status_code == 200 and card.json()["complete"] is True
    assert card.json()["approval"] == "approved" and card.json()["artifact_digest"].startswith("sha256:")
    assert page.status_code == 200 and "Intended use" in page.text


def test_a_monitored_prediction_takes_feedback_once(stack: RunningStack) -> None:
    # Given the demo tenant declared its group labels, and a prediction sent with one of them
    admin = {"Authorization": f"Bearer {stack.state['demo_admin_key']}"}
    declared = httpx.put(
        f"{stack.api_url}/admin/fairness/{DEMO_TENANT}/groups",
        headers=admin,
        json={"labels": ["0", "1"]},
        timeout=10,
    )
    assert declared.status_code == 200, declared.text
    undeclared = httpx.post(
        f"{stack.api_url}/v2/models/credit-risk/infer",
        headers=_auth(stack),
        json=_features(group="2"),
        timeout=30,
    )
    assert undeclared.status_code == 400 and undeclared.json()["code"] == "fairness.unknown_group"
    predicted = httpx.post(
        f"{stack.api_url}/v2/models/credit-risk/infer",
        headers=_auth(stack),
        json=_features(group="1"),
        timeout=30,
    )
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["parameters"]["fairness_recorded"] is True
    request_id = predicted.headers["x-request-id"]

    # When its ground truth is sent twice
    feedback = {"request_id": request_id, "label": 1}
    first = httpx.post(f"{stack.api_url}/v1/feedback", headers=_auth(stack), json=feedback, timeout=10)
    second = httpx.post(f"{stack.api_url}/v1/feedback", headers=_auth(stack), json=feedback, timeout=10)

    # Then the first is recorded and the second is a conflict
    assert first.status_code == 200, first.text
    assert second.status_code == 409 and second.json()["code"] == "feedback.duplicate"
