"""Router: deadline, safe retries with jitter, circuit breaking, no leaked backend text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.bootstrap import Api
from steward.catalog.registry import Target
from steward.context import RequestContext
from steward.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InputRejectedByModel,
    ModelNotReady,
    StewardError,
)
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import (
    BackendRequest,
    BackendResponse,
    ConnectFailed,
    TransportError,
    TransportTimeout,
)

from tests.fakes import FakeTransport, embedding_response

from .conftest import CREDIT, MINILM

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


# --- what the breaker counts, and what it is keyed on --------------------------------------------
BINARY_ANSWER = BackendResponse(
    200, b'{"outputs":[{"name":"p","parameters":{"binary_data_size":8}}]}' + b"\x00" * 8
)


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (BINARY_ANSWER, BackendError),  # a 200 the gateway can't parse: the backend is fine
        (BackendResponse(200, b"[1, 2]"), BackendError),
        (BackendResponse(400, b""), InputRejectedByModel),
        (BackendResponse(422, b""), InputRejectedByModel),
        (BackendResponse(404, b""), ModelNotReady),
        (BackendResponse(413, b""), StewardError),
        (BackendResponse(401, b""), BackendError),
    ],
)
def test_caller_caused_outcomes_never_open_the_breaker(
    outcome: BackendResponse, error: type[Exception]
) -> None:
    # Given ten answers caused by what the caller sent (threshold 2)
    r, transport, _ = router(*([outcome] * 10), OK)
    for _ in range(10):
        with pytest.raises(error):
            r.call(TARGET, REQUEST)
    # Then the next call still reaches the backend
    assert r.call(TARGET, REQUEST).attempts == 1
    assert len(transport.calls) == 11


def test_overload_429_is_retried_but_never_opens_the_breaker() -> None:
    r, _, _ = router(*([BackendResponse(429, b"")] * 9), OK, max_attempts=3)
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            r.call(TARGET, REQUEST)
    assert r.call(TARGET, REQUEST).attempts == 1


@pytest.mark.parametrize(
    "fault",
    [
        TransportTimeout("slow"),
        TransportError("tls"),
        BackendResponse(500, b""),
        BackendResponse(502, b""),
        BackendResponse(504, b""),
    ],
)
def test_backend_faults_open_the_breaker(fault: BackendResponse | Exception) -> None:
    r, transport, _ = router(fault, fault, max_attempts=1)
    for _ in range(2):
        with pytest.raises(StewardError):
            r.call(TARGET, REQUEST)
    with pytest.raises(BackendUnavailable):
        r.call(TARGET, REQUEST)
    assert len(transport.calls) == 2


def test_connect_failures_and_503_after_retries_open_the_breaker() -> None:
    r, transport, _ = router(
        *([ConnectFailed("refused")] * 2), *([BackendResponse(503, b"")] * 2), max_attempts=2
    )
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            r.call(TARGET, REQUEST)
    with pytest.raises(BackendUnavailable) as info:
        r.call(TARGET, REQUEST)
    assert "Retry-After" in info.value.headers and len(transport.calls) == 4


def test_breakers_are_per_model_version_on_one_backend() -> None:
    # Given model m version 1 whose backend fails (threshold 2)
    def respond(target: Target, request: BackendRequest) -> BackendResponse:
        return BackendResponse(500, b"") if (request.model, request.version) == ("m", "1") else OK

    transport = FakeTransport(respond=respond)
    r = Router({"http": transport}, RouterPolicy(breaker_threshold=2, max_attempts=1), sleep=lambda s: None)
    for _ in range(2):
        with pytest.raises(BackendError):
            r.call(TARGET, REQUEST)
    with pytest.raises(BackendUnavailable):
        r.call(TARGET, REQUEST)
    # Then other models and other versions on the same backend target keep being served
    for model, version in (("other", "1"), ("m", "2")):
        assert r.call(TARGET, BackendRequest(model, version, REQUEST.payload)).payload == {"outputs": []}
    assert r.breaker(TARGET, "other", "1").state.value == "closed"
    assert r.breaker(TARGET, "m", "1").state.value == "open"


# --- through the gateway: one caller can't fail a model for everyone ---------------------------
def triton_like(target: Target, request: BackendRequest) -> BackendResponse:
    """Answers as Triton does: binary-extension bodies when asked, 400 for a negative feature."""
    payload = request.payload
    asked = (payload.get("parameters") or {}).get("binary_data_output") or any(
        (o.get("parameters") or {}).get("binary_data") for o in payload.get("outputs") or []
    )
    if asked:
        return BINARY_ANSWER
    tensor = payload["inputs"][0]
    if tensor["datatype"] == "BYTES":
        return BackendResponse(200, json.dumps(embedding_response(request)).encode())
    if tensor["data"][0] < 0:
        return BackendResponse(400, b'{"error": "bad input"}')
    p = tensor["data"][0]
    answer = {"outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [1 - p, p]}]}
    return BackendResponse(200, json.dumps(answer).encode())


def principal(tenant: str) -> Principal:
    return Principal(tenant, f"key-{tenant}", frozenset(), frozenset({"*"}))


def call_as(tenant: str) -> RequestContext:
    draft = AuditDraft(
        request_id="r", method="POST", route="/v2/models/{model}/infer", started_at=0.0, tenant_id=tenant
    )
    return RequestContext(principal(tenant), draft)


def features(value: float, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 1], "data": [value]}], **extra}


def test_binary_flags_and_bad_input_from_one_caller_never_open_a_breaker(
    use_cases: Api, transport: FakeTransport
) -> None:
    # Given a Triton-like backend and a breaker that opens after 2 faults
    transport.respond = triton_like
    inference = use_cases.inference
    binary = features(
        0.25,
        parameters={"binary_data_output": True},
        outputs=[{"name": "probabilities", "parameters": {"binary_data": True}}],
    )
    # When one caller sends 10 requests asking for binary outputs, and 10 the model rejects
    for _ in range(10):
        answer = inference.infer(call_as("acme"), CREDIT, None, binary)
        assert answer["outputs"][0]["data"] == [0.75, 0.25]
    for _ in range(10):
        with pytest.raises(InputRejectedByModel):
            inference.infer(call_as("acme"), CREDIT, None, features(-1.0))
    # Then the backend never saw a binary flag (it always answered JSON)
    for _, request, _ in transport.calls:
        assert "binary_data" not in json.dumps(request.payload)
    # And the model, the other models and the other tenants keep being served
    assert inference.infer(call_as("globex"), CREDIT, None, features(0.5))["outputs"][0]["data"] == [
        0.5,
        0.5,
    ]
    assert inference.infer(call_as("acme"), CREDIT, None, features(0.5))["outputs"]
    embedded = inference.embed(call_as("globex"), MINILM, ["hi"], "float", None)
    assert len(embedded["data"]) == 1
    assert len(transport.calls) == 23
