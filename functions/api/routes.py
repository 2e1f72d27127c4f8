"""Public routes: parse, call the gateway data plane, map the answer. Nothing else."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
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


def _principal(request: Request) -> Principal:
    principal = request.scope.get(SCOPE_PRINCIPAL)
    if not isinstance(principal, Principal):
        raise Unauthenticated()
    return principal


def _draft(request: Request) -> AuditDraft:
    draft = request.scope.get(SCOPE_AUDIT)
    assert isinstance(draft, AuditDraft)
    return draft


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway()
    return gateway


Caller = Annotated[Principal, Depends(_principal)]
Draft = Annotated[AuditDraft, Depends(_draft)]
Plane = Annotated[Gateway, Depends(_gateway)]


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return Response(content=body, status_code=status, media_type="application/json")


router = APIRouter(responses=PROBLEMS)


@router.get("/health", include_in_schema=False)
def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
def list_models(caller: Caller, gateway: Plane) -> Response:
    return json_response(gateway.list_models(caller))


@router.post("/v1/embeddings", response_model=EmbeddingsResponse, tags=["openai"])
def create_embeddings(body: EmbeddingsRequest, caller: Caller, draft: Draft, gateway: Plane) -> Response:
    return json_response(
        gateway.embed(caller, body.model, body.input, body.encoding_format, body.dimensions, draft)
    )


@router.get("/v2/models/{model}", response_model=ModelMetadata, tags=["oip"])
def model_metadata(model: str, caller: Caller, draft: Draft, gateway: Plane) -> Response:
    return json_response(gateway.model_metadata(caller, model, None, draft))


@router.get("/v2/models/{model}/versions/{version}", response_model=ModelMetadata, tags=["oip"])
def model_version_metadata(
    model: str, version: str, caller: Caller, draft: Draft, gateway: Plane
) -> Response:
    return json_response(gateway.model_metadata(caller, model, version, draft))


@router.post("/v2/models/{model}/infer", response_model=InferResponse, tags=["oip"])
def infer(model: str, body: InferRequest, caller: Caller, draft: Draft, gateway: Plane) -> Response:
    return json_response(gateway.infer(caller, model, None, body.model_dump(exclude_none=True), draft))


@router.post("/v2/models/{model}/versions/{version}/infer", response_model=InferResponse, tags=["oip"])
def infer_version(
    model: str, version: str, body: InferRequest, caller: Caller, draft: Draft, gateway: Plane
) -> Response:
    return json_response(gateway.infer(caller, model, version, body.model_dump(exclude_none=True), draft))


@router.get("/v1/audit", response_model=AuditList, tags=["governance"])
def list_audit(
    caller: Caller,
    gateway: Plane,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    return json_response(gateway.audit_page(caller, limit, cursor))
