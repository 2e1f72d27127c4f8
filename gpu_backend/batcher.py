"""Per-model dynamic batcher (asyncio), after Triton's: max batch size, max queue delay, preferred
batch sizes, a bounded queue and per-request timeouts.

Requests wait in a deque; one worker task forms batches and runs each on a dedicated thread, so the
event loop keeps parsing HTTP while ORT computes. Up to `instances` batches run at once (Triton's
instance count): the worker takes the next batch only when an instance is free, so the queue keeps
growing into a bigger batch while every instance is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from gpu_backend.errors import (
    BackendError,
    InvalidInputError,
    QueueFullError,
    RequestTimeoutError,
    UnavailableError,
)
from gpu_backend.manifest import BatchingConfig

log = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]
Predict = Callable[[Batch], Batch]
#: Called once per executed batch with (rows, compute seconds).
BatchObserver = Callable[[int, float], None]


@dataclass(frozen=True)
class BatchResult:
    outputs: Batch
    queue_s: float
    compute_s: float
    batch_rows: int


@dataclass(slots=True, eq=False)
class _Pending:
    inputs: Batch
    rows: int
    enqueued: float
    future: asyncio.Future[BatchResult]
    timer: asyncio.TimerHandle | None = None
    dispatched: bool = False


class DynamicBatcher:
    """Collects requests for one model version and executes them together."""

    def __init__(
        self,
        predict: Predict,
        config: BatchingConfig,
        *,
        label: str,
        observer: BatchObserver | None = None,
        instances: int = 1,
    ) -> None:
        if instances < 1:
            raise ValueError(f"instances must be >= 1, got {instances}")
        self._predict = predict
        self.config = config
        self.label = label
        self._observer = observer
        self._queue: deque[_Pending] = deque()
        self._waiting = 0  # live (not expired) requests in the queue
        self._waiting_rows = 0
        self._arrived = asyncio.Event()
        self.instances = instances
        self._executor = ThreadPoolExecutor(max_workers=instances, thread_name_prefix=f"ort-{label}")
        self._worker: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._busy = 0  # instances executing a batch (exact, unlike len(_running) in a callback's gap)
        self._closed = False
        self._delay_s = config.max_queue_delay_ms / 1000.0
        self._flush = False  # the rest of a batch shared out among idle instances goes at once
        self._preferred = config.preferred_batch_sizes

    @property
    def queue_depth(self) -> int:
        return self._waiting

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.label}")

    async def stop(self) -> None:
        """Refuse what is still queued and stop the worker (after the drain has emptied the queue)."""
        self._closed = True
        while self._queue:
            self._fail(self._queue.popleft(), UnavailableError(f"model '{self.label}' is shutting down"))
        for task in (*filter(None, [self._worker]), *self._running):
            task.cancel()
        for task in (*filter(None, [self._worker]), *list(self._running)):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker = None
        self._executor.shutdown(wait=True)

    async def submit(self, inputs: Batch, rows: int, timeout_ms: float | None = None) -> BatchResult:
        """Queue one request of `rows` rows; resolves with its slice of the batch outputs."""
        if self._closed:
            raise UnavailableError(f"model '{self.label}' is shutting down")
        if self._waiting >= self.config.max_queue_size:
            raise QueueFullError(
                f"model '{self.label}' queue is full "
                f"({self.config.max_queue_size} requests waiting); retry later"
            )
        loop = asyncio.get_running_loop()
        pending = _Pending(
            inputs=inputs, rows=rows, enqueued=time.perf_counter(), future=loop.create_future()
        )
        timeout_s = (timeout_ms if timeout_ms is not None else self.config.request_timeout_ms) / 1000.0
        pending.timer = loop.call_later(timeout_s, self._expire, pending, timeout_s)
        self._queue.append(pending)
        self._waiting += 1
        self._waiting_rows += rows
        self._arrived.set()
        return await pending.future

    # ------------------------------------------------------------------------------ internals

    def _expire(self, pending: _Pending, timeout_s: float) -> None:
        """A request still waiting at its deadline is answered 503 and skipped by the worker."""
        if pending.dispatched or pending.future.done():
            return
        self._waiting -= 1
        self._waiting_rows -= pending.rows
        pending.future.set_exception(
            RequestTimeoutError(
                f"request to model '{self.label}' waited {timeout_s * 1000:.0f} ms in the queue "
                "without being executed (request timeout); the server is overloaded, retry later"
            )
        )

    def _fail(self, pending: _Pending, error: BaseException) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        if not pending.future.done():
            if not pending.dispatched:
                self._waiting -= 1
                self._waiting_rows -= pending.rows
            pending.future.set_exception(error)

    def _drop_dead_head(self) -> None:
        while self._queue and self._queue[0].future.done():
            self._queue.popleft()

    def _ready_to_dispatch(self) -> bool:
        if self._flush:
            return True
        rows = self._waiting_rows
        if rows >= self.config.max_batch_size:
            return True
        return bool(self._preferred) and rows >= self._preferred[0]

    def _target_rows(self) -> int:
        """What is waiting, shared out among the idle instances, up to max_batch_size.

        With two instances idle, eight waiting rows run as two batches of four at once rather than
        one batch of eight beside an idle instance. Preferred sizes release a batch early (see
        `_ready_to_dispatch`) but do not cut it down to an exact size as Triton does for TensorRT
        profiles: onnxruntime has no per-size engines, and one bigger batch costs less per row than
        two smaller ones on the same instance.
        """
        idle = max(1, self.instances - self._busy)
        share = -(-self._waiting_rows // idle)  # ceiling division
        return min(share, self.config.max_batch_size)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        free = asyncio.Semaphore(self.instances)
        while True:
            await free.acquire()  # while every instance is busy, the queue grows into the next batch
            try:
                batch = await self._next_batch()
            except BaseException:
                free.release()
                raise
            self._busy += 1
            task = loop.create_task(self._execute_batch(batch, free))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _next_batch(self) -> list[_Pending]:
        """Wait for requests, then for the queue delay or a full/preferred batch; take the batch."""
        while True:
            self._drop_dead_head()
            if not self._queue:
                self._flush = False
                self._arrived.clear()
                await self._arrived.wait()
                continue
            if self._delay_s > 0 and not self._ready_to_dispatch():
                dispatch_at = self._queue[0].enqueued + self._delay_s
                while not self._ready_to_dispatch():
                    remaining = dispatch_at - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), remaining)
                    except TimeoutError:
                        break
                self._drop_dead_head()
                if not self._queue:
                    continue
            waiting, target = self._waiting_rows, self._target_rows()
            batch = self._take(target)
            # Rows left behind only because the batch was shared out go to the next idle instance
            # without a second queue delay.
            shared_out = target < min(waiting, self.config.max_batch_size)
            self._flush = shared_out and self._waiting_rows > 0
            if batch:
                return batch

    async def _execute_batch(self, batch: list[_Pending], free: asyncio.Semaphore) -> None:
        """Run one batch on an executor thread and resolve each request's future with its rows."""
        dispatched = time.perf_counter()
        try:
            outputs, compute_s = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._execute, batch
            )
        except asyncio.CancelledError:
            for pending in batch:
                self._fail(pending, UnavailableError(f"model '{self.label}' is shutting down"))
            raise
        finally:
            self._busy -= 1
            free.release()
        rows = sum(p.rows for p in batch)
        if self._observer is not None:
            self._observer(rows, compute_s)
        for pending, outcome in zip(batch, outputs, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                waited = dispatched - pending.enqueued
                pending.future.set_result(BatchResult(outcome, waited, compute_s, rows))

    def _take(self, target_rows: int) -> list[_Pending]:
        """Pop live requests in arrival order until the next one would exceed the target."""
        batch: list[_Pending] = []
        rows = 0
        while self._queue:
            head = self._queue[0]
            if head.future.done():
                self._queue.popleft()
                continue
            if batch and rows + head.rows > target_rows:
                break
            self._queue.popleft()
            head.dispatched = True
            if head.timer is not None:
                head.timer.cancel()
            self._waiting -= 1
            self._waiting_rows -= head.rows
            rows += head.rows
            batch.append(head)
        return batch

    def _execute(self, batch: list[_Pending]) -> tuple[list[Batch | BaseException], float]:
        """Worker thread: stack, predict, split. A batch that fails on bad input is retried request
        by request, so one client's bad tensor does not fail the requests batched with it."""
        start = time.perf_counter()
        try:
            outputs = self._predict_rows([p.inputs for p in batch], [p.rows for p in batch])
        except Exception as exc:
            if len(batch) == 1:
                return [_as_client_error(exc, self.label)], time.perf_counter() - start
            results: list[Batch | BaseException] = []
            for pending in batch:
                try:
                    results.extend(self._predict_rows([pending.inputs], [pending.rows]))
                except Exception as single:
                    results.append(_as_client_error(single, self.label))
            return results, time.perf_counter() - start
        return list(outputs), time.perf_counter() - start

    def _predict_rows(self, inputs: list[Batch], rows: list[int]) -> list[Batch]:
        if len(inputs) == 1:
            return [self._predict(inputs[0])]
        stacked = {name: np.concatenate([b[name] for b in inputs], axis=0) for name in inputs[0]}
        outputs = self._predict(stacked)
        split_at = np.cumsum(rows)[:-1]
        parts = {name: np.split(value, split_at, axis=0) for name, value in outputs.items()}
        return [{name: parts[name][i] for name in parts} for i in range(len(inputs))]


def _as_client_error(exc: Exception, label: str) -> BaseException:
    """ORT's INVALID_ARGUMENT means the input broke a graph constraint: the client's fault (400)."""
    if isinstance(exc, BackendError):
        return exc
    if type(exc).__name__ in {"InvalidArgument", "InvalidGraph"} or "INVALID_ARGUMENT" in str(exc):
        return InvalidInputError(f"model '{label}' rejected the input: {_short(exc)}")
    log.exception("model %s failed on a batch", label, exc_info=exc)
    return exc


def _short(exc: Exception) -> str:
    text = str(exc).split(" : ")[-1].strip()
    return text[:300] or type(exc).__name__
