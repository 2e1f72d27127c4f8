"""Counting how each model version serves, and running shadow copies of routed traffic.

Every backend inference call of the answering version adds to its
`steward.quality.serving.ServingStats` (calls, failures, latency); explanations are not counted
(their cost is the explainer's, not the version's). A request routed to a model whose plan names
a shadow version (`steward.catalog.routing_plan`) is also sent, already redacted, to the shadow,
at the same time as to the answering version. The shadow's answer is compared with the answer
returned (rows whose top class agree) and dropped: never returned, filtered or stored, only
counted, by a callback whenever the copy finishes. At most `SHADOW_WORKERS` copies run at once
per process; a copy that finds no free slot is not sent, only counted as skipped, so a slow
shadow can never build a queue. The request waits for its copy at most `SHADOW_WAIT_S` after its
own answer (so that on Lambda, one request per process, the copy finishes before the invocation
is frozen); a shadow's failure or lateness is never the caller's error. Monitoring never
withholds an answer: a failed write is logged without content and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from steward.catalog.registry import ModelVersion, ResolvedModel
from steward.fairness.monitor import window_of
from steward.inference.oip_tensors import row_major
from steward.quality.serving import ServingStats, ServingStatsStore, call_stats, shadow_stats
from steward.routing.router import BackendResult, Router
from steward.routing.transport import BackendRequest

logger = logging.getLogger("steward.serving")

#: How long an answered request waits for its shadow copy (which is counted whenever it ends).
SHADOW_WAIT_S = 2.0
#: Shadow copies in flight per process; a copy finding none free is skipped and counted.
SHADOW_WORKERS = 4


def is_backend_fault(error: Exception) -> bool:
    """Whether a failed call counts against the version: the backend's fault (5xx, timeout,
    unreachable), not a request it refused as the caller's (4xx)."""
    status = getattr(error, "status", 500)
    return not isinstance(status, int) or status >= 500


def rows_agreeing(answer: Mapping[str, Any], shadow: Mapping[str, Any]) -> tuple[int, int]:
    """(rows compared, rows that agree) between two OIP answers.

    A 2-D numeric output present in both with the same shape is compared row by row on its top
    class (argmax); any other output present in both counts as one row, equal or not.
    """
    theirs = {o.get("name"): o for o in _outputs(shadow)}
    rows = agreed = 0
    for output in _outputs(answer):
        other = theirs.get(output.get("name"))
        if other is None:
            continue
        shape, data, other_data = output.get("shape"), output.get("data"), other.get("data")
        if (
            isinstance(shape, list)
            and len(shape) == 2
            and shape == other.get("shape")
            and isinstance(data, list)
            and isinstance(other_data, list)
        ):
            width = int(shape[1])
            mine, yours = row_major(data), row_major(other_data)
            if width > 0 and len(mine) == len(yours) == int(shape[0]) * width:
                for r in range(int(shape[0])):
                    rows += 1
                    agreed += _argmax(mine[r * width : (r + 1) * width]) == _argmax(
                        yours[r * width : (r + 1) * width]
                    )
                continue
        rows += 1
        agreed += data == other_data
    return rows, agreed


def _outputs(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    outputs = payload.get("outputs")
    return [o for o in outputs if isinstance(o, Mapping)] if isinstance(outputs, list) else []


def _argmax(values: Sequence[Any]) -> int:
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        return -1
    return max(range(len(numbers)), key=numbers.__getitem__) if numbers else -1


class ServingMonitor:
    def __init__(
        self,
        sink: ServingStatsStore | None,
        *,
        clock: Callable[[], float] = time.time,
        shadow_wait_s: float = SHADOW_WAIT_S,
        workers: int = SHADOW_WORKERS,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._wait_s = shadow_wait_s
        self._workers = workers
        self._slots = threading.BoundedSemaphore(workers)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def observe(self, tenant_id: str, mv: ModelVersion, latency_ms: float | None, *, failed: bool) -> None:
        """One backend call of the answering version ``mv`` (a refused request is not counted)."""
        if latency_ms is not None or failed:
            self._add(tenant_id, mv, call_stats(latency_ms, failed))

    def start_shadow(
        self, tenant_id: str, router: Router, resolved: ResolvedModel, request: BackendRequest
    ) -> Future[BackendResult] | None:
        """Send the redacted ``request`` to the plan's shadow version, if any and a slot is free."""
        shadow = resolved.shadow
        if shadow is None or self._sink is None:
            return None
        if not self._slots.acquire(blocking=False):
            self._add(tenant_id, shadow, shadow_stats(None, False, 0, 0, skipped=True))
            return None
        copy = BackendRequest(
            model=shadow.backend_model,
            version=shadow.backend_version,
            payload=request.payload,
            operation=request.operation,
        )
        try:
            future = self._pool().submit(router.call, shadow.target, copy)
        except RuntimeError:  # interpreter shutting down
            self._slots.release()
            return None
        future.add_done_callback(lambda _done: self._slots.release())
        return future

    def finish_shadow(
        self,
        tenant_id: str,
        resolved: ResolvedModel,
        pending: Future[BackendResult] | None,
        answer: Mapping[str, Any] | None,
    ) -> None:
        """Count the copy against ``answer`` (None: the answering call failed) when it ends, and
        wait for that at most `SHADOW_WAIT_S`. Never raises."""
        shadow = resolved.shadow
        if pending is None or shadow is None:
            return
        once = threading.Lock()

        def count(done: Future[BackendResult]) -> None:
            if once.acquire(blocking=False):  # whichever comes first: this request or a late end
                self._count_shadow(tenant_id, shadow, done, answer)

        pending.add_done_callback(count)
        wait([pending], timeout=self._wait_s)
        if pending.done():  # counted before the request answers (a callback may not have run yet)
            count(pending)

    def _count_shadow(
        self,
        tenant_id: str,
        shadow: ModelVersion,
        done: Future[BackendResult],
        answer: Mapping[str, Any] | None,
    ) -> None:
        try:
            result = done.result()
        except Exception:  # the shadow failed; its error is never the caller's
            self._add(tenant_id, shadow, shadow_stats(None, True, 0, 0))
            return
        try:
            rows, agreed = rows_agreeing(answer, result.payload) if answer is not None else (0, 0)
        except Exception:  # an answer of an unexpected shape compares as nothing
            rows, agreed = 0, 0
        self._add(tenant_id, shadow, shadow_stats(result.latency_ms, False, rows, agreed))

    def _add(self, tenant_id: str, mv: ModelVersion, stats: ServingStats) -> None:
        if self._sink is None:
            return
        try:
            self._sink.add(tenant_id, mv.model, mv.version, window_of(self._clock()), stats)
        except Exception as error:
            logger.warning("serving stats not recorded", extra={"error_type": type(error).__name__})

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="shadow")
            return self._executor
