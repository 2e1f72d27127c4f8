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
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry
from steward.fairness.monitor import FairnessMonitor
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryFairnessStore,
    InMemoryRegistryStore,
)

from .conftest import CREDIT, MINILM, PEPPER, bearer

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
    settings: ApiSettings,
    credit_registry: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    fairness_store: InMemoryFairnessStore,
    authorizer: Authorizer,
) -> Iterator[tuple[TestClient, FakeTransport]]:
    transport = FakeTransport(respond=backend)
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    use_cases = compose_api(
        Registry(credit_registry),
        router,
        audit_store,
        fairness=FairnessMonitor(fairness_store, pepper=lambda: PEPPER, labels_ttl_s=0),
    )
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as client:
        yield client, transport


def token(tenant: str, label: str) -> str:
    """The stored form of a declared group label (what the counters are keyed by)."""
    from steward.fairness.groups import group_token, tenant_group_key

    return group_token(tenant_group_key(PEPPER, tenant), label)


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
    fairness_store.put_latest_report(
        "acme", CREDIT, "1", {"window": "rolling-7d", "demographic_parity_ratio": 0.7}
    )
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
    # Given a prediction with a declared group (P(approve) 0.65 >= the card's threshold 0.6 -> 1)
    client, transport = fair_client
    declare(client, make_key("acme", ("*",), admin=True), "acme", ["A", "B"])
    key = make_key("acme", (CREDIT,))
    response = client.post(
        f"/v2/models/{CREDIT}/infer", headers=bearer(key), json=rows_request([[0.65, 1, 0]], group="B")
    )
    assert response.status_code == 200, response.text
    assert response.json()["parameters"]["fairness_recorded"] is True
    request_id = response.headers["x-request-id"]

    # Then the backend never saw the group, and the outcome is counted with an unknown label
    assert "parameters" not in transport.calls[-1][1].payload
    (counters,) = fairness_store.counters(CREDIT, "1")["acme"].windows.values()
    b = token("acme", "B")
    assert counters.get(b, 1, None) == 1
    assert "B" not in json.dumps(audit_store.records)

    # When ground truth arrives for that request id
    feedback = client.post("/v1/feedback", headers=bearer(key), json={"request_id": request_id, "label": 0})

    # Then the count moved from unknown to label 0, and a second feedback is a conflict
    assert feedback.status_code == 200, feedback.text
    assert feedback.json() == {
        "object": "feedback", "request_id": request_id, "model": CREDIT, "model_version": "1",
        "labels": 1, "status": "recorded",
    }  # fmt: skip
    assert counters.get(b, 1, None) == 0 and counters.get(b, 1, 0) == 1
    again = client.post("/v1/feedback", headers=bearer(key), json={"request_id": request_id, "label": 1})
    assert again.status_code == 409 and again.json()["code"] == "feedback.duplicate"


def test_feedback_for_another_tenants_request_is_the_same_404_as_an_unknown_id(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    declare(client, make_key("acme", ("*",), admin=True), "acme", ["A"])
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
    body = rows_request([[0.2, 0, 0]], group=group)
    if model == MINILM:  # the tensor the text model declares: only the group is wrong
        body["inputs"] = [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]
    response = client.post(f"/v2/models/{model}/infer", headers=bearer(key), json=body)
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
    declare(client, make_key("acme", ("*",), admin=True), "acme", ["A"])
    fairness_store.fail = True
    response = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(make_key("acme", (CREDIT,))),
        json=rows_request([[0.9, 0, 0]], group="A"),
    )
    assert response.status_code == 200 and response.json()["parameters"]["fairness_recorded"] is False
    assert "fairness.not_recorded" in audit_store.records[-1]["reason_codes"]


# ------------------------------------------------- issue 9: no raw group at rest, feedback scope

GROUP_LABELS = ["Group-Alpha", "Group-Beta"]


def declare(client: TestClient, admin_key: str, tenant: str, labels: list[str]) -> Any:
    return client.put(f"/admin/fairness/{tenant}/groups", headers=bearer(admin_key), json={"labels": labels})


def stored(store: InMemoryFairnessStore) -> str:
    """Everything the fairness store holds, as one string to scan for literals."""
    return repr(vars(store))


