"""Audit records: exactly one per governed request, never raw content, never secrets.

The api function fills an :class:`AuditDraft` while it handles a request and writes the record
built by :func:`build_record` before the response is released. Inputs and outputs appear only as
keyed MACs (HMAC-SHA256 under a per-tenant key derived from the pepper) and byte counts: a plain
hash of a short input (an SSN) is reversed by brute force in seconds, a MAC is not without the
pepper, and the same text sent by two tenants can't be linked. PII appears only as counts per
entity type.

A record is created once and never overwritten, except by a *correction*: when the first write's
outcome is unknown (timed out; it may still land later) the caller gets 503 ``audit.unavailable``
and the record is replaced by one saying exactly that. Since the first write only creates, a late
landing can't overwrite the correction, so no record ever says 200 for a caller who got 503.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.errors import AuditUnavailable

logger = logging.getLogger("steward.audit")
ANONYMOUS_TENANT = "_unauthenticated"
SECONDS_PER_DAY = 86_400
#: Labels of the audit MAC keys; distinct from every other use of the pepper (API key hashes,
#: the ``hash`` PII operator), and the anonymous label is no tenant's label (no ``:`` suffix).
AUDIT_KEY_LABEL = b"steward-audit-mac:"
ANONYMOUS_AUDIT_LABEL = b"steward-audit-mac-anonymous"
#: Label of the key operator identities are MACed under (`operator_id`); no other label's prefix.
OPERATOR_LABEL = b"steward-audit-operator"


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
    input_hmac: str = ""
    input_bytes: int = 0
    #: Headers the answer carries whatever it is (``RateLimit-*``, `steward.limits`); never stored.
    response_headers: dict[str, str] = field(default_factory=dict)
    #: The tenant plan's audit retention (`steward.controls.gate`): None means the stage default
    #: (no plan item, an unauthenticated caller, or the plan could not be read).
    retention_days: int | None = None
    #: The plan was looked up already (successfully or not): the record never costs a second read.
    retention_looked_up: bool = False

    def withheld(self, code: str) -> None:
        """The caller gets ``code`` instead of the outcome recorded so far (kept as a reason)."""
        if self.error_code and self.error_code not in self.reason_codes:
            self.reason_codes.append(self.error_code)
        self.error_code = code


def tenant_audit_key(pepper: bytes, tenant_id: str | None) -> bytes:
    """The tenant's audit MAC key, HMAC(pepper, label + tenant); ``None`` is the unauthenticated caller.

    Derived, not stored (no new secret), different per tenant, useless without the pepper.
    """
    label = ANONYMOUS_AUDIT_LABEL if tenant_id is None else AUDIT_KEY_LABEL + _utf8(tenant_id)
    return hmac.new(pepper, label, hashlib.sha256).digest()


def mac_hex(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # never fails, whatever a caller typed


class AuditKeys:
    """Per-tenant audit MAC keys: the pepper is read once per process, each key derived once.

    Fails closed: without the pepper no record can be written, so the request is refused with
    503 ``audit.unavailable`` (the next request tries again; a success is cached for good).
    """

    def __init__(self, pepper: Callable[[], bytes]) -> None:
        self._pepper_source = pepper
        self._pepper: bytes | None = None
        self._keys: dict[str | None, bytes] = {}
        self._lock = threading.Lock()

    def cached(self, tenant_id: str | None) -> bytes | None:
        """The key if it needs no I/O (lets async callers skip a thread hop)."""
        return self._keys.get(tenant_id)

    def key(self, tenant_id: str | None) -> bytes:
        found = self._keys.get(tenant_id)
        if found is not None:
            return found
        with self._lock:
            if self._pepper is None:
                try:
                    self._pepper = self._pepper_source()
                except Exception:
                    raise AuditUnavailable() from None
            found = self._keys[tenant_id] = tenant_audit_key(self._pepper, tenant_id)
        return found


def operator_id(pepper: bytes, principal_arn: str) -> str:
    """Who ran an operator (CLI) command, as its audit record's ``key_id``: ``cli:`` and 16 hex
    digits of HMAC(operator key, the AWS principal's ARN).

    An ARN names an IAM user or an SSO session, i.e. often a person, so it is never stored. The
    digest still links every action of one principal, across tenants and over time, and whoever
    holds the pepper can test a candidate ARN (one from CloudTrail) against it.
    """
    key = hmac.new(pepper, OPERATOR_LABEL, hashlib.sha256).digest()
    return "cli:" + mac_hex(key, _utf8(principal_arn))[:16]


def opaque_name(key: bytes, name: str) -> str:
    """A caller-typed name (an unresolved model) as a short keyed digest: denials stay traceable
    (same name, same digest, per tenant) without storing what was typed."""
    return "unresolved:" + mac_hex(key, _utf8(name))[:16]


def decision_for(status: int) -> str:
    if status < 400:
        return "allow"
    return "deny" if status < 500 else "error"


def build_record(
    draft: AuditDraft,
    *,
    status: int,
    output_hmac: str,
    output_bytes: int,
    latency_ms: float,
    retention_days: int,
) -> dict[str, Any]:
    """The stored record (plain JSON types). ``sk`` sorts by time and is unique per request.

    ``retention_days`` is the stage default: the tenant plan's (``draft.retention_days``) wins.
    """
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
        "input_hmac": draft.input_hmac,
        "input_bytes": draft.input_bytes,
        "output_hmac": output_hmac,
        "output_bytes": output_bytes,
        "latency_ms": round(latency_ms, 3),
        "expires_at": int(draft.started_at) + (draft.retention_days or retention_days) * SECONDS_PER_DAY,
    }
    if draft.backend_latency_ms is not None:
        record["backend_latency_ms"] = round(draft.backend_latency_ms, 3)
    return record


class AuditStore(Protocol):
    def put(self, record: Mapping[str, Any]) -> None:
        """Create the request's record; never replace one. Raises unless the write is confirmed.

        Finding the record already there (a retry after a try that landed) counts as written:
        the key holds the request id, and nothing but this request writes under it first.
        """
        ...

    def correct(self, record: Mapping[str, Any]) -> None:
        """Replace the request's record, whatever is there (the caller got something else)."""
        ...

    def query(
        self, tenant_id: str, *, limit: int, after_sk: str | None, key_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; returns the records and the ``sk`` to continue after (or ``None``)."""
        ...


class Corrections:
    """Corrections the store did not confirm, kept in this process and retried (bounded).

    A correction is an idempotent overwrite, so retrying it is always safe; it is retried after
    the next confirmed write, i.e. as soon as the store answers again.
    """

    def __init__(self, limit: int = 1000, per_flush: int = 8) -> None:
        self._pending: deque[Mapping[str, Any]] = deque()
        self._limit = limit
        self._per_flush = per_flush

    def __len__(self) -> int:
        return len(self._pending)

    def write(self, store: AuditStore, record: Mapping[str, Any]) -> bool:
        """Write ``record`` now; keep it for later if the store does not confirm it."""
        try:
            store.correct(record)
        except Exception:
            if len(self._pending) < self._limit:
                self._pending.append(record)
            else:
                logger.error("audit correction dropped: too many pending")
            return False
        return True

    def flush(self, store: AuditStore) -> None:
        """Retry a few pending corrections (oldest first); stop at the first that fails."""
        for _ in range(self._per_flush):
            try:
                record = self._pending.popleft()
            except IndexError:
                return
            try:
                store.correct(record)
            except Exception:
                self._pending.appendleft(record)
                return
