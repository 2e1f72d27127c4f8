"""The audit records of a chunk: one per model version its lines ran on, in the existing format.

Why per chunk and not per line: a tenant's audit trail is one MAC chain whose records commit one
at a time (`steward.audit.chain`); a batch of 50,000 lines writing 50,000 records would hold the
tenant's chain for minutes and crowd out its synchronous requests, whose audit write is the last
step before every answer. Per chunk, a batch writes one record per ``batch_chunk_lines`` lines.
Nothing the per-line record would hold is lost to the trail: the chunk's record holds the lines'
decisions as reason codes (each distinct refusal code), their PII counts summed by type, their
backend attempts and latency summed, ``n_inputs`` = the number of lines, and MACs over the
lines as the caller wrote them and over the output lines, under the tenant's audit key. Lines that
resolved to different model versions are kept apart (one record each), so ``model@version`` and
the artifact digest of a record are exact; lines whose model did not resolve share a record with
no model. The per-line detail is in the output and error files, by the same request ids.

Status: 200 when every line of the record succeeded, the highest of the lines' statuses when all
were refused, else 207 (Multi-Status); ``decision`` follows from it as for any record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from steward.audit.record import AuditDraft, build_record, mac_hex

MULTI_STATUS = 207
#: The method of a chunk's records (their route is the endpoint's template).
BATCH_METHOD = "BATCH"


@dataclass(frozen=True)
class LineTrace:
    """What one line leaves for the audit trail (no content: ids, codes, counts and bytes)."""

    status: int
    code: str | None
    raw_input: bytes
    output: bytes
    model: str = ""
    model_version: str = ""
    artifact_digest: str = ""
    backend_kind: str = ""
    backend_attempts: int = 0
    backend_latency_ms: float | None = None
    reason_codes: tuple[str, ...] = ()
    pii_counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, draft: AuditDraft, status: int, code: str | None, raw_input: bytes, output: bytes
    ) -> LineTrace:
        resolved = bool(draft.model_version)
        return cls(
            status=status,
            code=code,
            raw_input=raw_input,
            output=output,
            model=draft.model if resolved else "",  # an unresolved name is the caller's text
            model_version=draft.model_version,
            artifact_digest=draft.artifact_digest if resolved else "",
            backend_kind=draft.backend_kind if resolved else "",
            backend_attempts=draft.backend_attempts,
            backend_latency_ms=draft.backend_latency_ms,
            reason_codes=tuple(draft.reason_codes),
            pii_counts=dict(draft.pii_counts),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "model": self.model,
            "model_version": self.model_version,
            "artifact_digest": self.artifact_digest,
            "backend_kind": self.backend_kind,
            "backend_attempts": self.backend_attempts,
            "backend_latency_ms": self.backend_latency_ms,
            "reason_codes": list(self.reason_codes),
            "pii_counts": self.pii_counts,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], raw_input: bytes, output: bytes) -> LineTrace:
        return cls(
            status=int(doc["status"]),
            code=doc.get("code"),
            raw_input=raw_input,
            output=output,
            model=str(doc.get("model") or ""),
            model_version=str(doc.get("model_version") or ""),
            artifact_digest=str(doc.get("artifact_digest") or ""),
            backend_kind=str(doc.get("backend_kind") or ""),
            backend_attempts=int(doc.get("backend_attempts") or 0),
            backend_latency_ms=doc.get("backend_latency_ms"),
            reason_codes=tuple(doc.get("reason_codes") or ()),
            pii_counts={str(k): int(v) for k, v in (doc.get("pii_counts") or {}).items()},
        )


@dataclass(frozen=True)
class ChunkAudit:
    """Who ran the chunk and when: the batch's key, its policy version, the chunk's start."""

    tenant_id: str
    key_id: str
    policy_version: str
    batch_id: str
    chunk: int
    route: str
    started_at: float
    latency_ms: float


def chunk_records(
    chunk: ChunkAudit, lines: Sequence[LineTrace], *, key: bytes, retention_days: int
) -> list[dict[str, Any]]:
    """The chunk's audit records (none for a chunk that ran no line: a cancelled batch's)."""
    groups: dict[tuple[str, str], list[LineTrace]] = {}
    for line in lines:
        groups.setdefault((line.model, line.model_version), []).append(line)
    records = []
    for n, group in enumerate(groups.values()):
        first = group[0]
        draft = AuditDraft(
            request_id=f"{chunk.batch_id}.{chunk.chunk:05d}.{n}",
            method=BATCH_METHOD,
            route=chunk.route,
            started_at=chunk.started_at,
            tenant_id=chunk.tenant_id,
            key_id=chunk.key_id,
            policy_version=chunk.policy_version,
            model=first.model,
            model_version=first.model_version,
            artifact_digest=first.artifact_digest,
            backend_kind=first.backend_kind,
            backend_attempts=sum(line.backend_attempts for line in group),
            n_inputs=len(group),
        )
        latencies = [line.backend_latency_ms for line in group if line.backend_latency_ms is not None]
        draft.backend_latency_ms = sum(latencies) if latencies else None
        codes: list[str] = []
        for line in group:
            for code in (*line.reason_codes, *([line.code] if line.code else [])):
                if code not in codes:
                    codes.append(code)
            for entity, count in line.pii_counts.items():
                draft.pii_counts[entity] = draft.pii_counts.get(entity, 0) + count
        draft.reason_codes = sorted(codes)
        inputs = b"\n".join(line.raw_input for line in group)
        outputs = b"\n".join(line.output for line in group)
        draft.input_hmac, draft.input_bytes = mac_hex(key, inputs), len(inputs)
        records.append(
            build_record(
                draft,
                status=_status(group),
                output_hmac=mac_hex(key, outputs),
                output_bytes=len(outputs),
                latency_ms=chunk.latency_ms,
                retention_days=retention_days,
            )
        )
    return records


def _status(group: Sequence[LineTrace]) -> int:
    statuses = {line.status for line in group}
    if all(s < 400 for s in statuses):
        return 200
    if all(s >= 400 for s in statuses):
        return max(statuses)
    return MULTI_STATUS
