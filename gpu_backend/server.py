"""HTTP front end (Starlette): OIP v2 REST, the SageMaker container contract and /metrics.

Routes read the body (bounded), call the shared `DataPlane` and return bytes; every
`BackendError` becomes `{"error": ...}` with its status in one handler. No pydantic on the hot path.
The two inference routes skip Starlette's router and middleware (`InferenceFastPath`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gpu_backend.codec import HEADER_LENGTH
from gpu_backend.dataplane import DataPlane
from gpu_backend.errors import BackendError, InvalidInputError, PayloadTooLargeError
from gpu_backend.metrics import CONTENT_TYPE, Metrics
from gpu_backend.settings import Settings

log = logging.getLogger(__name__)

JSON = "application/json"
TARGET_MODEL_HEADER = "x-amzn-sagemaker-target-model"
#: SageMaker passes InvokeEndpoint's CustomAttributes through in this header; Steward's gateway
#: sends ``steward-operation=explain`` there, as /invocations is the only route SageMaker exposes.
CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes"
EXPLAIN_ATTRIBUTE = "steward-operation=explain"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


def _error(message: str, status: int) -> Response:
    return _json({"error": message}, status)


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes; refuse early on Content-Length, and also for chunked bodies."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _plane(request: Request) -> DataPlane:
    plane: DataPlane = request.app.state.dataplane
    return plane


def _version(request: Request) -> str | None:
    version: str | None = request.path_params.get("version")
    return version


def _infer_response(body: bytes, header_length: int | None) -> Response:
    if header_length is None:
        return Response(body, media_type=JSON)
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )


# ---------------------------------------------------------------------------------- routes


async def server_metadata(request: Request) -> Response:
    return _json(_plane(request).server_metadata())


async def health_live(request: Request) -> Response:
    return _json({"live": True})


async def health_ready(request: Request) -> Response:
    # OIP: 200 means ready, a 4xx means not (Triton answers 400).
    ready = _plane(request).ready()
    return _json({"ready": ready}, 200 if ready else 400)


async def model_metadata(request: Request) -> Response:
    return _json(_plane(request).model_metadata(request.path_params["model"], _version(request)))


async def model_ready(request: Request) -> Response:
    name = request.path_params["model"]
    ready = _plane(request).model_ready(name, _version(request))
    return _json({"name": name, "ready": ready}, 200 if ready else 400)


async def infer(request: Request) -> Response:
    plane = _plane(request)
    body = await read_body(request, plane.settings.max_body_bytes)
    out, header_length = await plane.infer(
        request.path_params["model"], _version(request), body, request.headers.get(HEADER_LENGTH)
    )
    return _infer_response(out, header_length)


async def explain(request: Request) -> Response:
    """Shapley (tabular) or occlusion (text) attributions, OIP-shaped (gpu_backend.explain.service)."""
    plane = _plane(request)
    body = await read_body(request, plane.settings.max_body_bytes)
    return _json(await plane.explain(request.path_params["model"], _version(request), body))


async def repository_index(request: Request) -> Response:
    return _json(_plane(request).repository_index())


async def ping(request: Request) -> Response:
    """SageMaker health check: 200 with an empty body once models are loaded and not draining."""
    return Response(b"", status_code=200 if _plane(request).ready() else 503)


async def invocations(request: Request) -> Response:
    """SageMaker inference: an OIP JSON body; the target model from the header or `model_name`."""
    plane = _plane(request)
    body = await read_body(request, plane.settings.max_body_bytes)
    target = request.headers.get(TARGET_MODEL_HEADER)
    name, version = None, None
    if target:
        name, _, version_part = target.partition("/")
        version = version_part or None
    attributes = request.headers.get(CUSTOM_ATTRIBUTES_HEADER, "")
    if EXPLAIN_ATTRIBUTE in [a.strip() for a in attributes.split(",")]:
        return await _invocation_explain(plane, name, version, body)
    out, header_length = await plane.infer(name, version, body, request.headers.get(HEADER_LENGTH))
    return _infer_response(out, header_length)


async def _invocation_explain(
    plane: DataPlane, name: str | None, version: str | None, body: bytes
) -> Response:
    """An explanation through /invocations: the model from the header or the body's model_name."""
    if name is None:
        try:
            request_body = orjson.loads(body)
        except orjson.JSONDecodeError:
            request_body = None
        raw_name = request_body.get("model_name") if isinstance(request_body, dict) else None
        raw_version = request_body.get("model_version") if isinstance(request_body, dict) else None
        if not isinstance(raw_name, str):
            raise InvalidInputError("no target model: set the target model header or 'model_name'")
        name, version = raw_name, raw_version if isinstance(raw_version, str) else None
    return _json(await plane.explain(name, version, body))


