"""Reading the audit trail back: the fields a caller may see and the opaque paging cursor.

``GET /v1/audit`` pages a tenant's records newest first through `AuditStore.query`
(`steward.audit.record`); the cursor is the store's sort key, URL-safe base64 without padding, and
only `PUBLIC_FIELDS` leave the service (storage keys stay internal).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from steward.audit.record import AuditStore
from steward.context import RequestContext
from steward.errors import InvalidInput

#: Fields shown to callers of ``GET /v1/audit`` (storage keys stay internal).
PUBLIC_FIELDS = (
    "request_id",
    "timestamp",
    "key_id",
    "route",
    "model",
    "model_version",
    "artifact_digest",
    "policy_version",
    "decision",
    "reason_codes",
    "status",
    "pii_counts",
    "n_inputs",
    "input_hmac",
    "input_bytes",
    "output_hmac",
    "output_bytes",
    "latency_ms",
    "backend_latency_ms",
)


def public_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in PUBLIC_FIELDS if name in record}


def encode_cursor(sk: str | None) -> str | None:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=") if sk else None


#: A cursor as the OpenAPI document states it: unpadded URL-safe base64 of at most 300 bytes.
CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{4}){0,100}(?:[A-Za-z0-9_-]{2,3})?$"
_CURSOR = re.compile(CURSOR_PATTERN)


def decode_cursor(cursor: str | None) -> str | None:
    """A cursor is a position in the caller's own trail (the tenant always comes from the key),
    so every well-formed one is accepted: the pattern is the whole rule, as documented. Ours are
    ASCII sort keys; other bytes read as Latin-1 are just another position."""
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):  # also keeps non-ASCII text away from the base64 decoder
        raise InvalidInput("The cursor is not valid.")
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("latin-1")


class AuditReader:
    """``GET /v1/audit``: the caller's own records, newest first. An admin key sees its tenant,
    other keys see themselves; the tenant always comes from the key, never from the request."""

    def __init__(self, store: AuditStore, max_page: int = 100) -> None:
        self.store = store
        self.max_page = max_page

    def page(self, ctx: RequestContext, limit: int, cursor: str | None) -> dict[str, Any]:
        principal = ctx.principal
        records, next_sk = self.store.query(
            principal.tenant_id,
            limit=max(1, min(limit, self.max_page)),
            after_sk=decode_cursor(cursor),
            key_id=None if principal.is_admin else principal.key_id,
        )
        return {
            "object": "list",
            "data": [public_view(r) for r in records],
            "next_cursor": encode_cursor(next_sk),
        }
