"""Every error answer of the api function, as one RFC 9457 problem document renderer.

The document itself is `steward.errors.problem_for` (API Gateway's own answers in CDK and the local
emulator use it too); this module turns it into a response, both for the exception handlers the
app installs (routes, validation, routing) and for the middleware's own refusals (no key, body too
large, audit trail down), so the two can't drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from steward.audit.record import AuditDraft
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
from steward.privacy.logs import scrub_text

from functions.api.deps import SCOPE_AUDIT, SCOPE_BODY, SCOPE_REQUEST_ID
from functions.api.json_guard import parses_as_json

FORM_MEDIA_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class ProblemAnswer:
    """Status, headers (content type first) and body of one problem document."""

    status: int
    headers: dict[str, str]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, self.status, headers=self.headers)

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]


def _answer(status: int, document: dict[str, Any], headers: dict[str, str]) -> ProblemAnswer:
    return ProblemAnswer(status, {"content-type": PROBLEM_CONTENT_TYPE, **headers}, problem_bytes(document))


def render(error: StewardError, request_id: str, path: str, **extra: Any) -> ProblemAnswer:
    """The problem document for ``error`` (``path`` picks the OpenAI or OIP ``error`` member)."""
    return _answer(error.status, problem_for(error, request_id, path=path, **extra), error.headers)


def problem_response(request: Request, error: StewardError, **extra: Any) -> Response:
    """``error`` as this request's answer; its code goes into the request's audit draft."""
    draft = request.scope.get(SCOPE_AUDIT)
    if isinstance(draft, AuditDraft):
        draft.error_code = error.code
    request_id = str(request.scope.get(SCOPE_REQUEST_ID, ""))
    return render(error, request_id, request.url.path, **extra).response()


# --- exception handlers ----------------------------------------------------------------------


async def _steward_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StewardError)
    extra = getattr(exc, "problem_extra", None)  # e.g. pii.blocked's entity types (never values)
    return problem_response(request, exc, **(extra() if callable(extra) else {}))


def _unparsable(request: Request) -> bool:
    """A body sent without a JSON content type reaches validation unparsed; judge it here (a form
    upload is no JSON body: its fields were parsed and validated as such)."""
    if request.headers.get("content-type", "").lower().startswith(FORM_MEDIA_TYPES):
        return False
    body = request.scope.get(SCOPE_BODY)
    return isinstance(body, bytes) and bool(body) and not parses_as_json(body)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors) or _unparsable(request):
        return problem_response(request, MalformedJson())
    # Only location, type and a fixed message: pydantic's "input" and "ctx" would echo caller
    # content, and so would a location naming a key the caller invented (extra fields).
    safe = [
        {"loc": _safe_loc(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors[:20]
    ]
    return problem_response(request, InvalidInput(), errors=safe)


def _safe_loc(loc: object) -> list[object]:
    """Indexes and field-like names as they are; any other key (caller-chosen) as ``*``."""
    parts = loc if isinstance(loc, tuple | list) else ()
    return [
        p
        if isinstance(p, int) or (isinstance(p, str) and _FIELD_NAME.match(p) and scrub_text(p) == p)
        else "*"
        for p in parts
    ]


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
        return problem_response(request, RouteNotFound())
    if exc.status_code == 405:
        return problem_response(request, MethodNotAllowed(headers=_allow_header(request, exc)))
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI's body parser failed on something other than JSON syntax (bad UTF-8, depth).
        return problem_response(request, MalformedJson())
    request_id = str(request.scope.get(SCOPE_REQUEST_ID, ""))
    document = problem(
        exc.status_code,
        "http.error",
        "HTTP error",
        "The request could not be handled.",
        request_id,
        path=request.url.path,
    )
    return _answer(exc.status_code, document, {}).response()


def install(app: FastAPI) -> None:
    """Answer every error the app raises (Steward's, validation, routing) with a problem document."""
    app.add_exception_handler(StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
