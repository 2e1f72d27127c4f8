"""Tenant suspension and kill switches through the app: every keyed route (read from the OpenAPI
document, as the auth matrix does) refuses a suspended tenant's keys with 403 ``tenant.suspended``
and answers 503 ``service.disabled`` under a global, model or version switch; no refusal reaches
the backend; the platform-admin routes throw and clear them, audited with reason codes only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.controls.service import ControlService
from steward.routing.router import Router, RouterPolicy

from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryControlStore, InMemoryRegistryStore
from tests.unit.conftest import CREDIT, MINILM, bearer
from tests.unit.test_auth_matrix import MODEL_ROUTES, PUBLIC, ROUTES, _body, _fill, _send

NOTE = "call Jane Roe on +1 555 0100"  # an operator's note: never in an answer or an audit record
REDACTED = "call <PERSON> on <PHONE_NUMBER>"  # what is stored of it
KEYED_ROUTES = [r for r in ROUTES if r[1] not in PUBLIC]
DATA_ROUTES = [r for r in KEYED_ROUTES if not r[1].startswith("/admin/")]
PLATFORM_ROUTES = [r for r in KEYED_ROUTES if r[1].startswith(("/admin/tenants", "/admin/kill-switches"))]


@pytest.fixture
def control_store() -> InMemoryControlStore:
    return InMemoryControlStore()


@pytest.fixture
def operator(control_store: InMemoryControlStore) -> ControlService:
    """The CLI's side: writes straight to the store the app reads."""
    return ControlService(control_store)


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    control_store: InMemoryControlStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=lambda _s: None)
    # TTL 0: a change is seen by the next request (the bound itself is tested in test_controls)
    return compose_api(
        Registry(registry_store), router, audit_store, controls=control_store, controls_ttl_s=0
    )


@pytest.fixture
def platform(make_key: Callable[..., str]) -> dict[str, str]:
    return bearer(make_key("acme", ("*",), admin=True, platform_admin=True))


