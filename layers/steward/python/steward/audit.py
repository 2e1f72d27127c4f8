"""Audit records: exactly one per governed request, never raw content, never secrets.

The api function fills an :class:`AuditDraft` while it handles a request and writes the record
built by :func:`build_record` before the response is released. Inputs and outputs appear only as
SHA-256 hashes and byte counts; PII appears only as counts per entity type.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.errors import InvalidInput

ANONYMOUS_TENANT = "_unauthenticated"
SECONDS_PER_DAY = 86_400


@dataclass
class AuditDraft:
    """Mutable per-request facts, filled in as the request moves through the gateway."""

    request_id: str
    method: str
    route: str
    started_at: float  # epoch seconds
    tenant_id: str = ANONYMOUS_TENANT
    key_id: str = ""
    policy_version: str = ""
    model: str = ""
    model_version: str = ""
    artifact_digest: str = ""
    backend_kind: str = ""
    backend_attempts: int = 0
    backend_latency_ms: float | None = None
    n_inputs: int = 0
    error_code: str = ""
    reason_codes: list[str] = field(default_factory=list)
    pii_counts: dict[str, int] = field(default_factory=dict)
    input_sha256: str = ""
    input_bytes: int = 0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decision_for(status: int) -> str:
    if status < 400:
        return "allow"
    return "deny" if status < 500 else "error"


def build_record(
    draft: AuditDraft,
    *,
    status: int,
    output_sha256: str,
    output_bytes: int,
    latency_ms: float,
    retention_days: int,
) -> dict[str, Any]:
    """The stored record (plain JSON types). ``sk`` sorts by time and is unique per request."""
    when = datetime.fromtimestamp(draft.started_at, tz=UTC)
    timestamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    reasons = list(draft.reason_codes)
    if draft.error_code and draft.error_code not in reasons:
        reasons.append(draft.error_code)
    record: dict[str, Any] = {
        "tenant_id": draft.tenant_id,
        "sk": f"{timestamp}#{draft.request_id}",
        "request_id": draft.request_id,
        "timestamp": timestamp,
        "key_id": draft.key_id,
        "route": f"{draft.method} {draft.route}",
        "model": draft.model,
        "model_version": draft.model_version,
        "artifact_digest": draft.artifact_digest,
        "backend_kind": draft.backend_kind,
        "backend_attempts": draft.backend_attempts,
        "policy_version": draft.policy_version,
        "decision": decision_for(status),
        "reason_codes": reasons,
        "status": status,
        "pii_counts": dict(draft.pii_counts),
        "n_inputs": draft.n_inputs,
        "input_sha256": draft.input_sha256,
        "input_bytes": draft.input_bytes,
        "output_sha256": output_sha256,
        "output_bytes": output_bytes,
        "latency_ms": round(latency_ms, 3),
        "expires_at": int(draft.started_at) + retention_days * SECONDS_PER_DAY,
    }
    if draft.backend_latency_ms is not None:
        record["backend_latency_ms"] = round(draft.backend_latency_ms, 3)
    return record


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
    "input_sha256",
    "input_bytes",
    "output_sha256",
    "output_bytes",
    "latency_ms",
    "backend_latency_ms",
)


def public_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in PUBLIC_FIELDS if name in record}


@dataclass(frozen=True)
class AuditPage:
    records: list[dict[str, Any]]
    next_cursor: str | None


class AuditStore(Protocol):
    def put(self, record: Mapping[str, Any]) -> None: ...

    def query(
        self, tenant_id: str, *, limit: int, after_sk: str | None, key_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; returns the records and the ``sk`` to continue after (or ``None``)."""
        ...


def encode_cursor(sk: str | None) -> str | None:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=") if sk else None


_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,400}")


def decode_cursor(cursor: str | None) -> str | None:
    """Cursors carry only the sort key; the tenant always comes from the caller's identity."""
    if not cursor:
        return None
    # Our cursors are URL-safe base64 of an ASCII sort key; anything else (non-ASCII text, which
    # the base64 decoder itself refuses with a bare ValueError) is simply not one of ours.
    if not _CURSOR.fullmatch(cursor):
        raise InvalidInput("The cursor is not valid.")
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        raise InvalidInput("The cursor is not valid.") from None
    if "#" not in sk or len(sk) > 200 or not sk.isprintable():
        raise InvalidInput("The cursor is not valid.")
    return sk
