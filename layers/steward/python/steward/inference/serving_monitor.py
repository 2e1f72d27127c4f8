"""Counting how each model version serves, and running shadow copies of routed traffic.

Every backend call of the answering version adds to its `steward.quality.serving.ServingStats`
(calls, failures, latency). A request routed to a model whose plan names a shadow version
(`steward.catalog.routing_plan`) is also sent, already redacted, to the shadow, at the same time
as to the answering version; the shadow's answer is compared with the answer returned (rows whose
top class agree) and dropped: it is never returned, filtered or stored, only counted. The request
waits for the shadow at most `SHADOW_WAIT_S` after its own answer, and a shadow's failure or
lateness is a count, never the caller's error. Monitoring never withholds an answer: a failed
write is logged without content and dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.catalog.registry import ModelVersion, ResolvedModel
from steward.inference.oip_tensors import row_major
from steward.quality.serving import ServingStats, call_stats, shadow_stats
from steward.routing.router import BackendResult, Router
from steward.routing.transport import BackendRequest

logger = logging.getLogger("steward.serving")

#: How long an answered request waits for its shadow copy before counting it as failed.
SHADOW_WAIT_S = 2.0
#: Shadow calls in flight per process; more are skipped (counted nowhere: shadowing is a sample).
SHADOW_WORKERS = 4


class ServingStatsSink(Protocol):
    def add(self, tenant_id: str, model: str, version: str, window: str, stats: ServingStats) -> None: ...


def is_backend_fault(error: Exception) -> bool:
    """Whether a failed call counts against the version: the backend's fault (5xx, timeout,
    unreachable), not a request it refused as the caller's (4xx)."""
    status = getattr(error, "status", 500)
    return not isinstance(status, int) or status >= 500


def window_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d")


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
        sink: ServingStatsSink | None,
        *,
        clock: Callable[[], float] = time.time,
        shadow_wait_s: float = SHADOW_WAIT_S,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._wait_s = shadow_wait_s
        self._executor = executor

    def observe(self, tenant_id: str, mv: ModelVersion, latency_ms: float | None, *, failed: bool) -> None:
        """One backend call of the answering version ``mv`` (a refused request is not counted)."""
        if latency_ms is not None or failed:
            self._add(tenant_id, mv, call_stats(latency_ms, failed))

    def start_shadow(
        self, router: Router, resolved: ResolvedModel, request: BackendRequest
    ) -> Future[BackendResult] | None:
        """Send the redacted ``request`` to the plan's shadow version, if any, in the background."""
        shadow = resolved.shadow
        if shadow is None or self._sink is None:
            return None
        copy = BackendRequest(
            model=shadow.backend_model,
            version=shadow.backend_version,
            payload=request.payload,
            operation=request.operation,
        )
        try:
            return self._pool().submit(router.call, shadow.target, copy)
        except RuntimeError:  # interpreter shutting down
            return None

    def finish_shadow(
        self,
        tenant_id: str,
        resolved: ResolvedModel,
        pending: Future[BackendResult] | None,
        answer: Mapping[str, Any] | None,
    ) -> None:
        """Compare the shadow's answer with ``answer`` (None: the answering call failed) and count."""
        shadow = resolved.shadow
        if pending is None or shadow is None:
            return
        try:
            result = pending.result(timeout=self._wait_s)
        except FutureTimeout:
            self._add(tenant_id, shadow, shadow_stats(None, True, 0, 0))
            return
        except Exception:  # the shadow failed; its error is never the caller's
            self._add(tenant_id, shadow, shadow_stats(None, True, 0, 0))
            return
        rows, agreed = rows_agreeing(answer, result.payload) if answer is not None else (0, 0)
        self._add(tenant_id, shadow, shadow_stats(result.latency_ms, False, rows, agreed))

    def _add(self, tenant_id: str, mv: ModelVersion, stats: ServingStats) -> None:
        if self._sink is None:
            return
        try:
            self._sink.add(tenant_id, mv.model, mv.version, window_of(self._clock()), stats)
        except Exception as error:
            logger.warning("serving stats not recorded", extra={"error_type": type(error).__name__})

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(SHADOW_WORKERS, thread_name_prefix="shadow")
        return self._executor
