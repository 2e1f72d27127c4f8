"""Public routes: parse, call the gateway data plane, map the answer. Nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from steward.audit import AuditDraft
from steward.auth.principal import Principal
from steward.errors import PROBLEM_CONTENT_TYPE, Unauthenticated
from steward.gateway import Gateway

from functions.api.middleware import SCOPE_AUDIT, SCOPE_PRINCIPAL
from functions.api.schemas import (
    AuditList,
    EmbeddingsRequest,
    EmbeddingsResponse,
    InferRequest,
    InferResponse,
    ModelList,
    ModelMetadata,
    Problem,
)

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}}
    for status in (400, 401, 403, 404, 413, 422, 502, 503, 504)
}


class Call:
    """What every governed route needs from the envelope: caller, audit draft, data plane."""

    __slots__ = ("caller", "draft", "gateway", "request")

    def __init__(self, request: Request) -> None:
        caller = request.scope.get(SCOPE_PRINCIPAL)
        draft = request.scope.get(SCOPE_AUDIT)
        if not isinstance(caller, Principal) or not isinstance(draft, AuditDraft):
            raise Unauthenticated()
        self.request = request
        self.caller: Principal = caller
        self.draft: AuditDraft = draft
        self.gateway: Gateway = request.app.state.gateway()

    async def run(self, fn: Callable[..., dict[str, Any]], *args: Any) -> Response:
        """Run blocking data-plane work: inline on Lambda (one request per process, no thread
        hop), in the thread pool under a long-running server (keeps the event loop free)."""
        if self.request.app.state.inline_blocking:
            return json_response(fn(*args))
        return json_response(await run_in_threadpool(fn, *args))


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return Response(content=body, status_code=status, media_type="application/json")


router = APIRouter(responses=PROBLEMS)


@router.get("/health", include_in_schema=False)
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(request: Request) -> Response:
    call = Call(request)
    return await call.run(call.gateway.list_models, call.caller)


@router.post("/v1/embeddings", response_model=EmbeddingsResponse, tags=["openai"])
async def create_embeddings(body: EmbeddingsRequest, request: Request) -> Response:
    call = Call(request)
    return await call.run(
        call.gateway.embed,
        call.caller,
        body.model,
        body.input,
        body.encoding_format,
        body.dimensions,
        call.draft,
    )


@router.get("/v2/models/{model}", response_model=ModelMetadata, tags=["oip"])
async def model_metadata(model: str, request: Request) -> Response:
    call = Call(request)
    return await call.run(call.gateway.model_metadata, call.caller, model, None, call.draft)


@router.get("/v2/models/{model}/versions/{version}", response_model=ModelMetadata, tags=["oip"])
async def model_version_metadata(model: str, version: str, request: Request) -> Response:
    call = Call(request)
    return await call.run(call.gateway.model_metadata, call.caller, model, version, call.draft)


@router.post("/v2/models/{model}/infer", response_model=InferResponse, tags=["oip"])
async def infer(model: str, body: InferRequest, request: Request) -> Response:
    call = Call(request)
    payload = body.model_dump(exclude_none=True)
    return await call.run(call.gateway.infer, call.caller, model, None, payload, call.draft)


@router.post("/v2/models/{model}/versions/{version}/infer", response_model=InferResponse, tags=["oip"])
async def infer_version(model: str, version: str, body: InferRequest, request: Request) -> Response:
    call = Call(request)
    payload = body.model_dump(exclude_none=True)
    return await call.run(call.gateway.infer, call.caller, model, version, payload, call.draft)


@router.get("/v1/audit", response_model=AuditList, tags=["governance"])
async def list_audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    call = Call(request)
    return await call.run(call.gateway.audit_page, call.caller, limit, cursor)
