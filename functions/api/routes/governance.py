"""Governance routes: the audit trail, explanations, model cards, model quality, ground-truth
feedback and redaction.

Each parses, calls its use case, and maps the answer; nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, WithJsonSchema
from steward.audit.reader import CURSOR_PATTERN
from steward.catalog.cards import render_card_html
from steward.inference.charts import waterfall_from_explanation
from steward.quality.monitor import DEFAULT_DAYS, MAX_DAYS

from functions.api.deps import (
    AuditTrail,
    Context,
    DriftReports,
    FairnessService,
    Inference,
    Quality,
    Redaction,
    Review,
)
from functions.api.openapi import (
    BACKEND_PROBLEMS,
    DISCLOSURE_HEADERS,
    MODEL_PROBLEMS,
    PROBLEMS,
    problem_responses,
)
from functions.api.responses import accepts, json_response
from functions.api.schemas import (
    AuditList,
    FeedbackRequest,
    FeedbackResponse,
    InferRequest,
    InferResponse,
    ModelCard,
    ModelDrift,
    RedactRequest,
    RedactResponse,
)

router = APIRouter(responses=PROBLEMS)
Version = Annotated[str | None, Query(max_length=32)]


@router.get("/v1/audit", response_model=AuditList, tags=["governance"])
async def list_audit(
    context: Context,
    audit: AuditTrail,
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
    return await context.run(audit.page, context.request_context, limit, cursor)


@router.post(
    "/v1/models/{model}/explain",
    response_model=InferResponse,
    tags=["explain"],
    responses={200: {"content": {"image/svg+xml": {}}, "headers": DISCLOSURE_HEADERS}, **BACKEND_PROBLEMS},
)
async def explain(
    model: str,
    body: InferRequest,
    context: Context,
    inference: Inference,
    version: Version = None,
    row: Annotated[int, Query(ge=0, le=4095)] = 0,
) -> Response:
    """Attributions (OIP outputs ``attributions``, ``base_value``); ``Accept: image/svg+xml``
    answers with a waterfall chart of row ``row``."""
    payload = body.model_dump(exclude_none=True)
    result = await context.value(inference.explain, context.request_context, model, version, payload)
    if accepts(context.request, "image/svg+xml"):
        return context.disclosed(
            Response(waterfall_from_explanation(result, row), media_type="image/svg+xml")
        )
    return context.disclosed(json_response(result))


@router.get(
    "/v1/models/{model}/card",
    response_model=ModelCard,
    tags=["governance"],
    responses={200: {"content": {"text/html": {}}}, **MODEL_PROBLEMS},
)
async def model_card(model: str, context: Context, review: Review, version: Version = None) -> Response:
    """The model card, its live figures and version history, as JSON or (``Accept: text/html``) HTML."""
    document = await context.value(review.card, context.request_context, model, version)
    if accepts(context.request, "text/html"):
        return Response(render_card_html(document), media_type="text/html; charset=utf-8")
    return json_response(document)


class ModelQuality(BaseModel):
    """A classifier's quality from its tenant's ground truth (class 1 positive); null: undefined."""

    model_config = ConfigDict(extra="allow")

    object: Literal["model.quality"] = "model.quality"
    model: str
    version: str
    n: int
    threshold: float
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    brier: float | None
    reliability: list[dict[str, Any]]
    window: dict[str, Any]
    thresholds: dict[str, Any]
    breaches: list[dict[str, Any]]


@router.get(
    "/v1/models/{model}/quality",
    response_model=ModelQuality,
    tags=["governance"],
    responses={**MODEL_PROBLEMS, **problem_responses(501)},
)
async def model_quality(
    model: str,
    context: Context,
    quality: Quality,
    version: Version = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
) -> Response:
    """Accuracy, precision, recall, F1, ROC AUC, Brier and reliability of the labelled
    predictions (``POST /v1/feedback``) of the caller's tenant over the last ``days`` UTC days,
    with the version's thresholds and any breach."""
    return await context.run(quality.model_quality, context.request_context, model, version, days)


@router.get(
    "/v1/models/{model}/drift", response_model=ModelDrift, tags=["governance"], responses=MODEL_PROBLEMS
)
async def model_drift(
    model: str,
    context: Context,
    drift: DriftReports,
    version: Version = None,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> Response:
    """Input and prediction drift of this tenant's traffic against the version's reference."""
    return await context.run(drift.drift, context.request_context, model, version, days)


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    tags=["governance"],
    responses=problem_responses(404, 409, 501),
)
async def feedback(body: FeedbackRequest, context: Context, fairness: FairnessService) -> Response:
    """Ground truth for a classifier's prediction (quality monitoring; with ``parameters.group``
    also fairness monitoring)."""
    return await context.run(
        fairness.feedback, context.request_context, body.request_id, body.label, body.labels
    )


@router.post("/v1/redact", response_model=RedactResponse, tags=["governance"], responses=MODEL_PROBLEMS)
async def redact(body: RedactRequest, context: Context, redaction: Redaction) -> Response:
    """The privacy policy in force applied to text: redacted text and findings (types and spans,
    never values). A ``block`` rule answers 400 ``pii.blocked``, as the model routes would."""
    return await context.run(redaction.redact, context.request_context, body.text, body.model, body.direction)
