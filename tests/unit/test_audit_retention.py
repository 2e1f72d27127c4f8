"""Audit retention per tenant plan: a record expires after its tenant's ``audit_retention_days``,
read through the access gate's tenant cache (no extra control-table read in steady state), and
after the stage default without a plan item or without a tenant (unauthenticated callers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.audit.record import ANONYMOUS_TENANT, SECONDS_PER_DAY, AuditDraft
from steward.auth.principal import Principal
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.controls.gate import AccessGate
from steward.controls.model import Tenant
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryControlStore, InMemoryRegistryStore
from tests.unit.conftest import MINILM, bearer

STAGE_DAYS = 400


@pytest.fixture
def control_store() -> InMemoryControlStore:
    store = InMemoryControlStore()
    store.tenants["acme"] = Tenant("acme", audit_retention_days=30)
    store.tenants["legacy"] = Tenant("legacy", audit_retention_days=0)  # an item without the field
    return store


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    control_store: InMemoryControlStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    return compose_api(Registry(registry_store), router, audit_store, controls=control_store)


def _days(record: dict[str, Any]) -> float:
    """The record's retention in days, from its time to its TTL."""
    when = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
    return (record["expires_at"] - int(when)) / SECONDS_PER_DAY


def _embed(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/v1/embeddings", headers=headers, json={"model": MINILM, "input": "hello"})


def test_a_record_expires_after_its_tenants_plan(
    client: TestClient, make_key: Callable[..., str], audit_store: InMemoryAuditStore
) -> None:
    assert _embed(client, bearer(make_key("acme", (MINILM,)))).status_code == 200
    (record,) = audit_store.records_of("acme")
    assert _days(record) == pytest.approx(30, abs=1 / SECONDS_PER_DAY)


@pytest.mark.parametrize("tenant", ["globex", "legacy"])  # no plan item; a plan without the field
def test_without_a_plan_the_stage_default_applies(
    client: TestClient, make_key: Callable[..., str], audit_store: InMemoryAuditStore, tenant: str
) -> None:
    assert _embed(client, bearer(make_key(tenant, (MINILM,)))).status_code == 200
    (record,) = audit_store.records_of(tenant)
    assert _days(record) == pytest.approx(STAGE_DAYS, abs=1 / SECONDS_PER_DAY)


def test_an_unauthenticated_request_gets_the_stage_default(
    settings: ApiSettings,
    use_cases: Api,
    audit_store: InMemoryAuditStore,
    control_store: InMemoryControlStore,
) -> None:
    with TestClient(create_app(settings, use_cases)) as bare:  # no authorizer context at all
        assert _embed(bare, {}).status_code == 401
    (record,) = audit_store.records_of(ANONYMOUS_TENANT)
    assert _days(record) == pytest.approx(STAGE_DAYS, abs=1 / SECONDS_PER_DAY)
    assert control_store.reads == 0


def test_requests_no_route_admitted_still_get_the_plan(
    client: TestClient, make_key: Callable[..., str], audit_store: InMemoryAuditStore, settings: ApiSettings
) -> None:
    headers = bearer(make_key("acme", (MINILM,)))
    too_large = client.post(
        "/v1/embeddings",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"input": "' + b"x" * settings.max_body_bytes + b'"}',
    )
    assert too_large.status_code == 413
    assert (
        client.post(
            "/v1/embeddings", headers={**headers, "Content-Type": "application/json"}, content=b"{"
        ).status_code
        == 400
    )
    assert client.get("/v1/nowhere", headers=headers).status_code == 404
    records = audit_store.records_of("acme")
    assert len(records) == 3 and all(_days(r) == pytest.approx(30, abs=1e-4) for r in records)


def test_steady_state_costs_no_extra_control_read(
    client: TestClient, make_key: Callable[..., str], control_store: InMemoryControlStore
) -> None:
    headers = bearer(make_key("acme", (MINILM,)))
    for _ in range(20):
        assert _embed(client, headers).status_code == 200
        assert client.get("/v1/nowhere", headers=headers).status_code == 404
    assert control_store.reads == 2  # the switches and the tenant, once per TTL (4 s)


def _caller(tenant: str = "acme") -> Principal:
    return Principal(tenant_id=tenant, key_id="k1", scopes=frozenset(), models=frozenset({"*"}))


def _draft(tenant: str = "acme") -> AuditDraft:
    draft = AuditDraft(request_id="r", method="POST", route="/x", started_at=0.0)
    draft.tenant_id = tenant
    return draft


def test_the_gate_notes_the_plan_once_and_a_failed_read_leaves_the_default(
    control_store: InMemoryControlStore,
) -> None:
    gate = AccessGate(control_store, ttl_s=4.0, monotonic=lambda: 0.0)
    draft = _draft()
    gate.admit(_caller(), draft)
    assert (draft.retention_days, draft.retention_looked_up) == (30, True)
    reads = control_store.reads
    gate.note_retention(draft)  # looked up already: nothing read
    assert control_store.reads == reads
    control_store.fail = True
    failed = _draft("globex")
    gate.note_retention(failed)  # never raises: the request is answered already
    assert (failed.retention_days, failed.retention_looked_up) == (None, True)
    refused = _draft("initech")
    with pytest.raises(Exception, match="control"):
        gate.admit(_caller("initech"), refused)
    reads = control_store.reads
    gate.note_retention(refused)  # admit tried (and refused): no second read of a failing table
    assert control_store.reads == reads and refused.retention_days is None


def test_a_hand_edited_plan_is_capped() -> None:
    store = InMemoryControlStore()
    store.tenants["acme"] = Tenant("acme", audit_retention_days=10**6)
    draft = _draft()
    AccessGate(store).note_retention(draft)
    assert draft.retention_days == 3650
