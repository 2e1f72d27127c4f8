"""Who is calling: the identity the authorizer establishes and the api function reads back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steward.auth.keys import ADMIN_SCOPE, ALL_MODELS, DEFAULT_POLICY_VERSION, PLATFORM_ADMIN_SCOPE, KeyRecord


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    models: frozenset[str]
    policy_version: str = DEFAULT_POLICY_VERSION

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
        )

    def to_context(self) -> dict[str, str]:
        """API Gateway authorizer context: values must be strings, numbers or booleans."""
        return {
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "scopes": ",".join(sorted(self.scopes)),
            "models": ",".join(sorted(self.models)),
            "policy_version": self.policy_version,
        }

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
        )


def _split(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())
