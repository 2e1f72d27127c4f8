"""What the batch worker counts for operators: lines answered and refused, chunks handed back,
batches ended by status. Counted from each job's result when the job really ran (a redelivery
answered from its idempotency record counts nothing), with no tenant dimension: a tenant's own
batches are in its listing, and the per-tenant signals are the api's (`steward.tenant_signals`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAMESPACE = "Steward"
LINES_COMPLETED = "BatchLinesCompleted"
LINES_FAILED = "BatchLinesFailed"
CHUNKS_DEFERRED = "BatchChunksDeferred"
#: Ended batches, one metric per final status (``BatchesCompleted``, ``BatchesFailed``, ...).
ENDED_PREFIX = "Batches"
ENDED_STATUSES = ("completed", "failed", "expired", "cancelled")


def ended_metric(status: str) -> str:
    return ENDED_PREFIX + status.title()


def of_result(result: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The counts a job's result stands for, as ``(metric, value)``."""
    counts: list[tuple[str, int]] = []
    for name, key in ((LINES_COMPLETED, "completed"), (LINES_FAILED, "failed")):
        value = result.get(key)
        if isinstance(value, int) and value > 0:
            counts.append((name, value))
    status = result.get("finished")
    if status in ENDED_STATUSES:
        counts.append((ended_metric(str(status)), 1))
    return counts
