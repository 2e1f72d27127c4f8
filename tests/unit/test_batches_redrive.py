"""``steward batches redrive``: jobs back from the dead-letter queue, nothing else, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Sequence

from steward.batches.redrive import redrive


class FakeDeadLetters:
    def __init__(self, bodies: list[str]) -> None:
        self.waiting = [(f"h{i}", b) for i, b in enumerate(bodies)]
        self.requeued: list[str] = []
        self.deleted: list[str] = []
        self.log: list[str] = []

    def receive(self, max_messages: int) -> list[tuple[str, str]]:
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def requeue(self, bodies: Sequence[str]) -> None:
        self.requeued += bodies
        self.log.append("send")

    def delete(self, handles: Sequence[str]) -> None:
        self.deleted += handles
        self.log.append("delete")


def _job(batch: str, chunk: int) -> str:
    return json.dumps({"kind": "chunk", "tenant_id": "acme", "batch_id": batch, "chunk": chunk})


def test_jobs_move_back_and_anything_else_stays() -> None:
    bodies = [_job("batch_a", 0), "not a job", _job("batch_a", 1), _job("batch_b", 0)]
    dead = FakeDeadLetters(bodies)
    result = redrive(dead)
    assert result == {"moved": 3, "kept": 1, "batches": {"batch_a": 2, "batch_b": 1}}
    assert dead.requeued == [bodies[0], bodies[2], bodies[3]]
    assert dead.deleted == ["h0", "h2", "h3"]  # the kept message is never deleted
    assert dead.log == ["send", "delete"]  # sent before deleted: a failure in between duplicates, never loses


def test_a_limit_moves_at_most_that_many() -> None:
    dead = FakeDeadLetters([_job("batch_a", n) for n in range(25)])
    assert redrive(dead, limit=12)["moved"] == 12
    assert len(dead.waiting) == 13
