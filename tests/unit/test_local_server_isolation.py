"""The local server: a slow backend can't starve authentication or other routes, and every log
record carries its own request's correlation id.

Both run the api app behind the API Gateway emulation in one event loop (as uvicorn does), with
the authorizer's real code over in-memory stores; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr
from steward import admin
from steward.auth.authorize import Authorizer
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry, Target
from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.api.observability import logger
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    demo_model,
    embedding_response,
)

PEPPER = b"isolation-pepper-0123456789abcdef"
MINILM = "all-minilm-l6-v2"
SLOW_REQUESTS = 45  # more than anyio's default 40 worker-thread tokens
FAST_ANSWER_S = 3.0


class GatedBackend(FakeTransport):
    """Holds every call until ``release`` is set (at most ``hold_s``), counting those held."""

    def __init__(self, hold_s: float = 20.0) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = 0
        self.hold_s = hold_s
        self._lock = threading.Lock()

    def send(self, target: Target, request: BackendRequest, timeout_s: float) -> BackendResponse:
        with self._lock:
            self.entered += 1
        self.release.wait(self.hold_s)
        return BackendResponse(200, json.dumps(embedding_response(request)).encode())


def build(transport: FakeTransport, catalog_type: type[Catalog] = Catalog) -> tuple[Any, str]:
    settings = ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()))
    keys = InMemoryKeyStore()
    registry_store = InMemoryRegistryStore()
    entry, version = demo_model(MINILM)
    registry_store.put_entry(entry)
    registry_store.put_version(version)
    policy = RouterPolicy(deadline_s=25, try_timeout_s=25, max_attempts=1, breaker_threshold=1000)
    use_cases = compose_api(
        Registry(registry_store), Router({"http": transport}, policy), InMemoryAuditStore()
    )
    use_cases = replace(use_cases, catalog=catalog_type(use_cases.catalog.registry))
    authorizer = Authorizer(keys, lambda: PEPPER)
    token, _ = admin.create_api_key(
        "acme", models=(MINILM,), settings=settings, store=keys, pepper=lambda: PEPPER
    )
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    return app, token


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://local", timeout=30)


@pytest.mark.anyio
async def test_a_slow_backend_does_not_stall_health_auth_or_other_routes() -> None:
    backend = GatedBackend()
    app, token = build(backend)
    auth = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []

    async def slow_embedding(http: httpx.AsyncClient) -> None:
        response = await http.post("/v1/embeddings", headers=auth, json={"model": MINILM, "input": "x"})
        statuses.append(response.status_code)

    try:
        async with client(app) as http, anyio.create_task_group() as tasks:
            for _ in range(SLOW_REQUESTS):
                tasks.start_soon(slow_embedding, http)
            with anyio.fail_after(10):  # the slow requests hold their threads in the backend
                while backend.entered < 40:  # noqa: ASYNC110 (a counter kept by worker threads)
                    await anyio.sleep(0.01)
            # While they are stuck: health, authentication and a registry-only route still answer
            with anyio.fail_after(FAST_ANSWER_S):
                health = await http.get("/health")
                models = await http.get("/v1/models", headers=auth)
                refused = await http.get("/v1/models", headers={"Authorization": "Bearer stw_nope"})
            backend.release.set()
    finally:
        backend.release.set()
    assert health.status_code == 200
    assert models.status_code == 200 and [m["id"] for m in models.json()["data"]] == [MINILM]
    assert refused.status_code == 401
    assert statuses == [200] * SLOW_REQUESTS  # and the slow ones all complete once released


class LoggingCatalog(Catalog):
    """Each listing waits until 8 requests are inside, then logs from its worker thread."""

    barrier = threading.Barrier(8)

    def list_models(self, ctx: RequestContext) -> dict[str, Any]:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=5)
        logger.info("listing models")
        logging.getLogger("steward.test").info("library line")
        return super().list_models(ctx)


class Capture:
    """Every line the api, authorizer and steward library loggers write, each with its own
    formatter (the one the process uses), as parsed JSON."""

    def __init__(self) -> None:
        from functions.authorizer.handler import logger as authorizer_logger

        library = logging.getLogger("steward")
        self.stream = io.StringIO()
        self.handlers: list[tuple[logging.Logger, logging.Handler]] = []
        for target, formatter in [
            (logger._logger, logger.registered_formatter),
            (authorizer_logger._logger, authorizer_logger.registered_formatter),
            (library, next(h.formatter for h in library.handlers if h.formatter is not None)),
        ]:
            handler = logging.StreamHandler(self.stream)
            handler.setFormatter(formatter)
            target.addHandler(handler)
            self.handlers.append((target, handler))

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.stream.getvalue().splitlines() if text.strip()]

    def close(self) -> None:
        for target, handler in self.handlers:
            target.removeHandler(handler)


@pytest.fixture
def captured() -> Iterator[Capture]:
    capture = Capture()
    yield capture
    capture.close()


@pytest.mark.anyio
async def test_concurrent_requests_log_their_own_correlation_id(captured: Capture) -> None:
    LoggingCatalog.barrier = threading.Barrier(8)
    app, token = build(FakeTransport(), LoggingCatalog)
    auth = {"Authorization": f"Bearer {token}"}
    request_ids: list[str] = []

    async def one(http: httpx.AsyncClient) -> None:
        response = await http.get("/v1/models", headers=auth)
        assert response.status_code == 200
        request_ids.append(response.headers["x-request-id"])

    with anyio.fail_after(20):
        async with client(app) as http, anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(one, http)
    by_message: dict[str, list[str]] = {}
    for line in captured.lines():
        by_message.setdefault(line["message"], []).append(line.get("correlation_id", ""))
    assert len(set(request_ids)) == 8
    # The authorizer's line, the route's lines from its worker thread, and the envelope's line
    for message in ("key accepted", "listing models", "library line", "request"):
        assert sorted(by_message.get(message, [])) == sorted(request_ids), message
