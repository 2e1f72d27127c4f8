"""Public routes: parse, call the gateway data plane, map the answer. Nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import WithJsonSchema
from steward.audit import CURSOR_PATTERN, AuditDraft
from steward.auth.principal import Principal
from steward.cards import render_card_html
from steward.errors import Unauthenticated
from steward.explain_chart import waterfall_from_explanation
from steward.gateway import Gateway

from functions.api.lanes import route_lane, run_in_lane
from functions.api.middleware import SCOPE_AUDIT, SCOPE_PRINCIPAL
from functions.api.openapi import EVERY_OPERATION, problems
from functions.api.schemas import (
    AuditList,
    EmbeddingsRequest,
    EmbeddingsResponse,
    FeedbackRequest,
    FeedbackResponse,
    InferRequest,
    InferResponse,
    ModelCard,
    ModelItem,
    ModelList,
    RedactRequest,
    RedactResponse,
)

#: What every route can answer with (`functions.api.openapi` adds 422 where there is input).
PROBLEMS = problems(*EVERY_OPERATION)
#: A route naming a model (path or body): absent and "not yours" are the same 404.
MODEL_PROBLEMS = problems(404)
#: A route that calls the model backend.
BACKEND_PROBLEMS = problems(404, 502, 504)


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
        return json_response(await self.value(fn, *args))

    async def value(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Like `run`, but hand back the data-plane answer (for routes that render it). Threads
        come from the route's own lane: a slow backend can't starve the other routes."""
        if self.request.app.state.inline_blocking:
            return fn(*args)
        return await run_in_lane(route_lane(self.request.scope), fn, *args)


def accepts(request: Request, media_type: str) -> bool:
    """Plain content negotiation: the caller listed ``media_type`` in ``Accept``."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == media_type for part in accept.split(","))


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    # orjson: the float arrays of embeddings dominate this route's cost; it is several times
    # faster than json.dumps, and writes a non-finite float as null rather than invalid JSON.
    body = orjson.dumps(payload)
    return Response(content=body, status_code=status, media_type="application/json")


router = APIRouter(responses=PROBLEMS)


@router.get("/health", include_in_schema=False)
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(request: Request) -> Response:
    call = Call(request)
    return await call.run(call.gateway.list_models, call.caller)


@router.get("/v1/models/{model}", response_model=ModelItem, tags=["openai"], responses=MODEL_PROBLEMS)
async def retrieve_model(model: str, request: Request) -> Response:
    """OpenAI ``models.retrieve``: a model this key may call (``name`` or ``name@version``)."""
    call = Call(request)
    return await call.run(call.gateway.retrieve_model, call.caller, model, call.draft)


@router.post("/v1/embeddings", response_model=EmbeddingsResponse, tags=["openai"], responses=BACKEND_PROBLEMS)
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


@router.get("/v1/audit", response_model=AuditList, tags=["governance"])
async def list_audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="The ``next_cursor`` of the page before; any other value is refused (422).",
        ),
        WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN}),  # a query value is never null
    ] = None,
) -> Response:
    call = Call(request)
    return await call.run(call.gateway.audit_page, call.caller, limit, cursor)


@router.post(
    "/v1/models/{model}/explain",
    response_model=InferResponse,
    tags=["explain"],
    responses={200: {"content": {"image/svg+xml": {}}}, **BACKEND_PROBLEMS},
)
async def explain(
    model: str,
    body: InferRequest,
    request: Request,
    version: Annotated[str | None, Query(max_length=32)] = None,
    row: Annotated[int, Query(ge=0, le=4095)] = 0,
) -> Response:
    """Attributions (OIP outputs ``attributions``, ``base_value``); ``Accept: image/svg+xml``
    answers with a waterfall chart of row ``row``."""
    call = Call(request)
    payload = body.model_dump(exclude_none=True)
    result = await call.value(call.gateway.explain, call.caller, model, version, payload, call.draft)
    if accepts(request, "image/svg+xml"):
        return Response(waterfall_from_explanation(result, row), media_type="image/svg+xml")
    return json_response(result)


@router.get(
    "/v1/models/{model}/card",
    response_model=ModelCard,
    tags=["governance"],
    responses={200: {"content": {"text/html": {}}}, **MODEL_PROBLEMS},
)
async def model_card(
    model: str, request: Request, version: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    """The model card as JSON, or as an HTML page with ``Accept: text/html``."""
    call = Call(request)
    document = await call.value(call.gateway.model_card, call.caller, model, version, call.draft)
    if accepts(request, "text/html"):
        return Response(render_card_html(document), media_type="text/html; charset=utf-8")
    return json_response(document)


@router.post(
    "/v1/feedback", response_model=FeedbackResponse, tags=["governance"], responses=problems(404, 409, 501)
)
async def feedback(body: FeedbackRequest, request: Request) -> Response:
    """Ground truth for a prediction made with ``parameters.group`` (fairness monitoring)."""
    call = Call(request)
    return await call.run(
        call.gateway.feedback, call.caller, body.request_id, body.label, body.labels, call.draft
    )


@router.post("/v1/redact", response_model=RedactResponse, tags=["governance"], responses=MODEL_PROBLEMS)
async def redact(body: RedactRequest, request: Request) -> Response:
    """The privacy policy in force applied to text: redacted text and findings (types and spans,
    never values). A ``block`` rule answers 400 ``pii.blocked``, as the model routes would."""
    call = Call(request)
    return await call.run(call.gateway.redact, call.caller, body.text, body.model, body.direction, call.draft)
