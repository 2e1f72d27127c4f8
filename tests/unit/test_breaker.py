"""Circuit breaker state machine (driven by a fake clock)."""

from __future__ import annotations

from steward.routing.breaker import BreakerState, CircuitBreaker


def make() -> tuple[CircuitBreaker, list[float]]:
    now = [0.0]
    return CircuitBreaker(threshold=2, cooldown_s=10, monotonic=lambda: now[0]), now


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker, _ = make()
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_after_s() == 10


def test_success_resets_the_failure_count() -> None:
    breaker, _ = make()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    breaker, now = make()
    breaker.record_failure()
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_failed_probe_reopens() -> None:
    breaker, now = make()
    breaker.record_failure()
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()


def test_a_neutral_outcome_releases_the_probe_without_closing_or_reopening() -> None:
    # Given an open breaker whose cooldown has passed
    breaker, now = make()
    breaker.record_failure()
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()  # the probe
    # When the probe ends in the caller's error (the backend's health is unknown)
    breaker.record_neutral()
    # Then the breaker is still half-open, and the next call may probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_neutral_outcomes_neither_count_nor_reset_failures() -> None:
    breaker, _ = make()
    breaker.record_failure()
    for _ in range(10):
        breaker.record_neutral()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
