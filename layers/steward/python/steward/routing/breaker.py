"""A circuit breaker per backend model version, so a dead backend costs callers microseconds.

Closed -> (``threshold`` consecutive failures) -> open for ``cooldown_s`` -> half-open, where a
single probe call decides between closed and open again. Only backend faults are failures; an
outcome the caller caused is neutral (`record_neutral`): it says nothing about the backend's
health, so it neither counts nor resets, and one caller can't open a breaker for everyone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._probe_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the backend now."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._monotonic() - self._opened_at < self._cooldown_s:
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def retry_after_s(self) -> int:
        remaining = self._cooldown_s - (self._monotonic() - self._opened_at)
        return max(1, int(remaining + 0.999))

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            self._state = BreakerState.CLOSED

    def record_neutral(self) -> None:
        """The call ended for a reason that is not the backend's health (e.g. the caller's bad
        input): free the half-open probe slot so the next call probes, change nothing else."""
        with self._lock:
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._probe_in_flight = False
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._monotonic()
