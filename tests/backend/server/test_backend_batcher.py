"""The dynamic batcher on its own, with a fake model that records the batches it runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from gpu_backend.batcher import BatchResult, DynamicBatcher
from gpu_backend.errors import InvalidInputError, QueueFullError, RequestTimeoutError, UnavailableError
from gpu_backend.manifest import BatchingConfig

LONG_DELAY_MS = 60_000.0  # never reached in these tests: batches are released by size
BLOCK = 99.0  # a row value that holds its batch until the test releases it


class RecordingModel:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        if (x < 0).any():
            raise ValueError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : negative values")
        self.batches.append(int(x.shape[0]))
        return {"y": x * 2}


def run(scenario: Callable[[DynamicBatcher, RecordingModel], Awaitable[Any]], **config: Any) -> Any:
    async def main() -> Any:
        model = RecordingModel()
        batcher = DynamicBatcher(model.predict, BatchingConfig(**config), label="fake/1")
        batcher.start()
        try:
            return await scenario(batcher, model)
        finally:
            await batcher.stop()

    return asyncio.run(main())


def rows(*values: float) -> dict[str, np.ndarray]:
    return {"x": np.array(values, dtype=np.float32).reshape(-1, 1)}


def test_concurrent_requests_are_executed_together_and_each_gets_its_own_rows() -> None:
    # Given a batcher that releases a batch at 4 rows
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[BatchResult]:
        # When four one-row requests arrive concurrently
        return await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(4)))

    results = run(scenario, max_batch_size=4, max_queue_delay_ms=LONG_DELAY_MS)
    # Then they ran as one batch of 4 and each result is that request's slice
    assert [r.batch_rows for r in results] == [4, 4, 4, 4]
    assert [float(r.outputs["y"][0, 0]) for r in results] == [0.0, 2.0, 4.0, 6.0]


def test_batches_never_exceed_max_batch_size() -> None:
    # Given max_batch_size 2
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[int]:
        # When five requests arrive at once (the last one alone waits for the delay)
        await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(5)))
        return model.batches

    # Then they are executed as 2 + 2 + 1
    assert run(scenario, max_batch_size=2, max_queue_delay_ms=50) == [2, 2, 1]


def test_multi_row_requests_are_not_split_across_batches() -> None:
    # Given max_batch_size 4 and requests of 3 and 2 rows
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[int]:
        # When both arrive together
        await asyncio.gather(batcher.submit(rows(1, 2, 3), 3), batcher.submit(rows(4, 5), 2))
        return model.batches

    # Then each runs whole, in its own batch
    assert run(scenario, max_batch_size=4, max_queue_delay_ms=10) == [3, 2]


def test_preferred_batch_size_releases_everything_waiting_without_waiting_for_the_delay() -> None:
    # Given preferred size 2 (max 8) and a queue delay that would never pass
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[int]:
        # When three requests arrive together
        await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(3)))
        return model.batches

    # Then they run at once as one batch of all three (not cut down to 2; the test would hang on the
    # delay if the third were left behind)
    assert run(scenario, max_batch_size=8, preferred_batch_sizes=(2,), max_queue_delay_ms=LONG_DELAY_MS) == [
        3
    ]


def test_a_full_queue_refuses_with_queue_full() -> None:
    # Given a queue of 2 whose batches wait for 8 rows
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> None:
        waiting = [asyncio.ensure_future(batcher.submit(rows(i), 1)) for i in range(2)]
        await asyncio.sleep(0)
        # When a third request arrives
        # Then it is refused at once with QueueFullError
        with pytest.raises(QueueFullError, match="queue is full"):
            await batcher.submit(rows(9), 1)
        await batcher.stop()
        for task in waiting:
            with pytest.raises(UnavailableError):
                await task

    run(scenario, max_batch_size=8, max_queue_delay_ms=LONG_DELAY_MS, max_queue_size=2)


def test_a_request_waiting_past_its_timeout_gets_a_timeout_error_and_is_never_run() -> None:
    # Given a batch that would wait a minute for more rows and a request timeout of 20 ms
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[int]:
        # When one request is submitted
        # Then it fails with RequestTimeoutError
        with pytest.raises(RequestTimeoutError, match="request timeout"):
            await batcher.submit(rows(1), 1, timeout_ms=20)
        return model.batches

    # And the model never ran it
    assert run(scenario, max_batch_size=8, max_queue_delay_ms=LONG_DELAY_MS) == []


def test_one_bad_request_does_not_fail_the_requests_batched_with_it() -> None:
    # Given three requests batched together, one of which the model rejects
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> list[Any]:
        return await asyncio.gather(
            batcher.submit(rows(1), 1), batcher.submit(rows(-1), 1), batcher.submit(rows(3), 1),
            return_exceptions=True,
        )  # fmt: skip

    # When they run
    good1, bad, good2 = run(scenario, max_batch_size=3, max_queue_delay_ms=LONG_DELAY_MS)
    # Then only the bad one fails, as a client error
    assert isinstance(bad, InvalidInputError)
    assert "rejected the input" in bad.message
    assert isinstance(good1, BatchResult) and float(good1.outputs["y"][0, 0]) == 2.0
    assert isinstance(good2, BatchResult) and float(good2.outputs["y"][0, 0]) == 6.0


def test_a_stopped_batcher_refuses_new_work() -> None:
    # Given a stopped batcher
    async def scenario(batcher: DynamicBatcher, model: RecordingModel) -> None:
        await batcher.stop()
        # When a request arrives
        # Then it is refused as unavailable
        with pytest.raises(UnavailableError, match="shutting down"):
            await batcher.submit(rows(1), 1)

    run(scenario, max_batch_size=2)


class BarrierModel(RecordingModel):
    """Each batch waits until `parties` batches are executing at once (or fails after 5 s)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=5)

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.barrier.wait()
        return super().predict(inputs)