def test_a_declared_group_is_stored_only_as_a_keyed_hash(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
    audit_store: InMemoryAuditStore,
) -> None:
    # Given acme declared its group labels
    client, _ = fair_client
    admin_key = make_key("acme", ("*",), admin=True)
    declared = declare(client, admin_key, "acme", GROUP_LABELS)
    assert declared.status_code == 200, declared.text
    assert declared.json()["labels"] == GROUP_LABELS
    key = make_key("acme", (CREDIT,))

    # When a prediction is made with one of them and its feedback sent
    made = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(key),
        json=rows_request([[0.9, 0, 0]], group="Group-Alpha"),
    )
    assert made.status_code == 200, made.text
    assert made.json()["parameters"]["fairness_recorded"] is True
    fed = client.post(
        "/v1/feedback", headers=bearer(key), json={"request_id": made.headers["x-request-id"], "label": 1}
    )
    assert fed.status_code == 200, fed.text

    # Then neither the counters nor the join/tombstone items hold the raw value (labels live only
    # in the admin-declared label set), and neither does the audit trail
    at_rest = repr({k: v for k, v in vars(fairness_store).items() if k != "labels"})
    assert "Group-Alpha" not in at_rest
    assert "Group-Alpha" not in json.dumps(audit_store.records)
    (tenant_counts,) = fairness_store.counters(CREDIT, "1").values()
    (counters,) = tenant_counts.windows.values()
    (token,) = counters.groups()
    assert counters.get(token, 1, 1) == 1 and len(token) == 32


def test_an_undeclared_group_is_400_counted_as_unknown_and_never_stored(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
) -> None:
    # Given acme declared two labels
    client, transport = fair_client
    declare(client, make_key("acme", ("*",), admin=True), "acme", GROUP_LABELS)
    key = make_key("acme", (CREDIT,))

    # When a caller sends a value it did not declare (a person's name, say)
    response = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(key),
        json=rows_request([[0.9, 0, 0], [0.1, 0, 0]], group=["Group-Alpha", "Jane Roe"]),
    )

    # Then 400 fairness.unknown_group before any backend call, the body does not echo it, nothing
    # of the request is stored, and the refusal is counted as "unknown"
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "fairness.unknown_group"
    assert "Jane Roe" not in response.text
    assert transport.calls == []
    assert "Jane Roe" not in stored(fairness_store)
    assert fairness_store.joins == {}
    (tenant_counts,) = fairness_store.counters(CREDIT, "1").values()
    assert sum(c.total() for c in tenant_counts.windows.values()) == 0
    assert sum(tenant_counts.unknown.values()) == 1


def test_a_tenant_without_declared_labels_gets_400(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, transport = fair_client
    response = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(make_key("globex", (CREDIT,))),
        json=rows_request([[0.9, 0, 0]], group="A"),
    )
    assert response.status_code == 400 and response.json()["code"] == "fairness.unknown_group"
    assert transport.calls == []


def test_counters_are_separate_per_tenant_and_hashes_differ_across_tenants(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
) -> None:
    # Given two tenants that declared the same label
    client, _ = fair_client
    for tenant in ("acme", "globex"):
        assert declare(client, make_key(tenant, ("*",), admin=True), tenant, ["A"]).status_code == 200

    # When acme predicts twice and globex once, all in group "A"
    for tenant, n in (("acme", 2), ("globex", 1)):
        key = make_key(tenant, (CREDIT,))
        for _ in range(n):
            made = client.post(
                f"/v2/models/{CREDIT}/infer", headers=bearer(key), json=rows_request([[0.9, 0, 0]], group="A")
            )
            assert made.json()["parameters"]["fairness_recorded"] is True

    # Then each tenant has its own counters, under a different hash of "A"
    per_tenant = fairness_store.counters(CREDIT, "1")
    assert set(per_tenant) == {"acme", "globex"}
    totals = {t: sum(c.total() for c in tc.windows.values()) for t, tc in per_tenant.items()}
    assert totals == {"acme": 2, "globex": 1}
    tokens = {t: {g for c in tc.windows.values() for g in c.groups()} for t, tc in per_tenant.items()}
    assert tokens["acme"].isdisjoint(tokens["globex"])


def test_the_card_shows_the_callers_tenant_fairness_summary_only(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
) -> None:
    client, _ = fair_client
    fairness_store.put_latest_report(
        "acme", CREDIT, "1", {"window": "rolling-7d", "demographic_parity_ratio": 0.7}
    )
    acme = client.get(f"/v1/models/{CREDIT}/card", headers=bearer(make_key("acme", (CREDIT,))))
    globex = client.get(f"/v1/models/{CREDIT}/card", headers=bearer(make_key("globex", (CREDIT,))))
    assert acme.json()["fairness_monitoring"]["demographic_parity_ratio"] == 0.7
    assert globex.status_code == 200 and globex.json()["fairness_monitoring"] is None


def _stable(response: Any) -> dict[str, Any]:
    body = dict(response.json())
    body.pop("request_id", None)
    return body


