"""Version comparison: what a reviewer reads before ``promote`` (`steward.quality.comparison`).

``GET /v1/models/{m}/compare?versions=1,2`` puts the versions side by side, as JSON or, with
``Accept: text/html``, as a page with inline SVG charts; figures are the caller's tenant's own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from steward.quality.comparison import DEFAULT_DAYS, MAX_DAYS, parse_versions
from steward.quality.comparison_html import render_comparison_html

from functions.api.deps import Context, Review
from functions.api.openapi import MODEL_PROBLEMS, problem_responses
from functions.api.responses import accepts, json_response
from functions.api.schemas import ModelComparison

router = APIRouter(tags=["governance"])


@router.get(
    "/v1/models/{model}/compare",
    response_model=ModelComparison,
    responses={200: {"content": {"text/html": {}}}, **MODEL_PROBLEMS, **problem_responses(422)},
)
async def compare(
    model: str,
    context: Context,
    review: Review,
    versions: Annotated[str | None, Query(min_length=1, max_length=300, examples=["1,2"])] = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
) -> Response:
    """Quality, fairness, drift, latency p50/p99, error rate and shadow agreement per version
    (``versions`` left out: the newest approved versions)."""
    named = parse_versions(versions) if versions is not None else None
    document = await context.value(review.compare, context.request_context, model, named, days)
    if accepts(context.request, "text/html"):
        return Response(render_comparison_html(document), media_type="text/html; charset=utf-8")
    return json_response(document)
