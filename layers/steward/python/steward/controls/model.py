"""What the control table holds: tenants and kill switches, their names and reason codes.

An operator gives a *reason code* (`REASON_CODES`) with every suspension and switch: that code is
what callers see in the refusal and what the audit record carries. The operator's free-text note
is kept only on the control item (read back by ``list`` for platform admins), never in a refusal,
a log line or an audit record: an operator may write anything there, so it is stored with any
personal data in it redacted (`steward.controls.service`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

#: Why a tenant is suspended or a switch is thrown; the only words a caller is ever shown.
REASON_CODES = (
    "abuse",
    "security",
    "legal",
    "billing",
    "incident",
    "maintenance",
    "model_defect",
    "policy_violation",
    "customer_request",
    "other",
)
MAX_NOTE_CHARS = 500
MAX_ALLOWED_MODELS = 1000
ALL_MODELS = "*"  # as in `steward.auth.keys`: a tenant allowed every model
DEFAULT_RETENTION_DAYS = 400
MAX_RETENTION_DAYS = 3650
#: Starts with a letter or digit, so no tenant can be named like the partitions Steward keeps
#: for itself (``_unauthenticated`` for anonymous audit records, ``@platform`` for the CLI's).
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
VERSION_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: What `Scope.parse` accepts, as one pattern (the OpenAPI document states it).
SCOPE_PATTERN = (
    r"^(global|tenant:[A-Za-z0-9][A-Za-z0-9._-]{0,127}|model:[A-Za-z0-9._-]{1,200}"
    r"|version:[A-Za-z0-9._-]{1,200}@[A-Za-z0-9._-]{1,64})$"
)
#: An entry of a tenant's allowed models: a model name or ``*``.
ALLOWED_MODEL_PATTERN = r"^(\*|[A-Za-z0-9._-]{1,200})$"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class ScopeKind(StrEnum):
    GLOBAL = "global"
    TENANT = "tenant"
    MODEL = "model"
    VERSION = "version"


def check_reason(reason: str) -> str:
    if reason not in REASON_CODES:
        raise ValueError(f"reason must be one of: {', '.join(REASON_CODES)}")
    return reason


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"note may be at most {MAX_NOTE_CHARS} characters")
    return note


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID.fullmatch(tenant_id):
        raise ValueError("tenant id: 1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    return tenant_id


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a switch applies: ``global``, ``tenant:T``, ``model:M`` or ``version:M@V``."""

    kind: ScopeKind
    tenant: str = ""
    model: str = ""
    version: str = ""

    @classmethod
    def parse(cls, text: str) -> Scope:
        kind, _, rest = text.partition(":")
        if kind == ScopeKind.GLOBAL and not rest:
            return cls(ScopeKind.GLOBAL)
        if kind == ScopeKind.TENANT and TENANT_ID.fullmatch(rest):
            return cls(ScopeKind.TENANT, tenant=rest)
        if kind == ScopeKind.MODEL and MODEL_NAME.fullmatch(rest):
            return cls(ScopeKind.MODEL, model=rest)
        model, at, version = rest.partition("@")
        if (
            kind == ScopeKind.VERSION
            and at
            and MODEL_NAME.fullmatch(model)
            and VERSION_NAME.fullmatch(version)
        ):
            return cls(ScopeKind.VERSION, model=model, version=version)
        raise ValueError("scope must be global, tenant:T, model:M or version:M@V")

    def __str__(self) -> str:
        if self.kind is ScopeKind.GLOBAL:
            return "global"
        if self.kind is ScopeKind.TENANT:
            return f"tenant:{self.tenant}"
        if self.kind is ScopeKind.MODEL:
            return f"model:{self.model}"
        return f"version:{self.model}@{self.version}"


@dataclass(frozen=True, slots=True)
class KillSwitch:
    scope: Scope
    reason: str
    set_at: int
    set_by: str
    note: str = ""

    def public(self) -> dict[str, object]:
        """The platform admin's view (``list``): the note included, for the operators only."""
        return {
            "scope": str(self.scope),
            "reason": self.reason,
            "note": self.note,
            "set_at": self.set_at,
            "set_by": self.set_by,
        }


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    status: TenantStatus = TenantStatus.ACTIVE
    allowed_models: tuple[str, ...] = (ALL_MODELS,)
    audit_retention_days: int = DEFAULT_RETENTION_DAYS
    reason: str = ""  # the reason code of the last suspension or resumption
    note: str = ""
    created_at: int = 0
    updated_at: int = 0
    updated_by: str = ""

    @property
    def suspended(self) -> bool:
        return self.status is TenantStatus.SUSPENDED

    def allows(self, models: frozenset[str]) -> frozenset[str]:
        """A key's model scope narrowed to what the tenant may use (``*`` on either side: the other)."""
        if ALL_MODELS in self.allowed_models:
            return models
        allowed = frozenset(self.allowed_models)
        return allowed if ALL_MODELS in models else models & allowed

    def public(self) -> dict[str, object]:
        return {
            "tenant_id": self.tenant_id,
            "status": self.status.value,
            "allowed_models": list(self.allowed_models),
            "audit_retention_days": self.audit_retention_days,
            "reason": self.reason or None,
            "note": self.note,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


class TenantExistsError(Exception):
    pass


class TenantMissingError(LookupError):
    pass


class ControlStore(Protocol):
    """The control table (`steward.adapters.control_store`; `tests.fakes.InMemoryControlStore`)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]: ...

    def create_tenant(self, tenant: Tenant) -> None:
        """Raises `TenantExistsError` if the tenant is already there (conditional put)."""
        ...

    def set_tenant_status(
        self, tenant_id: str, status: TenantStatus, *, reason: str, note: str, at: int, by: str
    ) -> Tenant:
        """Raises `TenantMissingError` for an unknown tenant (conditional update)."""
        ...

    def list_switches(self) -> list[KillSwitch]: ...

    def put_switch(self, switch: KillSwitch) -> None: ...

    def delete_switch(self, scope: Scope) -> bool:
        """True if a switch was there (and is now gone)."""
        ...
