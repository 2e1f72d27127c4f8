"""The control table against moto server: tenants and kill switches as the api function reads them
(`DynamoControlStore` behind `AccessGate`), written as the CLI writes them (`ControlService`)."""

from __future__ import annotations

import pytest
from steward.adapters.control_store import DynamoControlStore
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.controls.gate import AccessGate
from steward.controls.service import ControlService
from steward.errors import ServiceDisabled, TenantExists, TenantNotFound, TenantSuspended
from steward.resources import ResourceNames

from .conftest import REGION

pytestmark = pytest.mark.integration


def _draft() -> AuditDraft:
    return AuditDraft(request_id="r", method="GET", route="/x", started_at=0.0)


def test_tenants_and_switches_round_trip_and_gate(names: ResourceNames) -> None:
    store = DynamoControlStore(names.control_table.name, region=REGION)
    operator = ControlService(store)
    gate = AccessGate(store, ttl_s=0)  # every request reads: what a change looks like past the TTL
    caller = Principal("ctl-acme", "k", frozenset(), frozenset({"*"}))

    created = operator.create_tenant(
        "ctl-acme", allowed_models=["m1", "m2"], audit_retention_days=90, by="cli"
    )
    with pytest.raises(TenantExists):
        operator.create_tenant("ctl-acme", by="cli")
    assert store.get_tenant("ctl-acme") == created
    assert gate.admit(caller, _draft()).models == {"m1", "m2"}

    operator.suspend("ctl-acme", reason="abuse", note="operator only", by="cli")
    with pytest.raises(TenantSuspended):
        gate.admit(caller, _draft())
    operator.resume("ctl-acme", reason="customer_request", by="cli")
    gate.admit(caller, _draft())
    with pytest.raises(TenantNotFound):
        operator.suspend("ctl-nobody", reason="abuse", by="cli")
    assert "ctl-acme" in [t.tenant_id for t in operator.list_tenants()]

    for scope, error in (
        ("global", ServiceDisabled),
        ("tenant:ctl-acme", TenantSuspended),
        ("model:m1", ServiceDisabled),
        ("version:m1@1", ServiceDisabled),
    ):
        operator.set_switch(scope, reason="incident", note="n", by="cli")
        assert [str(s.scope) for s in operator.list_switches()] == [scope]
        with pytest.raises(error):
            gate.admit(caller, _draft())
            gate.check_model(_draft(), "m1", "1")
        assert operator.clear_switch(scope, reason="incident") is True
        assert operator.clear_switch(scope, reason="incident") is False
        gate.admit(caller, _draft())
        gate.check_model(_draft(), "m1", "1")
