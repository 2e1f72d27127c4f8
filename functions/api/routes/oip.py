"""Open Inference Protocol v2 routes: health, server and model metadata, repository index, and
inference with the binary tensor data extension, so ``tritonclient.http`` works unchanged.

Every ``/v2`` route needs a key, health included: one rule for the whole OIP surface, enforced by
the authorizer in front of every non-public route (API Gateway and the local emulator alike), and
nothing about the service is told to a caller without one. ``GET /health`` stays the public probe.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from steward.catalog.service import Catalog
from steward.errors import UnsupportedMediaType
from steward.inference.oip_binary import (
    BINARY_MEDIA_TYPE,
    EXTENSION,
    HEADER_LENGTH,
    OutputEncoding,
    decode_request,
    encode_response,
    split_body,
)

from functions.api.deps import (
    AUTHENTICATED,
    PLANE,
    SCOPE_BODY,
    CallContext,
    CatalogService,
    Context,
    Inference,
)
from functions.api.json_guard import check_json
from functions.api.openapi import DISCLOSURE_HEADERS, MODEL_PROBLEMS, PROBLEMS, problem_responses
from functions.api.responses import json_response
from functions.api.schemas import (
    InferRequest,
    InferResponse,
    Liveness,
    ModelMetadata,
    ModelReadiness,
    Readiness,
    RepositoryModel,
    ServerMetadata,
)

SERVER_NAME = "steward"
SCOPE_OUTPUT = "steward.oip_output"


# --- the binary tensor data extension on the request side ------------------------------------


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


def _accepted(media: str | None) -> bool:
    """No media type (tritonclient sends none), JSON, or octet-stream (the binary extension)."""
    return media in (None, "application/json", BINARY_MEDIA_TYPE) or (
        media.startswith("application/") and media.endswith("+json")
    )


class _DecodedRequest(Request):
    """The request as FastAPI should see it: the JSON-shaped payload, already parsed."""

    def __init__(self, request: Request, body: bytes, payload: Any) -> None:
        dropped = (b"content-type", b"content-length", HEADER_LENGTH.encode())
        headers = [(k, v) for k, v in request.scope["headers"] if k not in dropped]
        headers.append((b"content-type", b"application/json"))
        super().__init__({**request.scope, "headers": headers})
        self._steward_body = body
        self._steward_payload = payload

    async def body(self) -> bytes:
        return self._steward_body

    async def json(self) -> Any:
        return self._steward_payload


class BinaryTensorRoute(APIRoute):
    """An OIP infer route: decodes binary inputs into the JSON-shaped request (the privacy guard
    then sees binary BYTES exactly as JSON strings), takes the extension's flags out so they never
    reach the backend, and leaves the caller's output choice in the scope for ``oip_answer``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if not _accepted(_media_type(request)):
                raise UnsupportedMediaType(
                    "Send OIP requests as application/json, or with the binary tensor data "
                    "extension (Inference-Header-Content-Length) as application/octet-stream."
                )
            raw = await request.body()
            header_length = request.headers.get(HEADER_LENGTH)
            if not raw and header_length is None:
                return await handler(request)  # no body: schema validation says what's missing
            if header_length is None and _media_type(request) == BINARY_MEDIA_TYPE:
                check_json(raw)  # JSON the middleware's gate let pass as bytes: same strict rules
            header, binary = split_body(raw, header_length)
            payload, encoding = decode_request(header, binary)
            request.scope[SCOPE_BODY] = header  # error handlers judge the JSON, not tensor bytes
            request.scope[SCOPE_OUTPUT] = encoding
            return await handler(_DecodedRequest(request, header, payload))

        return route


def oip_answer(request: Request, answer: dict[str, Any]) -> Response:
    """JSON, or the binary extension where the caller asked for binary outputs."""
    encoding = request.scope.get(SCOPE_OUTPUT)
    if not isinstance(encoding, OutputEncoding) or not encoding.any:
        return json_response(answer)
    body, header_length = encode_response(answer, encoding)
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(
        body, media_type=BINARY_MEDIA_TYPE, headers={"Inference-Header-Content-Length": str(header_length)}
    )


# --- routes --------------------------------------------------------------------------------

