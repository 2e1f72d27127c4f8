"""Redrive: jobs from the dead-letter queue back to the jobs queue, once their cause is fixed.

A job lands in the dead-letter queue after ``JOBS_MAX_RECEIVES`` failed tries (the backend was
down for hours, a kill switch stayed thrown); its batch waits ``in_progress`` and its record says
why (`BatchRecord.failures`). Moving it back is safe at any time: every job is idempotent
(`steward.batches.worker`). Only messages that are batch jobs move; anything else stays where it
is, counted, for a person to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from steward.batches.jobs import Job

RECEIVE_BATCH = 10


class DeadLetters(Protocol):
    """The jobs queue's dead-letter queue, and the way back."""

    def receive(self, max_messages: int) -> list[tuple[str, str]]:
        """Up to ``max_messages`` messages as (receipt handle, body), hidden while this runs."""
        ...

    def requeue(self, bodies: Sequence[str]) -> None:
        """Send ``bodies`` to the jobs queue, or raise."""
        ...

    def delete(self, handles: Sequence[str]) -> None: ...


def redrive(dead: DeadLetters, *, limit: int | None = None) -> dict[str, Any]:
    """Move up to ``limit`` jobs (all, if None) back; what moved, by batch, and what stayed."""
    moved, kept = 0, 0
    batches: dict[str, int] = {}
    while limit is None or moved < limit:
        want = RECEIVE_BATCH if limit is None else min(RECEIVE_BATCH, limit - moved)
        messages = dead.receive(want)
        if not messages:
            break
        jobs: list[tuple[str, str, Job]] = []
        for handle, body in messages:
            try:
                jobs.append((handle, body, Job.parse(body)))
            except ValueError:
                kept += 1
        if jobs:
            dead.requeue([body for _, body, _ in jobs])  # sent before deleted: never lost between
            dead.delete([handle for handle, _, _ in jobs])
        for _, _, job in jobs:
            batches[job.batch_id] = batches.get(job.batch_id, 0) + 1
        moved += len(jobs)
    return {"moved": moved, "kept": kept, "batches": batches}
