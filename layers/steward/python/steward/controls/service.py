"""Operator actions on tenants and kill switches: the one implementation behind the ``steward``
CLI (``tenants``, ``kill``) and the platform-admin routes (``/admin/tenants``, ``/admin/kill-switches``).

Inputs are checked here (tenant ids, scopes, reason codes, note length, retention), so both ways
in refuse the same things with the same words; an operator's note is stored with any personal data
in it redacted (``<EMAIL_ADDRESS>``, `steward.privacy.free_text`), so both store the same. A
change is written straight to the control table; every warm api process applies it within the
5 s freshness bound (`steward.controls.gate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from steward.controls.model import (
    ALL_MODELS,
    DEFAULT_RETENTION_DAYS,
    MAX_ALLOWED_MODELS,
    MAX_RETENTION_DAYS,
    MODEL_NAME,
    ControlStore,
    KillSwitch,
    Scope,
    Tenant,
    TenantExistsError,
    TenantMissingError,
    TenantStatus,
    check_note,
    check_reason,
    check_tenant_id,
)
from steward.errors import InvalidInput, TenantExists, TenantNotFound
from steward.privacy.free_text import redact_free_text


def _checked(check: Callable[[], object]) -> None:
    try:
        check()
    except ValueError as error:
        raise InvalidInput(str(error)) from None


class ControlService:
    def __init__(self, store: ControlStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    # --- tenants ---------------------------------------------------------------------------

    def create_tenant(
        self,
        tenant_id: str,
        *,
        allowed_models: Sequence[str] = (ALL_MODELS,),
        audit_retention_days: int = DEFAULT_RETENTION_DAYS,
        by: str,
    ) -> Tenant:
        models = tuple(dict.fromkeys(m.strip() for m in allowed_models if m.strip()))
        _checked(lambda: check_tenant_id(tenant_id))
        if not 0 < len(models) <= MAX_ALLOWED_MODELS or not all(
            m == ALL_MODELS or MODEL_NAME.fullmatch(m) for m in models
        ):
            raise InvalidInput(
                f"allowed_models: 1 to {MAX_ALLOWED_MODELS} model names (A-Z a-z 0-9 . _ -), or '*'"
            )
        if not 1 <= audit_retention_days <= MAX_RETENTION_DAYS:
            raise InvalidInput(f"audit_retention_days must be 1 to {MAX_RETENTION_DAYS}")
        now = int(self._clock())
        tenant = Tenant(
            tenant_id,
            allowed_models=(ALL_MODELS,) if ALL_MODELS in models else models,
            audit_retention_days=audit_retention_days,
            created_at=now,
            updated_at=now,
            updated_by=by,
        )
        try:
            self._store.create_tenant(tenant)
        except TenantExistsError:
            raise TenantExists() from None
        return tenant

    def list_tenants(self) -> list[Tenant]:
        return sorted(self._store.list_tenants(), key=lambda t: t.tenant_id)

    def tenant(self, tenant_id: str) -> Tenant:
        _checked(lambda: check_tenant_id(tenant_id))
        found = self._store.get_tenant(tenant_id)
        if found is None:
            raise TenantNotFound()
        return found

    def suspend(self, tenant_id: str, *, reason: str, note: str = "", by: str) -> Tenant:
        """Every key of the tenant is refused (403 ``tenant.suspended``) within 5 s."""
        return self._set_status(tenant_id, TenantStatus.SUSPENDED, reason, note, by)

    def resume(self, tenant_id: str, *, reason: str, note: str = "", by: str) -> Tenant:
        return self._set_status(tenant_id, TenantStatus.ACTIVE, reason, note, by)

    def _set_status(self, tenant_id: str, status: TenantStatus, reason: str, note: str, by: str) -> Tenant:
        _checked(lambda: (check_tenant_id(tenant_id), check_reason(reason), check_note(note)))
        try:
            return self._store.set_tenant_status(
                tenant_id, status, reason=reason, note=redact_free_text(note), at=int(self._clock()), by=by
            )
        except TenantMissingError:
            raise TenantNotFound() from None

    # --- kill switches ---------------------------------------------------------------------

    def set_switch(self, scope: str, *, reason: str, note: str = "", by: str) -> KillSwitch:
        """Throw (or re-throw, with a new reason) the switch at ``scope``."""
        parsed = self._scope(scope)
        _checked(lambda: (check_reason(reason), check_note(note)))
        switch = KillSwitch(parsed, reason, set_at=int(self._clock()), set_by=by, note=redact_free_text(note))
        self._store.put_switch(switch)
        return switch

    def clear_switch(self, scope: str, *, reason: str) -> bool:
        """Clear the switch at ``scope``; False if none was thrown there (nothing changes)."""
        parsed = self._scope(scope)
        _checked(lambda: check_reason(reason))
        return self._store.delete_switch(parsed)

    def list_switches(self) -> list[KillSwitch]:
        return sorted(self._store.list_switches(), key=lambda s: str(s.scope))

    @staticmethod
    def _scope(text: str) -> Scope:
        try:
            return Scope.parse(text)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
