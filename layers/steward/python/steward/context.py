"""The one request a use case serves: who calls, the audit draft it adds to, and its id.

Every use-case service (`steward.catalog.service`, `steward.inference.service`, ...) takes a
`RequestContext` first, so the caller and the audit draft can't be threaded apart or mixed up.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.audit.record import AuditDraft
from steward.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class RequestContext:
    """A governed request: the authenticated caller and the audit draft the envelope opened."""

    principal: Principal
    draft: AuditDraft

    @property
    def request_id(self) -> str:
        """The id the caller sees (``X-Request-Id``) and the audit record carries."""
        return self.draft.request_id

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id
