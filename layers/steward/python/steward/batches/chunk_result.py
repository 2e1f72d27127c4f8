"""What a chunk has done so far, as its sealed result object holds it, and its one way to stop early.

A chunk's result object is written after every step that must not be repeated (lines answered,
lines charged), so a redelivered job continues where the last try stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from steward.audit.record import AuditDraft
from steward.batches.audit import LineTrace
from steward.batches.jsonl import InputLine
from steward.batches.lines import Answer


class ChunkDeferred(Exception):
    """The chunk could not finish now (a transient refusal, or the invocation's time): what it
    did is saved, and the job goes back to the queue. ``code`` is a stable code, never content."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class ChunkResult:
    """A chunk's lines done so far: each output line (as written to the output or error file)
    and its audit trace. ``complete`` once every line has its answer."""

    started_at: float
    lines: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    latency_ms: float = 0.0
    #: Lines already charged to the limits: a retried chunk never charges a line twice.
    charged: set[int] = field(default_factory=set)

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "started_at": self.started_at,
                "lines": self.lines,
                "complete": self.complete,
                "ms": self.latency_ms,
                "charged": sorted(self.charged),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ChunkResult:
        doc = orjson.loads(data)
        return cls(
            float(doc["started_at"]),
            list(doc["lines"]),
            bool(doc["complete"]),
            float(doc["ms"]),
            {int(i) for i in doc.get("charged", ())},
        )

    @property
    def counts(self) -> tuple[int, int]:
        ok = sum(1 for line in self.lines if line["ok"])
        return ok, len(self.lines) - ok


def line_entry(line: InputLine, answer: Answer, draft: AuditDraft) -> dict[str, Any]:
    """A line's output line (OpenAI's batch output shape) and its audit trace."""
    out = {
        "id": draft.request_id,
        "custom_id": line.custom_id,
        "response": {"status_code": answer.status, "request_id": draft.request_id, "body": answer.body},
        "error": None,
    }
    trace = LineTrace.of(draft, answer.status, answer.code, b"", b"").to_json()
    trace["policy_version"] = draft.policy_version
    return {"i": line.index, "ok": answer.ok, "out": orjson.dumps(out).decode(), "trace": trace}
