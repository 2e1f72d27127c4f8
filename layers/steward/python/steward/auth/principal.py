"""Who is calling: the identity the authorizer establishes and the api function reads back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steward.auth.keys import (
    ADMIN_SCOPE,
    ALL_MODELS,
    DEFAULT_POLICY_VERSION,
    NO_LIMITS,
    PLATFORM_ADMIN_SCOPE,
    KeyLimits,
    KeyRecord,
)

#: Authorizer context members holding the key's own limits (absent: no per-key limit).
_LIMIT_FIELDS = (("limit_rpm", "rpm"), ("limit_daily", "daily"), ("limit_monthly", "monthly"))


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    models: frozenset[str]
    policy_version: str = DEFAULT_POLICY_VERSION
    limits: KeyLimits = NO_LIMITS

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def may_administer(self, tenant_id: str) -> bool:
        """Admin keys administer their own tenant; ``platform-admin`` keys administer any tenant."""
        if PLATFORM_ADMIN_SCOPE in self.scopes:
            return True
        return self.is_admin and tenant_id == self.tenant_id

    def may_use(self, model: str) -> bool:
        return ALL_MODELS in self.models or model in self.models

    @classmethod
    def from_record(cls, record: KeyRecord) -> Principal:
        return cls(
            tenant_id=record.tenant_id,
            key_id=record.key_id,
            scopes=frozenset(record.scopes),
            models=frozenset(record.models),
            policy_version=record.policy_version,
            limits=record.limits,
        )

    def to_context(self) -> dict[str, str | int]:
        """API Gateway authorizer context: values must be strings, numbers or booleans."""
        context: dict[str, str | int] = {
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "scopes": ",".join(sorted(self.scopes)),
            "models": ",".join(sorted(self.models)),
            "policy_version": self.policy_version,
        }
        for member, attribute in _LIMIT_FIELDS:
            value = getattr(self.limits, attribute)
            if value is not None:
                context[member] = value
        return context

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Principal | None:
        """Read back what the authorizer put into ``requestContext.authorizer``."""
        tenant_id = str(context.get("tenant_id") or "")
        key_id = str(context.get("key_id") or "")
        if not tenant_id or not key_id:
            return None
        return cls(
            tenant_id=tenant_id,
            key_id=key_id,
            scopes=_split(context.get("scopes")),
            models=_split(context.get("models")),
            policy_version=str(context.get("policy_version") or DEFAULT_POLICY_VERSION),
            limits=KeyLimits(**{name: _count(context.get(member)) for member, name in _LIMIT_FIELDS}),
        )


def _count(value: Any) -> int | None:
    """A limit read back from the context (API Gateway may hand numbers back as strings)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _split(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())