router = APIRouter(responses=PROBLEMS, tags=["oip"])
infer_router = APIRouter(responses=PROBLEMS, tags=["oip"], route_class=BinaryTensorRoute)

_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The outputs; with binary outputs asked for, the JSON header (its length in "
        "``Inference-Header-Content-Length``) followed by the raw tensors.",
        "content": {BINARY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "headers": DISCLOSURE_HEADERS,
    },
    **problem_responses(404, 415, 501, 502, 504),
}


@router.get("/v2/health/live", response_model=Liveness, dependencies=[AUTHENTICATED])
async def server_live() -> Response:
    return json_response({"live": True})


@router.get("/v2/health/ready", response_model=Readiness, dependencies=[AUTHENTICATED, PLANE])
async def server_ready() -> Response:
    """Ready once the data plane is built (stores are reached per request, never probed here)."""
    return json_response({"ready": True})


@router.get("/v2", response_model=ServerMetadata, dependencies=[AUTHENTICATED])
async def server_metadata(request: Request) -> Response:
    return json_response({"name": SERVER_NAME, "version": request.app.version, "extensions": [EXTENSION]})


@router.get("/v2/models/{model}", response_model=ModelMetadata, responses=MODEL_PROBLEMS)
async def model_metadata(model: str, context: Context, catalog: CatalogService) -> Response:
    return await context.run(catalog.model_metadata, context.request_context, model, None)


@router.get("/v2/models/{model}/versions/{version}", response_model=ModelMetadata, responses=MODEL_PROBLEMS)
async def model_version_metadata(
    model: str, version: str, context: Context, catalog: CatalogService
) -> Response:
    return await context.run(catalog.model_metadata, context.request_context, model, version)


@router.get("/v2/models/{model}/ready", response_model=ModelReadiness, responses=MODEL_PROBLEMS)
async def model_ready(model: str, context: Context, catalog: CatalogService) -> Response:
    """200 for a model this key may call now; the same 404 for one that is absent or not yours."""
    return await _ready(context, catalog, model, None)


@router.get(
    "/v2/models/{model}/versions/{version}/ready", response_model=ModelReadiness, responses=MODEL_PROBLEMS
)
async def model_version_ready(
    model: str, version: str, context: Context, catalog: CatalogService
) -> Response:
    return await _ready(context, catalog, model, version)


async def _ready(context: CallContext, catalog: Catalog, model: str, version: str | None) -> Response:
    meta = await context.value(catalog.model_metadata, context.request_context, model, version)
    return json_response({"name": meta["name"], "ready": True})


@router.post("/v2/repository/index", response_model=list[RepositoryModel])
async def repository_index(context: Context, catalog: CatalogService) -> Response:
    """The models this key may call now (each ready, at its default version); a body such as
    ``{"ready": true}`` is accepted and changes nothing, since only ready models are listed."""
    listing = await context.value(lambda: {"models": catalog.repository_index(context.request_context)})
    return json_response(listing["models"])


@infer_router.post("/v2/models/{model}/infer", response_model=InferResponse, responses=_INFER_RESPONSES)
async def infer(model: str, body: InferRequest, context: Context, inference: Inference) -> Response:
    """Inference. Also takes the binary tensor data extension: the first
    ``Inference-Header-Content-Length`` bytes are this JSON document, each input with
    ``parameters.binary_data_size`` takes its raw bytes from the rest, in input order;
    ``parameters.binary_data_output`` (or an output's ``parameters.binary_data``) asks for
    binary outputs."""
    payload = body.model_dump(exclude_none=True)
    answer = await context.value(inference.infer, context.request_context, model, None, payload)
    return context.disclosed(oip_answer(context.request, answer))


@infer_router.post(
    "/v2/models/{model}/versions/{version}/infer", response_model=InferResponse, responses=_INFER_RESPONSES
)
async def infer_version(
    model: str, version: str, body: InferRequest, context: Context, inference: Inference
) -> Response:
    """Inference on one version (binary tensor data extension as for the default version)."""
    payload = body.model_dump(exclude_none=True)
    answer = await context.value(inference.infer, context.request_context, model, version, payload)
    return context.disclosed(oip_answer(context.request, answer))
