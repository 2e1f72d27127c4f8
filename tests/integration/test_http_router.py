"""Router + HTTP transport against a real (in-process) OIP server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from steward.catalog.registry import Target
from steward.errors import BackendTimeout, BackendUnavailable, InputRejectedByModel
from steward.routing.http_transport import HttpTransport
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest

from .conftest import FakeBackend, Reply, free_port

pytestmark = pytest.mark.integration
REQUEST = BackendRequest(
    "all-minilm-l6-v2", "1", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
)


def make_router(**policy: Any) -> Router:
    return Router({"http": HttpTransport("")}, RouterPolicy(**policy), sleep=lambda s: None)


def test_infer_goes_to_the_versioned_oip_path(backend: FakeBackend) -> None:
    result = make_router().call(Target(kind="http", url=backend.url), REQUEST)
    assert len(result.payload["outputs"][0]["data"]) == 384
    assert backend.requests[0][0] == "/v2/models/all-minilm-l6-v2/versions/1/infer"


def test_503_is_retried_then_succeeds(backend: FakeBackend) -> None:
    answers: list[Reply] = [(503, {"error": "not ready"}), (200, {"outputs": []})]
    backend.reply = lambda path, payload: answers.pop(0)
    assert make_router().call(Target(kind="http", url=backend.url), REQUEST).attempts == 2


def test_backend_400_is_a_caller_error_without_backend_text(backend: FakeBackend) -> None:
    backend.reply = lambda path, payload: (400, {"error": "tensor 'text' internal detail"})
    with pytest.raises(InputRejectedByModel) as info:
        make_router().call(Target(kind="http", url=backend.url), REQUEST)
    assert "internal" not in info.value.detail


def test_refused_connection_opens_the_breaker() -> None:
    target = Target(kind="http", url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    router = make_router(breaker_threshold=1, max_attempts=2)
    with pytest.raises(BackendUnavailable):
        router.call(target, REQUEST)
    with pytest.raises(BackendUnavailable) as fast:
        router.call(target, REQUEST)
    assert "Retry-After" in fast.value.headers


def test_slow_backend_times_out_without_retry(backend: FakeBackend) -> None:
    def slow(path: str, payload: dict[str, Any]) -> Reply:
        time.sleep(0.5)
        return 200, {"outputs": []}

    backend.reply = slow
    with pytest.raises(BackendTimeout):
        make_router(try_timeout_s=0.1, deadline_s=1.0).call(Target(kind="http", url=backend.url), REQUEST)
    assert len(backend.requests) == 1
