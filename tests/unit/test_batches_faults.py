"""A 10,000-line batch whose backend dies half-way: every line ends in one file, once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from steward.inference import embeddings
from steward.routing.transport import BackendRequest, BackendResponse, ConnectFailed

from tests.unit.batch_rig import MINILM, backend, build_rig

LINES = 10_000


def test_a_backend_killed_half_way_leaves_every_line_in_the_output_or_error_file_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a 10,000-line batch in chunks of 50 lines, sent to the backend 20 texts a call
    # (three calls a chunk, so the backend dies inside a chunk), with one bad line in 500
    monkeypatch.setattr(embeddings, "DEFAULT_MAX_BATCH", 20)
    rig = next(build_rig(chunk_lines=50, max_lines=LINES))
    key = rig.key()
    rows: list[Any] = [
        {
            "custom_id": f"l{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": MINILM, "input": f"t{i}"} if i % 500 else {"model": MINILM},
        }
        for i in range(LINES)
    ]
    batch_id = rig.create(key, rig.upload(key, rows))["id"]
    # And a backend that dies after 301 answered calls (half the batch, part of a chunk)
    state = {"answered": 0, "alive": True}
    answered: Counter[str] = Counter()

    def dying(target: Any, request: BackendRequest) -> BackendResponse:
        if not state["alive"] or state["answered"] >= 301:
            state["alive"] = False
            raise ConnectFailed("connection refused")
        state["answered"] += 1
        answered.update(str(t) for t in request.payload["inputs"][0]["data"])
        return backend(target, request)

    rig.transport.respond = dying
    # When the queue delivers until the failing chunks go to the dead-letter queue
    rig.deliver(max_receives=3)
    assert rig.dead and rig.batch(key, batch_id)["status"] == "in_progress"
    # And the backend is restarted and the dead letters driven back
    state["alive"], state["answered"] = True, -(10**9)
    redriven, rig.dead[:] = list(rig.dead), []
    rig.receives.clear()
    rig.queue.sent.extend(redriven)
    rig.deliver()
    # Then the batch completed, and every line is in exactly one file, exactly once
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "completed" and not rig.dead
    outputs = rig.content(key, batch["output_file_id"])
    errors = rig.content(key, batch["error_file_id"])
    ids = Counter(o["custom_id"] for o in outputs + errors)
    assert len(ids) == LINES and set(ids.values()) == {1}
    assert len(outputs) == LINES - 20 and {e["custom_id"] for e in errors} == {
        f"l{i}" for i in range(0, LINES, 500)
    }
    assert batch["request_counts"] == {"total": LINES, "completed": LINES - 20, "failed": 20}
    # And each good line reached the backend once and was charged once
    assert len(answered) == LINES - 20 and set(answered.values()) == {1}
    assert rig.charged() == LINES - 20
