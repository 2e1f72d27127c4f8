"""The api function's ASGI app: ``create_app(settings, gateway)`` (a factory, for tests and local)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import FastAPI, Response
from steward.audit.record import AuditKeys, AuditStore
from steward.gateway import Gateway
from steward.settings import StewardSettings, get_settings

from functions.api import problems
from functions.api.middleware import GovernanceMiddleware
from functions.api.openapi import install as install_openapi
from functions.api.responses import json_response
from functions.api.routes import ROUTERS
from functions.api.schemas import Health


def _lazy(factory: Callable[[], Gateway]) -> Callable[[], Gateway]:
    """Build the gateway (and its AWS clients) on first use, not at import time."""
    lock = threading.Lock()
    built: list[Gateway] = []

    def get() -> Gateway:
        if not built:
            with lock:
                if not built:
                    built.append(factory())
        return built[0]

    return get


async def health() -> Response:
    """The public probe (`steward.resources.PUBLIC_PATHS`): no key, no data plane, no audit."""
    return json_response({"status": "ok"})


def create_app(
    settings: StewardSettings | None = None, gateway: Gateway | None = None, *, inline_blocking: bool = False
) -> FastAPI:
    """The api app. Without ``gateway`` the AWS-backed one is built lazily from ``settings``.

    ``inline_blocking=True`` (Lambda) runs blocking I/O on the event loop: one request per
    process, and no thread hop (Mangum's per-invocation loop run would start a new worker thread
    every time). Long-running servers (uvicorn) keep the default and use the thread pool.
    """
    settings = settings or get_settings()
    if gateway is not None:
        provided = gateway
        get_gateway: Callable[[], Gateway] = lambda: provided  # noqa: E731
    else:
        from steward.wiring import build_gateway

        get_gateway = _lazy(lambda: build_gateway(settings))

    def audit_store() -> AuditStore:
        gateway: Gateway = app.state.gateway()
        return gateway.audit_store

    def audit_pepper() -> bytes:
        """The process's one pepper source: the privacy guard's (shared with the ``hash``
        operator, so one secret read per process), else the one the settings name."""
        source = app.state.gateway().privacy.pepper
        if source is None:
            from steward.wiring import pepper_source

            source = pepper_source(settings)
        return bytes(source())

    app = FastAPI(
        title="Steward",
        version="1",
        summary="Governed Model-as-a-Service: OpenAI-compatible embeddings and Open Inference Protocol v2.",
        docs_url=None,
        redoc_url=None,
    )
    install_openapi(app, settings)  # security schemes, problem responses, the settings' limits
    app.state.gateway = get_gateway  # the data plane (`functions.api.deps.DataPlane`)
    app.state.inline_blocking = inline_blocking  # where blocking work runs (`deps.CallContext`)
    app.add_api_route("/health", health, response_model=Health, include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router)
    problems.install(app)
    app.add_middleware(
        GovernanceMiddleware,
        audit_store=audit_store,
        audit_keys=AuditKeys(audit_pepper),
        inline_blocking=inline_blocking,
        max_body_bytes=settings.max_body_bytes,
        retention_days=settings.audit_retention_days,
    )
    return app
