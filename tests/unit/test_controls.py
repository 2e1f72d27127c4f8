"""Tenant state and kill switches as the api function checks them (`steward.controls`), and the
operator actions behind the CLI and the admin routes, over the in-memory control store."""

from __future__ import annotations

import pytest
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.controls.gate import AccessGate
from steward.controls.model import Scope, Tenant
from steward.controls.service import ControlService
from steward.errors import (
    ControlUnavailable,
    InvalidInput,
    ServiceDisabled,
    TenantExists,
    TenantNotFound,
    TenantSuspended,
)

from tests.fakes import InMemoryControlStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def caller(tenant: str = "acme", models: tuple[str, ...] = ("*",)) -> Principal:
    return Principal(tenant_id=tenant, key_id="k1", scopes=frozenset(), models=frozenset(models))


def draft() -> AuditDraft:
    return AuditDraft(request_id="r", method="POST", route="/x", started_at=0.0)


@pytest.fixture
def store() -> InMemoryControlStore:
    return InMemoryControlStore()


@pytest.fixture
def service(store: InMemoryControlStore) -> ControlService:
    return ControlService(store, clock=lambda: 1_700_000_000.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(store: InMemoryControlStore, clock: Clock) -> AccessGate:
    return AccessGate(store, ttl_s=4.0, monotonic=clock)


def test_an_unmanaged_tenant_passes_unchanged(gate: AccessGate) -> None:
    principal = caller()
    assert gate.admit(principal, draft()) is principal
    gate.check_model(draft(), "m", "1")


@pytest.mark.parametrize(
    ("scope", "error", "status", "code"),
    [
        ("global", ServiceDisabled, 503, "service.disabled"),
        ("tenant:acme", TenantSuspended, 403, "tenant.suspended"),
        ("model:m", ServiceDisabled, 503, "service.disabled"),
        ("version:m@1", ServiceDisabled, 503, "service.disabled"),
    ],
)
def test_every_scope_thrown_refuses_and_cleared_admits(
    service: ControlService,
    gate: AccessGate,
    clock: Clock,
    scope: str,
    error: type[Exception],
    status: int,
    code: str,
) -> None:
    # Given a switch thrown with a reason code and a note
    service.set_switch(scope, reason="incident", note="pager says Jane broke it", by="op")
    record = draft()

    # When a caller of that tenant calls that model version
    with pytest.raises(error) as refused:
        gate.admit(caller(), record)
        gate.check_model(record, "m", "1")

    # Then it is refused with the reason code, never the note
    assert refused.value.status == status and refused.value.code == code  # type: ignore[attr-defined]
    assert "incident" in str(refused.value) and "Jane" not in str(refused.value)
    assert f"kill.{Scope.parse(scope).kind.value}" in record.reason_codes
    assert "reason.incident" in record.reason_codes
    assert not any("Jane" in r for r in record.reason_codes)

    # And another tenant, model or version is not touched by a narrower switch
    if scope != "global":
        gate.admit(caller("globex"), draft())
        gate.check_model(draft(), "other", "1")
    if scope.startswith("version:"):
        gate.check_model(draft(), "m", "2")

    # When it is cleared, callers are admitted once the cache entry ages out (the 5 s bound)
    assert service.clear_switch(scope, reason="incident") is True
    clock.now += 4.0
    gate.admit(caller(), draft())
    gate.check_model(draft(), "m", "1")


def test_the_global_switch_leaves_admin_routes_open(service: ControlService, gate: AccessGate) -> None:
    service.set_switch("global", reason="maintenance", by="op")
    gate.admit(caller(), draft(), admin_route=True)
    with pytest.raises(ServiceDisabled):
        gate.admit(caller(), draft())


def test_a_suspended_tenant_is_refused_everywhere_and_resumed(
    service: ControlService, gate: AccessGate, clock: Clock
) -> None:
    service.create_tenant("acme", by="op")
    service.suspend("acme", reason="abuse", note="ticket 42, a person's name", by="op")
    for admin_route in (False, True):
        with pytest.raises(TenantSuspended) as refused:
            gate.admit(caller(), draft(), admin_route=admin_route)
        assert refused.value.problem_extra() == {"reason": "abuse"}
        assert "ticket" not in refused.value.detail
    gate.admit(caller("globex"), draft())

    service.resume("acme", reason="customer_request", by="op")
    clock.now += 4.0
    gate.admit(caller(), draft())


@pytest.mark.parametrize(
    ("tenant_models", "key_models", "expected"),
    [
        (("*",), ("a", "b"), {"a", "b"}),
        (("a", "b"), ("*",), {"a", "b"}),
        (("a", "b"), ("b", "c"), {"b"}),
        (("a",), ("c",), set()),
    ],
)
def test_the_tenants_allowed_models_narrow_the_keys(
    store: InMemoryControlStore,
    gate: AccessGate,
    tenant_models: tuple[str, ...],
    key_models: tuple[str, ...],
    expected: set[str],
) -> None:
    store.tenants["acme"] = Tenant("acme", allowed_models=tenant_models)
    assert gate.admit(caller(models=key_models), draft()).models == expected


def test_reads_are_cached_and_bounded(
    service: ControlService, store: InMemoryControlStore, gate: AccessGate, clock: Clock
) -> None:
    for _ in range(100):
        gate.admit(caller(), draft())
        gate.check_model(draft(), "m", "1")
    assert store.reads == 2  # the switches partition and the tenant, once per TTL
    service.set_switch("model:m", reason="model_defect", by="op")
    clock.now += 3.9
    gate.check_model(draft(), "m", "1")  # still within the TTL
    clock.now += 0.1
    with pytest.raises(ServiceDisabled):
        gate.check_model(draft(), "m", "1")


def test_an_unreadable_control_table_refuses(store: InMemoryControlStore, gate: AccessGate) -> None:
    store.fail = True
    with pytest.raises(ControlUnavailable) as refused:
        gate.admit(caller(), draft())
    assert refused.value.status == 503
    with pytest.raises(ControlUnavailable):
        gate.check_model(draft(), "m", "1")


def test_tenant_lifecycle_rules(service: ControlService) -> None:
    created = service.create_tenant("acme", allowed_models=["a", "a", "b"], audit_retention_days=30, by="op")
    assert created.allowed_models == ("a", "b") and created.audit_retention_days == 30
    with pytest.raises(TenantExists):
        service.create_tenant("acme", by="op")
    with pytest.raises(TenantNotFound):
        service.suspend("nobody", reason="abuse", by="op")
    assert [t.tenant_id for t in service.list_tenants()] == ["acme"]
    suspended = service.suspend("acme", reason="billing", by="op")
    assert suspended.suspended and suspended.reason == "billing"
    assert not service.resume("acme", reason="billing", by="op").suspended


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.create_tenant("bad tenant!", by="op"),
        lambda s: s.create_tenant("acme", allowed_models=[], by="op"),
        lambda s: s.create_tenant("acme", allowed_models=["bad model"], by="op"),
        lambda s: s.create_tenant("acme", audit_retention_days=0, by="op"),
        lambda s: s.suspend("acme", reason="because I said so", by="op"),
        lambda s: s.suspend("acme", reason="abuse", note="x" * 501, by="op"),
        lambda s: s.set_switch("everything", reason="abuse", by="op"),
        lambda s: s.set_switch("version:m", reason="abuse", by="op"),
        lambda s: s.set_switch("tenant:", reason="abuse", by="op"),
        lambda s: s.set_switch("global", reason="nope", by="op"),
        lambda s: s.clear_switch("model:", reason="abuse"),
    ],
)
def test_bad_operator_input_is_refused(service: ControlService, call: object) -> None:
    with pytest.raises(InvalidInput):
        call(service)  # type: ignore[operator]


def test_scopes_round_trip() -> None:
    for text in ("global", "tenant:acme", "model:all-minilm-l6-v2", "version:credit-risk@1"):
        assert str(Scope.parse(text)) == text


def test_clearing_what_is_not_thrown_says_so(service: ControlService) -> None:
    assert service.clear_switch("model:m", reason="incident") is False
