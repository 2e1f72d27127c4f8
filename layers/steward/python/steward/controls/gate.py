"""The per-request check of tenant state and kill switches, in the api function.

Why the api function and not the authorizer: a REQUEST authorizer can only allow, deny (API
Gateway's one fixed 403 body for every denial) or fail, so it can neither answer 503
``service.disabled`` nor name a reason code, and it never sees the model a call resolves to
(model and version switches need the version `Catalog.resolve` picked). Checking here also puts
every refusal in the request's audit record. It is still one check per request for every route:
`functions.api.deps.call_context` (which every keyed route depends on) calls `AccessGate.admit`.

Cost: the switches (one Query of one small partition) and each tenant's item (one GetItem) are
read through `steward.ttl_cache.TtlCache`, so a warm process reads each at most once per TTL
(default 4 s: a change is in force everywhere within the 5 s promise) whatever the traffic; a
request served from the cache costs a few microseconds (``scripts/measure_controls.py``).

Why a DynamoDB flag item rather than Powertools Feature Flags on AppConfig: moto, the local stack's
AWS, implements AppConfig's control plane but not AppConfigData (``GetLatestConfiguration``, what
Powertools' store reads), so an AppConfig switch could not be tested end to end here; a deployment
also takes as long as its strategy's bake time unless tuned to "all at once"; and the table
already holds the tenants the same check reads. A read that fails refuses the request (503
``control.unavailable``): the gate fails closed.

A tenant without an item in the table (keys issued before tenants were managed) is treated as
active with every model allowed; `steward tenants create` takes it under management.

The same cached tenant item gives the request's audit record its retention (the plan's
``audit_retention_days``, `note_retention`): in steady state that costs no read at all, and a
request refused before any route (413, malformed JSON, an unknown path) reads through the same
cache. Without a plan item, or when it can't be read, the stage default applies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from steward.audit.record import ANONYMOUS_TENANT, AuditDraft
from steward.auth.principal import Principal
from steward.controls.model import MAX_RETENTION_DAYS, ControlStore, KillSwitch, ScopeKind, Tenant
from steward.errors import ControlUnavailable, ServiceDisabled, TenantSuspended
from steward.ttl_cache import DEFAULT_TTL_S, TtlCache

logger = logging.getLogger("steward.controls")
T = TypeVar("T")
_ALL = "switches"


class AccessGate:
    def __init__(
        self,
        store: ControlStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        max_tenants: int = 1024,
    ) -> None:
        self._store = store
        self._switches: TtlCache[str, dict[str, KillSwitch]] = TtlCache(ttl_s, monotonic=monotonic)
        self._tenants: TtlCache[str, Tenant | None] = TtlCache(
            ttl_s, monotonic=monotonic, max_entries=max_tenants, is_miss=lambda t: t is None
        )

    def admit(self, principal: Principal, draft: AuditDraft, *, admin_route: bool = False) -> Principal:
        """The caller as it may act now: refused if its tenant is suspended (or switched off), or,
        off the admin routes, under the global switch; its models narrowed to the tenant's."""
        draft.retention_looked_up = True  # read here (or refused here): the record reads nothing more
        switches = self._read(self._all_switches)
        tenant = self._read(lambda: self._cached_tenant(principal.tenant_id))
        draft.retention_days = _retention(tenant)
        if tenant is not None and tenant.suspended:
            draft.reason_codes.append(f"reason.{tenant.reason or 'other'}")
            raise TenantSuspended(tenant.reason or "other")
        switch = switches.get(f"tenant:{principal.tenant_id}")  # keys as `Scope.__str__` writes them
        if switch is not None:
            raise _refusal(draft, switch)
        switch = switches.get("global")
        if switch is not None and not admin_route:
            raise _refusal(draft, switch)
        if tenant is None:
            return principal
        models = tenant.allows(principal.models)
        return principal if models == principal.models else replace(principal, models=models)

    def check_model(self, draft: AuditDraft, model: str, version: str) -> None:
        """Refuse a call routed to a switched-off model or model version (before any backend)."""
        switches = self._read(self._all_switches)
        switch = switches.get(f"version:{model}@{version}") or switches.get(f"model:{model}")
        if switch is not None:
            raise _refusal(draft, switch)

    def switched_off(self, model: str, version: str) -> bool:
        """Whether a switch covers this model version, without refusing anything: a shadow copy
        to a switched-off version is simply not sent."""
        switches = self._read(self._all_switches)
        return f"version:{model}@{version}" in switches or f"model:{model}" in switches

    def _all_switches(self) -> dict[str, KillSwitch]:
        return self._switches.get(_ALL, lambda: {str(s.scope): s for s in self._store.list_switches()})

    def note_retention(self, draft: AuditDraft) -> None:
        """The plan's audit retention on the draft of a request no route admitted (`admit` does it
        for the rest): from the cache, and a failed read leaves the stage default (the request is
        answered already; its record must still be written)."""
        if draft.retention_looked_up or draft.tenant_id == ANONYMOUS_TENANT:
            return
        draft.retention_looked_up = True
        try:
            draft.retention_days = _retention(self._cached_tenant(draft.tenant_id))
        except Exception as error:
            logger.warning("tenant plan unreadable", extra={"error_type": type(error).__name__})

    def retention(self, tenant_id: str) -> int | None:
        """The tenant plan's audit retention (None: the stage default), for records no request
        draft carries (a batch chunk's); `ControlUnavailable` if the plan can't be read, so such a
        writer retries rather than keep a record for a period the plan does not say."""
        return _retention(self._read(lambda: self._cached_tenant(tenant_id)))

    def _cached_tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id, lambda: self._store.get_tenant(tenant_id))

    @staticmethod
    def _read(read: Callable[[], T]) -> T:
        try:
            return read()
        except Exception as error:
            logger.error("control table unreadable", extra={"error_type": type(error).__name__})
            raise ControlUnavailable() from None


def _retention(tenant: Tenant | None) -> int | None:
    """The plan's retention; None (the stage default) without a plan or with an unset one."""
    days = tenant.audit_retention_days if tenant is not None else 0
    return min(days, MAX_RETENTION_DAYS) if days >= 1 else None


def _refusal(draft: AuditDraft, switch: KillSwitch) -> TenantSuspended | ServiceDisabled:
    """The switch's answer; the audit draft notes which kind of switch and its reason code."""
    draft.reason_codes.extend((f"kill.{switch.scope.kind.value}", f"reason.{switch.reason}"))
    if switch.scope.kind is ScopeKind.TENANT:
        return TenantSuspended(switch.reason)
    return ServiceDisabled(switch.reason, scope=switch.scope.kind.value)
