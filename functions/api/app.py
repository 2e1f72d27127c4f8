"""The api function's ASGI app: ``create_app(settings, api)`` (a factory, for tests and local)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Response
from steward.audit.record import AuditDraft, AuditKeys, AuditStore
from steward.bootstrap import Api, Lazy, api_settings
from steward.settings import ApiSettings

from functions.api import cors, problems
from functions.api.middleware import GovernanceMiddleware
from functions.api.openapi import install as install_openapi
from functions.api.responses import json_response
from functions.api.routes import ROUTERS
from functions.api.schemas import Health

FILES_PATH = "/v1/files"
#: Bytes of a multipart upload beyond the file: boundaries, part headers, the ``purpose`` field.
MULTIPART_ALLOWANCE = 16 * 1024


async def health() -> Response:
    """The public probe (`steward.resources.PUBLIC_PATHS`): no key, no data plane, no audit."""
    return json_response({"status": "ok"})


def create_app(
    settings: ApiSettings | None = None,
    api: Api | None = None,
    *,
    inline_blocking: bool = False,
    cors_settings: cors.CorsSettings | None = None,
) -> FastAPI:
    """The api app. Without ``api`` the AWS-backed use cases are built on first use from
    ``settings`` (`steward.bootstrap.build_api`), not at import time.

    ``inline_blocking=True`` (Lambda) runs blocking I/O on the event loop: one request per
    process, and no thread hop (Mangum's per-invocation loop run would start a new worker thread
    every time). Long-running servers (uvicorn) keep the default and use the thread pool.
    """
    settings = settings or api_settings()
    if api is not None:
        provided = api
        get_api: Callable[[], Api] = lambda: provided  # noqa: E731
    else:
        from steward.bootstrap import build_api

        get_api = Lazy(lambda: build_api(settings))

    def audit_store() -> AuditStore:
        built: Api = app.state.api()
        return built.audit_store

    def note_retention(draft: AuditDraft) -> None:
        """The tenant plan's audit retention, through the access gate's tenant cache."""
        gate = app.state.api().gate
        if gate is not None:
            gate.note_retention(draft)

    def audit_pepper() -> bytes:
        """The process's one pepper source: the use cases' (shared with the privacy ``hash``
        operator, so one secret read per process), else the one the settings name."""
        source = app.state.api().pepper
        if source is None:
            from steward.bootstrap import pepper_source

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
    app.state.api = get_api  # the use cases (`functions.api.deps`)
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
        # A batch file upload: the file itself (checked against ``max_file_bytes`` by the route)
        # and its multipart envelope.
        body_limits={FILES_PATH: settings.max_file_bytes + MULTIPART_ALLOWANCE},
        block_share=settings.tenant_block_share,
        note_retention=note_retention,
    )
    cors.install(app, cors_settings)  # browser origins, when the stage allows any (outermost)
    return app