def test_two_instances_execute_two_batches_at_the_same_time() -> None:
    # Given two instances of a model whose batches only finish when two run at once
    model = BarrierModel(parties=2)

    async def main() -> list[BatchResult]:
        batcher = DynamicBatcher(
            model.predict, BatchingConfig(max_batch_size=4, max_queue_delay_ms=LONG_DELAY_MS), label="fake/1",
            instances=2,
        )  # fmt: skip
        batcher.start()
        try:
            # When eight one-row requests arrive together
            return await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(8)))
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    # Then they ran as two batches of four, side by side (a lone batch would break the barrier)
    assert sorted(model.batches) == [4, 4]
    assert [float(r.outputs["y"][0, 0]) for r in results] == [2.0 * i for i in range(8)]


def test_waiting_rows_are_shared_among_idle_instances_without_a_second_queue_delay() -> None:
    # Given two idle instances, a preferred size of 2 and a queue delay that would never pass
    model = BarrierModel(parties=2)

    async def main() -> list[int]:
        batcher = DynamicBatcher(
            model.predict,
            BatchingConfig(max_batch_size=8, preferred_batch_sizes=(2,), max_queue_delay_ms=LONG_DELAY_MS),
            label="fake/1", instances=2,
        )  # fmt: skip
        batcher.start()
        try:
            # When six requests arrive together
            await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(6)))
            return model.batches
        finally:
            await batcher.stop()

    # Then each instance takes half at once (not six on one instance beside an idle one, and the
    # second half does not wait for the delay: the test would hang)
    assert asyncio.run(main()) == [3, 3]


def test_a_busy_instance_leaves_the_whole_queue_to_the_free_one() -> None:
    # Given two instances, one of them held busy by a first batch
    started, release = threading.Event(), threading.Event()
    batches: list[int] = []

    def predict(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        batches.append(int(x.shape[0]))
        if float(x[0, 0]) == BLOCK:
            started.set()
            release.wait(5)
        return {"y": x}

    config = BatchingConfig(max_batch_size=8, preferred_batch_sizes=(4,), max_queue_delay_ms=LONG_DELAY_MS)

    async def main() -> None:
        batcher = DynamicBatcher(predict, config, label="fake/1", instances=2)
        batcher.start()
        try:
            blocker = asyncio.ensure_future(batcher.submit(rows(BLOCK, BLOCK, BLOCK, BLOCK), 4))
            assert await asyncio.to_thread(started.wait, 5)
            # When four requests arrive while it is busy
            # Then the free instance runs all four as one batch (before the busy one is released)
            await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(4)))
            release.set()
            await blocker
        finally:
            release.set()
            await batcher.stop()

    asyncio.run(main())
    assert batches == [4, 4]


def test_instances_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="instances"):
        DynamicBatcher(RecordingModel().predict, BatchingConfig(max_batch_size=2), label="f/1", instances=0)
