"""Send an inference request to a model version's backend within a deadline.

Retries (full jitter) only when the request is known not to have been processed or the backend
says it is overloaded (connect failure, 429, 503). A read timeout is not retried. Backend error
text is never passed on: callers get a Steward error with a fixed message.

Circuit breakers are kept per backend target *and* model version, and count only the backend's
faults (timeouts, connection errors, 5xx): a 4xx, a 429 or a 200 the gateway can't parse is what
the caller asked for, so one caller can't fail a model, let alone every model, for everyone.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from steward.catalog.registry import Target
from steward.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InputRejectedByModel,
    InputTooLarge,
    ModelNotReady,
    StewardError,
)
from steward.routing.breaker import CircuitBreaker
from steward.routing.transport import (
    BackendRequest,
    BackendResponse,
    ConnectFailed,
    Transport,
    TransportError,
    TransportTimeout,
)

logger = logging.getLogger("steward.routing")

RETRYABLE_STATUS = frozenset({429, 503})


@dataclass(frozen=True)
class RouterPolicy:
    deadline_s: float = 18.0  # see settings.STORE_STALL_BUDGET_S
    try_timeout_s: float = 10.0
    max_attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 10.0


@dataclass(frozen=True)
class BackendResult:
    payload: dict[str, Any]
    attempts: int
    latency_ms: float


class _Retryable(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"status {status}")
        self.fault = status >= 500  # 503 is the backend failing; 429 is load it chose to shed


class _Failed(Exception):
    """The caller's error, and whether the backend was at fault (what the breaker counts)."""

    def __init__(self, error: StewardError, *, fault: bool) -> None:
        super().__init__(error.code)
        self.error = error
        self.fault = fault


def target_key(target: Target) -> str:
    if target.kind == "sagemaker":
        return f"sagemaker:{target.endpoint_name}:{target.variant}"
    return f"http:{target.url}"


class Router:
    def __init__(
        self,
        transports: Mapping[str, Transport],
        policy: RouterPolicy | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._transports = dict(transports)
        self._policy = policy or RouterPolicy()
        self._monotonic = monotonic
        self._sleep = sleep
        self._jitter = jitter
        self._breakers: dict[tuple[str, str, str], CircuitBreaker] = {}

    def breaker(self, target: Target, model: str, version: str) -> CircuitBreaker:
        """The breaker of one model version on one backend target (a broken model version or a
        misbehaving caller of it must not fail the other models the target serves)."""
        key = (target_key(target), model, version)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers.setdefault(
                key,
                CircuitBreaker(
                    threshold=self._policy.breaker_threshold,
                    cooldown_s=self._policy.breaker_cooldown_s,
                    monotonic=self._monotonic,
                ),
            )
        return breaker

    def call(self, target: Target, request: BackendRequest) -> BackendResult:
        transport = self._transports.get(target.kind)
        if transport is None:
            raise BackendUnavailable()
        breaker = self.breaker(target, request.model, request.version)
        if not breaker.allow():
            raise BackendUnavailable(headers={"Retry-After": str(breaker.retry_after_s())})
        started = self._monotonic()
        try:
            payload, attempts = self._attempts(transport, target, request, started)
        except _Failed as failed:
            if failed.fault:
                breaker.record_failure()
            else:
                breaker.record_neutral()
            raise failed.error from None
        except BaseException:
            breaker.record_neutral()  # e.g. a request the transport could not serialise
            raise
        breaker.record_success()
        return BackendResult(payload, attempts, (self._monotonic() - started) * 1000.0)

    def _attempts(
        self, transport: Transport, target: Target, request: BackendRequest, started: float
    ) -> tuple[dict[str, Any], int]:
        policy = self._policy
        deadline = started + policy.deadline_s
        fault = False  # whether any attempt failed for the backend's own reasons
        for attempt in range(1, policy.max_attempts + 1):
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise _Failed(BackendTimeout(), fault=True)
            try:
                response = transport.send(target, request, min(policy.try_timeout_s, remaining))
                return _interpret(response), attempt
            except TransportTimeout as error:
                logger.warning("backend timeout", extra={"target": target_key(target), "error": str(error)})
                raise _Failed(BackendTimeout(), fault=True) from None
            except (ConnectFailed, _Retryable) as error:
                fault = fault or not isinstance(error, _Retryable) or error.fault
                logger.warning(
                    "backend attempt failed",
                    extra={"target": target_key(target), "attempt": attempt, "error": str(error)},
                )
            except TransportError as error:
                logger.warning(
                    "backend transport error", extra={"target": target_key(target), "error": str(error)}
                )
                raise _Failed(BackendError(), fault=True) from None
            backoff = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** (attempt - 1)) * self._jitter()
            if attempt == policy.max_attempts or self._monotonic() + backoff >= deadline:
                break
            self._sleep(backoff)
        raise _Failed(BackendUnavailable(), fault=fault)


def _interpret(response: BackendResponse) -> dict[str, Any]:
    """The payload of a 200; otherwise the caller's error and whether it was the backend's fault."""
    status = response.status
    if status == 200:
        try:
            payload = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            # The backend answered; what it answered depends on what was asked (not a fault).
            raise _Failed(BackendError(), fault=False) from None
        if not isinstance(payload, dict):
            raise _Failed(BackendError(), fault=False)
        return payload
    if status in RETRYABLE_STATUS:
        raise _Retryable(status)
    if status in (400, 422):
        raise _Failed(InputRejectedByModel(), fault=False)
    if status == 413:
        raise _Failed(InputTooLarge("The input is larger than the model accepts."), fault=False)
    if status == 404:
        # The registry routes here but the backend does not serve the version (yet).
        raise _Failed(ModelNotReady(), fault=False)
    raise _Failed(BackendError(), fault=status >= 500)
