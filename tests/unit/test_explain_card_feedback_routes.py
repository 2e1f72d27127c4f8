"""Gateway routes of the explainability/fairness issue: explain (JSON + SVG), model card (JSON +
HTML), monitored predictions with ``parameters.group`` and ``POST /v1/feedback``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.fairness.monitor import FairnessMonitor
from steward.gateway import Gateway
from steward.registry import Registry
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import StewardSettings
from steward.testing import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryFairnessStore,
    InMemoryRegistryStore,
)

from functions.api.app import create_app
from functions.api.local_gateway import with_authorizer
from functions.authorizer.handler import authorize_event

from .conftest import CREDIT, MINILM, bearer

FEATURES = ["age", "income", "<b>group</b>"]
CARD = {
    "description": "Credit <risk> demo",
    "intended_use": "Demos",
    "out_of_scope_uses": "Real decisions",
    "training_data": "Synthetic",
    "evaluation": {"accuracy": 0.75, "threshold": 0.6},
    "fairness": {"demographic_parity_difference": 0.24},
    "limitations": "Synthetic bias",
    "owner": "ml-team",
}


def backend(target: Any, request: BackendRequest) -> BackendResponse:
    """Explanations for ``explain``; for ``infer``, P(approve) = first feature of each row."""
    rows = request.payload["inputs"][0]["data"]
    if request.operation == "explain":
        body = {
            "model_name": request.model,
            "model_version": request.version,
            "outputs": [
                {"name": "attributions", "datatype": "FP64", "shape": [len(rows), 3],
                 "data": [v for _ in rows for v in (0.2, -0.1, 0.05)]},
                {"name": "base_value", "datatype": "FP64", "shape": [len(rows)], "data": [0.5] * len(rows)},
            ],
            "parameters": {
                "method": "exact", "target": 1, "target_name": "approve", "feature_names": FEATURES,
            },
        }  # fmt: skip
    else:
        body = {
            "model_name": request.model,
            "model_version": request.version,
            "outputs": [
                {"name": "probabilities", "datatype": "FP32", "shape": [len(rows), 2],
                 "data": [p for row in rows for p in (1 - row[0], row[0])]},
            ],
        }  # fmt: skip
    return BackendResponse(200, json.dumps(body).encode())


@pytest.fixture
def fairness_store() -> InMemoryFairnessStore:
    return InMemoryFairnessStore()


@pytest.fixture
def credit_registry(registry_store: InMemoryRegistryStore) -> InMemoryRegistryStore:
    credit = registry_store.versions[CREDIT]["1"]
    registry_store.put_version(replace(credit, card=CARD))
    return registry_store


@pytest.fixture
def fair_client(
    settings: StewardSettings,
    credit_registry: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    fairness_store: InMemoryFairnessStore,
    authorizer: Authorizer,
) -> Iterator[tuple[TestClient, FakeTransport]]:
    transport = FakeTransport(respond=backend)
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    gateway = Gateway(
        Registry(credit_registry), router, audit_store, fairness=FairnessMonitor(fairness_store)
    )
    app = with_authorizer(create_app(settings, gateway), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as client:
        yield client, transport


def rows_request(rows: list[list[float]], **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rows), 3], "data": rows}]
    }
    if parameters:
        body["parameters"] = parameters
    return body


# ------------------------------------------------------------------------------------ explain


def test_explain_goes_to_the_backend_explain_operation_and_is_audited(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    audit_store: InMemoryAuditStore,
) -> None:
    # Given a key for the credit model
    client, transport = fair_client
    key = make_key("acme", (CREDIT,))

    # When it asks for an explanation
    response = client.post(
        f"/v1/models/{CREDIT}/explain", headers=bearer(key), json=rows_request([[0.7, 1, 0]])
    )

    # Then the backend's explain operation answered, and one audit record names the route
    assert response.status_code == 200, response.text
    body = response.json()
    assert [o["name"] for o in body["outputs"]] == ["attributions", "base_value"]
    assert body["parameters"]["method"] == "exact"
    assert transport.calls[-1][1].operation == "explain"
    record = audit_store.records[-1]
    assert record["route"] == "POST /v1/models/{model}/explain" and record["model"] == CREDIT
    assert record["status"] == 200 and record["decision"] == "allow"


def test_explain_answers_an_svg_waterfall_with_escaped_feature_names(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    key = make_key("acme", (CREDIT,))
    response = client.post(
        f"/v1/models/{CREDIT}/explain",
        headers={**bearer(key), "Accept": "image/svg+xml"},
        json=rows_request([[0.7, 1, 0]]),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = response.text
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&gt;group&lt;/b&gt;" in svg and "<b>" not in svg
    assert "base value" in svg and "prediction" in svg and "0.6500" in svg  # 0.5 + 0.15


def test_explain_is_governed_like_inference(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    # Given no key, a key for another model, and too many rows
    client, transport = fair_client
    other = make_key("acme", (MINILM,))
    mine = make_key("acme", (CREDIT,))
    unauthenticated = client.post(f"/v1/models/{CREDIT}/explain", json=rows_request([[0.1, 0, 0]]))
    not_entitled = client.post(
        f"/v1/models/{CREDIT}/explain", headers=bearer(other), json=rows_request([[0.1, 0, 0]])
    )
    too_many = client.post(
        f"/v1/models/{CREDIT}/explain", headers=bearer(mine), json=rows_request([[0.1, 0, 0]] * 65)
    )
    # Then 401, 404 and 422 without any backend call
    assert unauthenticated.status_code == 401
    assert not_entitled.status_code == 404 and not_entitled.json()["code"] == "model.not_found"
    assert too_many.status_code == 422 and "split the request" in too_many.json()["detail"]
    assert transport.calls == []


# --------------------------------------------------------------------------------------- card


def test_card_json_has_card_fields_registry_facts_and_latest_fairness(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
) -> None:
    # Given a fairness report summary for the version
    client, _ = fair_client
    fairness_store.put_latest_report(CREDIT, "1", {"window": "rolling-7d", "demographic_parity_ratio": 0.7})
    key = make_key("acme", (CREDIT,))

    # When the card is read as JSON (default)
    response = client.get(f"/v1/models/{CREDIT}/card", headers=bearer(key))

    # Then it carries the card, version, digest, approval and the monitoring summary
    assert response.status_code == 200
    card = response.json()
    assert card["model"] == CREDIT and card["version"] == "1" and card["approval"] == "approved"
    assert card["artifact_digest"].startswith("sha256:")
    assert card["intended_use"] == "Demos" and card["evaluation"]["accuracy"] == 0.75
    assert card["complete"] is True and card["missing_fields"] == []
    assert card["fairness_monitoring"]["demographic_parity_ratio"] == 0.7


def test_card_html_is_escaped_and_says_when_no_report_exists(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    key = make_key("acme", (CREDIT,))
    response = client.get(f"/v1/models/{CREDIT}/card", headers={**bearer(key), "Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert "Credit &lt;risk&gt; demo" in page and "<risk>" not in page
    assert "Intended use" in page and "No fairness report yet" in page and "sha256:" in page


def test_card_of_a_model_the_key_may_not_use_is_404(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    response = client.get(f"/v1/models/{CREDIT}/card", headers=bearer(make_key("acme", (MINILM,))))
    assert response.status_code == 404


# ---------------------------------------------------------------------- monitoring + feedback


def test_a_group_is_counted_stripped_from_the_backend_call_and_joined_by_feedback(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
    audit_store: InMemoryAuditStore,
) -> None:
    # Given a prediction with a group (P(approve) 0.65 >= the card's threshold 0.6 -> 1)
    client, transport = fair_client
    key = make_key("acme", (CREDIT,))
    response = client.post(
        f"/v2/models/{CREDIT}/infer", headers=bearer(key), json=rows_request([[0.65, 1, 0]], group="B")
    )
    assert response.status_code == 200, response.text
    assert response.json()["parameters"]["fairness_recorded"] is True
    request_id = response.headers["x-request-id"]

    # Then the backend never saw the group, and the outcome is counted with an unknown label
    assert "parameters" not in transport.calls[-1][1].payload
    (counters,) = fairness_store.counters(CREDIT, "1").values()
    assert counters.get("B", 1, None) == 1
    assert "B" not in json.dumps(audit_store.records)

    # When ground truth arrives for that request id
    feedback = client.post("/v1/feedback", headers=bearer(key), json={"request_id": request_id, "label": 0})

    # Then the count moved from unknown to label 0, and a second feedback is a conflict
    assert feedback.status_code == 200, feedback.text
    assert feedback.json() == {
        "object": "feedback", "request_id": request_id, "model": CREDIT, "model_version": "1",
        "labels": 1, "status": "recorded",
    }  # fmt: skip
    assert counters.get("B", 1, None) == 0 and counters.get("B", 1, 0) == 1
    again = client.post("/v1/feedback", headers=bearer(key), json={"request_id": request_id, "label": 1})
    assert again.status_code == 409 and again.json()["code"] == "feedback.duplicate"


def test_feedback_for_another_tenants_request_is_the_same_404_as_an_unknown_id(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    acme, globex = make_key("acme", (CREDIT,)), make_key("globex", (CREDIT,))
    made = client.post(
        f"/v2/models/{CREDIT}/infer", headers=bearer(acme), json=rows_request([[0.2, 0, 0]], group="A")
    )
    stolen = client.post(
        "/v1/feedback", headers=bearer(globex), json={"request_id": made.headers["x-request-id"], "label": 1}
    )
    unknown = client.post("/v1/feedback", headers=bearer(globex), json={"request_id": "nope", "label": 1})
    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize(
    ("model", "group", "code"),
    [
        (MINILM, "A", "input.unsupported"),  # not a classifier
        (CREDIT, "", "input.invalid"),
        (CREDIT, ["A", "B"], "input.invalid"),  # one row, two groups
        (CREDIT, 3, "input.invalid"),
    ],
)
def test_a_bad_group_is_refused_before_the_backend_is_called(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    model: str,
    group: Any,
    code: str,
) -> None:
    client, transport = fair_client
    key = make_key("acme", (model,))
    response = client.post(
        f"/v2/models/{model}/infer", headers=bearer(key), json=rows_request([[0.2, 0, 0]], group=group)
    )
    assert response.json()["code"] == code
    assert transport.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"request_id": "r", "label": 2},
        {"request_id": "r", "label": "1"},
        {"request_id": "r"},
        {"request_id": "r", "label": 1, "labels": [1]},
        {"request_id": "", "label": 1},
    ],
)
def test_malformed_feedback_is_422(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str], body: dict[str, Any]
) -> None:
    client, _ = fair_client
    response = client.post("/v1/feedback", headers=bearer(make_key("acme", (CREDIT,))), json=body)
    assert response.status_code == 422 and response.json()["code"] == "input.invalid"


def test_monitoring_failure_does_not_withhold_the_prediction(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
    audit_store: InMemoryAuditStore,
) -> None:
    client, _ = fair_client
    fairness_store.fail = True
    response = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(make_key("acme", (CREDIT,))),
        json=rows_request([[0.9, 0, 0]], group="A"),
    )
    assert response.status_code == 200 and response.json()["parameters"]["fairness_recorded"] is False
    assert "fairness.not_recorded" in audit_store.records[-1]["reason_codes"]