def _problem(response: Any, status: int, code: str, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["reason"] == reason
    assert "Jane" not in response.text


def _no_note(audit_store: InMemoryAuditStore) -> None:
    assert audit_store.records
    assert not any("Jane" in repr(record) for record in audit_store.records)


@pytest.mark.parametrize("how", ["suspended", "tenant switch"])
def test_a_suspended_tenant_is_refused_on_every_route(
    client: TestClient,
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    operator: ControlService,
    platform: dict[str, str],
    make_key: Callable[..., str],
    how: str,
) -> None:
    plain = bearer(make_key("acme", ("*",)))
    other = bearer(make_key("globex", ("*",)))
    if how == "suspended":
        operator.create_tenant("acme", by="op")
        operator.suspend("acme", reason="abuse", note=NOTE, by="op")
    else:
        operator.set_switch("tenant:acme", reason="abuse", note=NOTE, by="op")
    for method, template in KEYED_ROUTES:
        path = _fill(template, MINILM)
        for headers in (plain, platform):
            _problem(
                _send(client, method, path, _body(template, MINILM), headers),
                403,
                "tenant.suspended",
                "abuse",
            )
    assert transport.calls == []
    assert all("reason.abuse" in r["reason_codes"] for r in audit_store.records)
    _no_note(audit_store)
    # another tenant is untouched
    assert client.get("/v1/models", headers=other).status_code == 200


@pytest.mark.parametrize(("method", "template"), DATA_ROUTES)
def test_the_global_switch_disables_every_data_route(
    client: TestClient,
    transport: FakeTransport,
    operator: ControlService,
    api_key: str,
    method: str,
    template: str,
) -> None:
    operator.set_switch("global", reason="incident", note=NOTE, by="op")
    response = _send(client, method, _fill(template, MINILM), _body(template, MINILM), bearer(api_key))
    _problem(response, 503, "service.disabled", "incident")
    assert response.headers["retry-after"]
    assert transport.calls == []


def test_the_global_switch_leaves_the_platform_routes_open(
    client: TestClient, operator: ControlService, platform: dict[str, str], api_key: str
) -> None:
    operator.set_switch("global", reason="incident", by="op")
    listed = client.get("/admin/kill-switches", headers=platform)
    assert listed.status_code == 200 and listed.json()["data"][0]["scope"] == "global"
    cleared = client.post(
        "/admin/kill-switches/clear", json={"scope": "global", "reason": "incident"}, headers=platform
    )
    assert cleared.status_code == 200 and cleared.json()["cleared"] is True
    assert client.get("/v1/models", headers=bearer(api_key)).status_code == 200


@pytest.mark.parametrize("scope", [f"model:{MINILM}", f"version:{MINILM}@1"])
@pytest.mark.parametrize(("method", "template"), MODEL_ROUTES)
def test_a_model_or_version_switch_disables_calls_to_it(
    client: TestClient,
    transport: FakeTransport,
    operator: ControlService,
    make_key: Callable[..., str],
    scope: str,
    method: str,
    template: str,
) -> None:
    key = bearer(make_key("acme", ("*",)))
    operator.set_switch(scope, reason="model_defect", note=NOTE, by="op")
    response = _send(client, method, _fill(template, MINILM), _body(template, MINILM), key)
    _problem(response, 503, "service.disabled", "model_defect")
    assert transport.calls == []
    # the other model still answers past the gate (whatever the route then says of it)
    other = _send(client, method, _fill(template, CREDIT), _body(template, CREDIT), key)
    assert other.json().get("code") != "service.disabled"
    operator.clear_switch(scope, reason="model_defect")
    again = _send(client, method, _fill(template, MINILM), _body(template, MINILM), key)
    assert b"service.disabled" not in again.content


def test_the_tenants_allowed_models_narrow_every_key(
    client: TestClient, operator: ControlService, make_key: Callable[..., str]
) -> None:
    operator.create_tenant("acme", allowed_models=[CREDIT], by="op")
    key = bearer(make_key("acme", ("*",)))
    listed = client.get("/v1/models", headers=key).json()
    assert [m["id"] for m in listed["data"]] == [CREDIT]
    refused = client.post("/v1/embeddings", json={"model": MINILM, "input": "hi"}, headers=key)
    assert refused.status_code == 404 and refused.json()["code"] == "model.not_found"


def test_platform_admins_run_the_tenant_lifecycle_by_api(
    client: TestClient,
    audit_store: InMemoryAuditStore,
    control_store: InMemoryControlStore,
    platform: dict[str, str],
    make_key: Callable[..., str],
) -> None:
    created = client.post(
        "/admin/tenants",
        json={"tenant_id": "globex", "allowed_models": [MINILM], "audit_retention_days": 30},
        headers=platform,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "active" and created.json()["allowed_models"] == [MINILM]
    assert client.post("/admin/tenants", json={"tenant_id": "globex"}, headers=platform).status_code == 409
    key = bearer(make_key("globex", ("*",)))
    assert client.get("/v1/models", headers=key).status_code == 200

    suspended = client.post(
        "/admin/tenants/globex/suspend", json={"reason": "abuse", "note": NOTE}, headers=platform
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    _problem(client.get("/v1/models", headers=key), 403, "tenant.suspended", "abuse")
    listed = client.get("/admin/tenants", headers=platform).json()["data"]
    # The note is kept for operators with its personal data redacted: in the table, hence in the list
    assert [(t["tenant_id"], t["status"], t["note"]) for t in listed] == [("globex", "suspended", REDACTED)]
    assert control_store.tenants["globex"].note == REDACTED

    resumed = client.post(
        "/admin/tenants/globex/resume", json={"reason": "customer_request"}, headers=platform
    )
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert client.get("/v1/models", headers=key).status_code == 200
    assert (
        client.post("/admin/tenants/nobody/suspend", json={"reason": "abuse"}, headers=platform).status_code
        == 404
    )

    actions = [
        r["reason_codes"]
        for r in audit_store.records
        if any(c.startswith("admin.") for c in r["reason_codes"])
    ]
    assert ["admin.tenant_suspend", "reason.abuse"] in [c[:2] for c in actions]
    assert ["admin.tenant_resume", "reason.customer_request"] in [c[:2] for c in actions]
    _no_note(audit_store)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/tenants", {"tenant_id": "bad tenant"}),
        ("/admin/tenants", {"tenant_id": "t", "audit_retention_days": "30"}),
        ("/admin/tenants/acme/suspend", {"reason": "because"}),
        ("/admin/tenants/acme/suspend", {"reason": "abuse", "note": "x" * 501}),
        ("/admin/kill-switches", {"scope": "everything", "reason": "abuse"}),
        ("/admin/kill-switches", {"scope": "global"}),
        ("/admin/kill-switches/clear", {"scope": "model:", "reason": "abuse"}),
    ],
)
def test_bad_admin_input_is_422(
    client: TestClient, operator: ControlService, platform: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    operator.create_tenant("acme", by="op")
    response = client.post(path, json=body, headers=platform)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "input.invalid"


def test_the_platform_routes_are_covered_by_the_auth_matrix() -> None:
    assert len(PLATFORM_ROUTES) == 7
