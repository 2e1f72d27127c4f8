"""Router: deadline, safe retries with jitter, circuit breaking, no leaked backend text."""

from __future__ import annotations

import json

import pytest
from steward.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InputRejectedByModel,
    ModelNotReady,
    StewardError,
)
from steward.registry import Target
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse, ConnectFailed, TransportTimeout
from steward.testing import FakeTransport

TARGET = Target(kind="http", url="http://b")
REQUEST = BackendRequest(
    "m", "1", {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}
)
OK = BackendResponse(200, json.dumps({"outputs": []}).encode())


class Script:
    """Answers (or raises) the scripted outcomes in order."""

    def __init__(self, *outcomes: BackendResponse | Exception) -> None:
        self.outcomes = list(outcomes)

    def __call__(self, target: Target, request: BackendRequest) -> BackendResponse:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def router(
    *outcomes: BackendResponse | Exception, **policy: float
) -> tuple[Router, FakeTransport, list[float]]:
    transport = FakeTransport(respond=Script(*outcomes))
    sleeps: list[float] = []
    r = Router(
        {"http": transport},
        RouterPolicy(breaker_threshold=2, **policy),  # type: ignore[arg-type]
        sleep=sleeps.append,
        jitter=lambda: 0.5,
    )
    return r, transport, sleeps


def test_success_returns_the_parsed_payload() -> None:
    r, transport, _ = router(OK)
    result = r.call(TARGET, REQUEST)
    assert result.payload == {"outputs": []} and result.attempts == 1
    assert transport.calls[0][2] == 10.0  # per-try timeout within the deadline


def test_connect_failure_and_503_are_retried_with_jittered_backoff() -> None:
    r, _, sleeps = router(ConnectFailed("refused"), BackendResponse(503, b""), OK)
    assert r.call(TARGET, REQUEST).attempts == 3
    assert sleeps == [0.025, 0.05]  # base * 2^n * jitter(0.5)


def test_read_timeout_is_not_retried() -> None:
    r, transport, _ = router(TransportTimeout("slow"), OK)
    with pytest.raises(BackendTimeout):
        r.call(TARGET, REQUEST)
    assert len(transport.calls) == 1


def test_exhausted_retries_answer_backend_unavailable() -> None:
    r, _, _ = router(*(BackendResponse(503, b"") for _ in range(3)))
    with pytest.raises(BackendUnavailable) as info:
        r.call(TARGET, REQUEST)
    assert info.value.code == "backend.unavailable"


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, InputRejectedByModel), (500, BackendError), (404, ModelNotReady), (502, BackendError)],
)
def test_backend_error_text_is_never_passed_on(status: int, error: type[StewardError]) -> None:
    secret_text = b'{"error": "stack trace at /opt/ml/model/internal.py line 42"}'
    r, _, _ = router(BackendResponse(status, secret_text))
    with pytest.raises(error) as info:
        r.call(TARGET, REQUEST)
    assert "internal.py" not in info.value.detail


def test_non_json_200_is_a_backend_error() -> None:
    r, _, _ = router(BackendResponse(200, b"<html>"))
    with pytest.raises(BackendError):
        r.call(TARGET, REQUEST)


def test_open_breaker_fails_fast_without_calling_the_backend() -> None:
    # Given a backend that failed twice (threshold 2)
    r, transport, _ = router(BackendResponse(500, b""), BackendResponse(500, b""), max_attempts=1)
    for _ in range(2):
        with pytest.raises(BackendError):
            r.call(TARGET, REQUEST)
    # When another call comes
    with pytest.raises(BackendUnavailable) as info:
        r.call(TARGET, REQUEST)
    # Then it is refused with Retry-After and the backend is not called
    assert len(transport.calls) == 2
    assert info.value.headers["Retry-After"] == "10"


def test_caller_errors_do_not_trip_the_breaker() -> None:
    r, _, _ = router(*(BackendResponse(400, b"") for _ in range(3)), OK)
    for _ in range(3):
        with pytest.raises(InputRejectedByModel):
            r.call(TARGET, REQUEST)
    assert r.call(TARGET, REQUEST).attempts == 1


def test_no_retry_past_the_deadline() -> None:
    now = [0.0]

    def slow_failure(target: Target, request: BackendRequest) -> BackendResponse:
        now[0] += 5.0
        return BackendResponse(503, b"")

    transport = FakeTransport(respond=slow_failure)
    r = Router(
        {"http": transport},
        RouterPolicy(deadline_s=6.0, try_timeout_s=5.0, max_attempts=5),
        monotonic=lambda: now[0],
        sleep=lambda s: None,
        jitter=lambda: 1.0,
    )
    with pytest.raises(BackendUnavailable):
        r.call(TARGET, REQUEST)
    assert len(transport.calls) == 2
    assert transport.calls[1][2] == pytest.approx(1.0)  # only the remaining budget


def test_unknown_target_kind_is_unavailable() -> None:
    r, _, _ = router(OK)
    with pytest.raises(BackendUnavailable):
        r.call(Target(kind="sagemaker", endpoint_name="e"), REQUEST)
