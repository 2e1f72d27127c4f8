"""The api function's ASGI app: ``create_app(settings, gateway)`` (a factory, for tests and local)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from steward.audit import AuditDraft, AuditKeys, AuditStore
from steward.errors import (
    PROBLEM_CONTENT_TYPE,
    InvalidInput,
    MalformedJson,
    MethodNotAllowed,
    RouteNotFound,
    StewardError,
    problem,
    problem_bytes,
    problem_for,
)
from steward.gateway import Gateway
from steward.log_redaction import scrub_text
from steward.settings import StewardSettings, get_settings

from functions.api.admin_fairness_routes import router as admin_fairness_router
from functions.api.admin_routes import router as admin_router
from functions.api.json_guard import parses_as_json
from functions.api.middleware import SCOPE_AUDIT, SCOPE_BODY, SCOPE_REQUEST_ID, GovernanceMiddleware
from functions.api.oip_routes import infer_router as oip_infer_router
from functions.api.oip_routes import router as oip_router
from functions.api.openapi import install as install_openapi
from functions.api.routes import router


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


def _problem_response(request: Request, error: StewardError, **extra: object) -> Response:
    draft = request.scope.get(SCOPE_AUDIT)
    if isinstance(draft, AuditDraft):
        draft.error_code = error.code
    request_id = str(request.scope.get(SCOPE_REQUEST_ID, ""))
    body = problem_for(error, request_id, path=request.url.path, **extra)
    return Response(problem_bytes(body), error.status, headers=error.headers, media_type=PROBLEM_CONTENT_TYPE)


async def _steward_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StewardError)
    extra = getattr(exc, "problem_extra", None)  # e.g. pii.blocked's entity types (never values)
    return _problem_response(request, exc, **(extra() if callable(extra) else {}))


def _unparsable(request: Request) -> bool:
    """A body sent without a JSON content type reaches validation unparsed; judge it here."""
    body = request.scope.get(SCOPE_BODY)
    return isinstance(body, bytes) and bool(body) and not parses_as_json(body)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors) or _unparsable(request):
        return _problem_response(request, MalformedJson())
    # Only location, type and a fixed message: pydantic's "input" and "ctx" would echo caller
    # content, and so would a location naming a key the caller invented (extra fields).
    safe = [
        {"loc": _safe_loc(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors[:20]
    ]
    return _problem_response(request, InvalidInput(), errors=safe)


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _safe_loc(loc: object) -> list[object]:
    """Indexes and field-like names as they are; any other key (caller-chosen) as ``*``."""
    parts = loc if isinstance(loc, tuple | list) else ()
    return [
        p
        if isinstance(p, int) or (isinstance(p, str) and _FIELD_NAME.match(p) and scrub_text(p) == p)
        else "*"
        for p in parts
    ]


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allow_header(request: Request, exc: StarletteHTTPException) -> dict[str, str]:
    """Every method the path takes (RFC 9110 requires ``Allow`` on a 405). FastAPI makes one route
    per method and Starlette names only the first route matching the path, so ask them all."""
    methods = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]
    if methods:
        return {"allow": ", ".join(sorted(methods))}
    allow = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
    return {"allow": allow} if allow else {}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _problem_response(request, RouteNotFound())
    if exc.status_code == 405:
        return _problem_response(request, MethodNotAllowed(headers=_allow_header(request, exc)))
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI's body parser failed on something other than JSON syntax (bad UTF-8, depth).
        return _problem_response(request, MalformedJson())
    request_id = str(request.scope.get(SCOPE_REQUEST_ID, ""))
    body = problem(
        exc.status_code,
        "http.error",
        "HTTP error",
        "The request could not be handled.",
        request_id,
        path=request.url.path,
    )
    return Response(problem_bytes(body), exc.status_code, media_type=PROBLEM_CONTENT_TYPE)


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
    app.state.gateway = get_gateway
    app.state.inline_blocking = inline_blocking
    app.include_router(router)
    app.include_router(oip_router)
    app.include_router(oip_infer_router)
    app.include_router(admin_router)
    app.include_router(admin_fairness_router)
    app.add_exception_handler(StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(
        GovernanceMiddleware,
        audit_store=audit_store,
        audit_keys=AuditKeys(audit_pepper),
        inline_blocking=inline_blocking,
        max_body_bytes=settings.max_body_bytes,
        retention_days=settings.audit_retention_days,
    )
    return app