async def metrics(request: Request) -> Response:
    plane = _plane(request)
    plane.refresh_gauges()
    return Response(plane.metrics.render(), media_type=CONTENT_TYPE)


# ---------------------------------------------------------------------------------- errors


async def backend_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendError)
    return _error(exc.message, exc.status_code)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(f"no route {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return _error(f"method {request.method} is not allowed on {request.url.path}", 405)
    return _error(str(exc.detail), exc.status_code)


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error("internal server error", 500)


# ------------------------------------------------------------------------------------- app


def _routes() -> list[Route]:
    model = "/v2/models/{model:str}"
    version = model + "/versions/{version:str}"
    routes = [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", health_live, methods=["GET"]),
        Route("/v2/health/ready", health_ready, methods=["GET"]),
        Route("/v2/repository/index", repository_index, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    for prefix in (model, version):
        routes += [
            Route(prefix, model_metadata, methods=["GET"]),
            Route(prefix + "/ready", model_ready, methods=["GET"]),
            Route(prefix + "/infer", infer, methods=["POST"]),
            Route(prefix + "/explain", explain, methods=["POST"]),
        ]
    return routes


_INFER_PATH = re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer")


class InferenceFastPath:
    """Sends `POST .../infer` and `POST /invocations` straight to their handlers.

    Starlette's router (a regex per route) and its two exception middlewares were about a third of
    the Python time the event loop spent per inference request (py-spy, docs/benchmarks.md): CPU the
    ORT threads want on a small machine, and on a GPU host the event loop is what bounds throughput.
    The handlers are the same functions the Starlette routes
    use, with the same error mapping; every other request, and the lifespan, go through Starlette.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == "/invocations":
                return await self._handle(invocations, scope, receive, send, {})
            match = _INFER_PATH.fullmatch(path)
            if match is not None:
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                return await self._handle(infer, scope, receive, send, params)
        await self.app(scope, receive, send)

    async def _handle(
        self,
        endpoint: Callable[[Request], Awaitable[Response]],
        scope: Scope,
        receive: Receive,
        send: Send,
        path_params: dict[str, str],
    ) -> None:
        scope["app"] = self.app
        scope["path_params"] = path_params
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except BackendError as exc:
            response = await backend_error(request, exc)
        except Exception as exc:
            response = await internal_error(request, exc)
        await response(scope, receive, send)


def create_app(settings: Settings, repository: Path | None = None) -> InferenceFastPath:
    """Build the ASGI app. Models load in the background after startup, so `/ping` and
    `/v2/health/live` answer at once and readiness turns true when loading is done."""
    metrics_registry = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        plane = DataPlane(settings, repository or settings.model_repository, metrics_registry)
        app.state.dataplane = plane
        loading = asyncio.get_running_loop().create_task(plane.load_all(), name="load-models")
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loading
            await plane.close()

    app = Starlette(
        routes=_routes(),
        lifespan=lifespan,
        exception_handlers={
            BackendError: backend_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
    )
    return InferenceFastPath(app)