def test_feedback_from_a_key_not_entitled_to_the_model_is_the_unknown_id_404_and_records_nothing(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    fairness_store: InMemoryFairnessStore,
) -> None:
    # Given a monitored credit prediction of acme, and an acme key for MiniLM only
    client, _ = fair_client
    declare(client, make_key("acme", ("*",), admin=True), "acme", ["A"])
    entitled, other = make_key("acme", (CREDIT,)), make_key("acme", (MINILM,))
    made = client.post(
        f"/v2/models/{CREDIT}/infer", headers=bearer(entitled), json=rows_request([[0.9, 0, 0]], group="A")
    )
    request_id = made.headers["x-request-id"]
    before = stored(fairness_store)

    # When the unentitled key sends a label (also with the wrong number of labels, which must not
    # tell it how many rows were monitored)
    leak = client.post("/v1/feedback", headers=bearer(other), json={"request_id": request_id, "label": 0})
    rows = client.post(
        "/v1/feedback", headers=bearer(other), json={"request_id": request_id, "labels": [0, 1]}
    )
    unknown = client.post(
        "/v1/feedback", headers=bearer(other), json={"request_id": "no-such-id", "label": 0}
    )

    # Then the same 404 as an unknown id, and nothing changed
    assert leak.status_code == rows.status_code == unknown.status_code == 404
    assert _stable(leak) == _stable(rows) == _stable(unknown)
    assert stored(fairness_store) == before

    # And after the entitled key's feedback, the unentitled key still sees 404, not 409
    assert (
        client.post(
            "/v1/feedback", headers=bearer(entitled), json={"request_id": request_id, "label": 1}
        ).status_code
        == 200
    )
    again = client.post("/v1/feedback", headers=bearer(other), json={"request_id": request_id, "label": 0})
    assert again.status_code == 404 and _stable(again) == _stable(unknown)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models/{model}/card", None),
        ("GET", "/v1/models/{model}/card?version=1", None),
        ("POST", "/v1/models/{model}/explain", "rows"),
        ("POST", "/v2/models/{model}/infer", "rows"),
    ],
)
def test_card_explain_and_infer_answer_an_unentitled_model_as_absent(
    fair_client: tuple[TestClient, FakeTransport],
    make_key: Callable[..., str],
    method: str,
    path: str,
    body: Any,
) -> None:
    client, transport = fair_client
    key = bearer(make_key("acme", (MINILM,)))
    payload = rows_request([[0.5, 0, 0]]) if body else None
    not_yours = client.request(method, path.format(model=CREDIT), headers=key, json=payload)
    absent = client.request(method, path.format(model="no-such-model"), headers=key, json=payload)
    assert not_yours.status_code == absent.status_code == 404
    assert _stable(not_yours) == _stable(absent)
    assert transport.calls == []


def test_audit_reads_show_a_plain_key_only_its_own_records(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    # Given an acme credit key that made a prediction, and an acme MiniLM key
    client, _ = fair_client
    credit, minilm = make_key("acme", (CREDIT,)), make_key("acme", (MINILM,))
    assert (
        client.post(
            f"/v2/models/{CREDIT}/infer", headers=bearer(credit), json=rows_request([[0.5, 0, 0]])
        ).status_code
        == 200
    )

    # When the MiniLM key reads the audit trail, it sees no record of the credit model
    page = client.get("/v1/audit", headers=bearer(minilm)).json()
    assert all(r.get("model") != CREDIT for r in page["data"])
    mine = client.get("/v1/audit", headers=bearer(credit)).json()
    assert any(r.get("model") == CREDIT for r in mine["data"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"labels": ["A", "A"]}, 422),
        ({"labels": [""]}, 422),
        ({"labels": ["x" * 65]}, 422),
        ({"labels": ["bad\nlabel"]}, 422),
        ({"labels": [f"g{i}" for i in range(65)]}, 422),
        ({"labels": "A"}, 422),
        ({}, 422),
        ({"labels": ["A"], "jane.roe@example.com": 1}, 422),
    ],
)
def test_bad_label_declarations_are_422(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str], body: Any, status: int
) -> None:
    client, _ = fair_client
    response = client.put(
        "/admin/fairness/acme/groups", headers=bearer(make_key("acme", ("*",), admin=True)), json=body
    )
    assert response.status_code == status and response.json()["code"] == "input.invalid"
    assert "jane" not in response.text and "bad\nlabel" not in response.text


def test_declaring_labels_is_admin_only_and_readable_back(
    fair_client: tuple[TestClient, FakeTransport], make_key: Callable[..., str]
) -> None:
    client, _ = fair_client
    plain, other_admin = make_key("acme", ("*",)), make_key("globex", ("*",), admin=True)
    admin_key = make_key("acme", ("*",), admin=True)
    assert declare(client, plain, "acme", ["A"]).status_code == 403
    assert declare(client, other_admin, "acme", ["A"]).status_code == 403
    assert declare(client, admin_key, "acme", ["A", "B"]).json()["revision"] == 1
    assert declare(client, admin_key, "acme", ["B", "C"]).json()["revision"] == 2
    read = client.get("/admin/fairness/acme/groups", headers=bearer(admin_key))
    assert read.status_code == 200 and read.json()["labels"] == ["B", "C"]
    assert client.get("/admin/fairness/acme/groups", headers=bearer(plain)).status_code == 403
