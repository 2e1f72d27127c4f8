"""The human review queue of usage-policy ``flag`` verdicts: list, show, claim, resolve. The same
operations as ``steward review`` (`steward.review.service.ReviewService`).

An ``admin`` key reviews its own tenant's items, a ``platform-admin`` key any tenant's; a key
without the admin scope gets 403 ``auth.forbidden`` before anything is read. Another tenant's
item id answers exactly like an absent one (404 ``review.not_found``), and a listing of another
tenant is 403 like the other admin routes. Only ``GET /admin/reviews/{review_id}`` holds texts
(redacted, opened for the reviewer; ``no-store``). Each request's audit record names the action
(``admin.review_list``, ...), the item (``review.<id>``), the decision (``review.approve``,
``review.violation``) and a revoked key (``key.<id>``); never a text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError, WithJsonSchema
from steward.controls.model import TENANT_ID
from steward.errors import FeatureNotConfigured, Forbidden
from steward.review.model import CURSOR_PATTERN, DEFAULT_PAGE, MAX_PAGE, REVIEW_ID_PATTERN, Decision, State
from steward.review.service import ReviewService

from functions.api.deps import CallContext, Context, Reviews
from functions.api.openapi import problem_responses
from functions.api.schemas import (
    ReviewDetail,
    ReviewList,
    ReviewResolve,
    ReviewView,
    review_resolve_schema,
)

router = APIRouter(prefix="/admin/reviews", tags=["admin"])
ReviewId = Annotated[str, Path(pattern=REVIEW_ID_PATTERN, description="A review item's id (`rv_...`).")]
TenantQuery = Annotated[
    str | None,
    Query(pattern=TENANT_ID.pattern, description="The tenant whose queue to list (default: the key's)."),
]
StateQuery = Annotated[Literal["open", "claimed", "resolved"], Query(description="Which items to list.")]
CursorQuery = Annotated[
    str | None, Query(pattern=CURSOR_PATTERN, description="The `next_cursor` of the previous page.")
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
ResolveBody = Annotated[
    dict[str, Any],
    Body(description="The decision, and whether to revoke the key that made the request."),
    WithJsonSchema(review_resolve_schema()),
]
_RESOLVE: TypeAdapter[ReviewResolve] = TypeAdapter(ReviewResolve)


def _reviewer(context: CallContext, reviews: ReviewService | None, action: str) -> ReviewService:
    """Refuse a key without the admin scope (before anything is read), then note the action."""
    if not context.principal.is_admin:
        raise Forbidden()
    context.draft.reason_codes.append(action)
    if reviews is None:
        raise FeatureNotConfigured()
    return reviews


def _item(context: CallContext, reviews: ReviewService | None, action: str, review_id: str) -> ReviewService:
    service = _reviewer(context, reviews, action)
    context.draft.reason_codes.append(f"review.{review_id}")
    return service


@router.get("", response_model=ReviewList, responses=problem_responses(501))
async def list_reviews(
    context: Context,
    reviews: Reviews,
    tenant: TenantQuery = None,
    state: StateQuery = "open",
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_PAGE,
) -> Response:
    """Items in ``state``, metadata only: open and claimed oldest first (a queue), resolved
    newest first."""
    service = _reviewer(context, reviews, "admin.review_list")
    caller = context.principal
    return await context.run(lambda: service.list(caller, tenant, State(state), cursor=cursor, limit=limit))


@router.get("/{review_id}", response_model=ReviewDetail, responses=problem_responses(404, 501))
async def get_review(review_id: ReviewId, context: Context, reviews: Reviews) -> Response:
    """One item with the texts the rule matched (redacted), opened for the reviewer."""
    service = _item(context, reviews, "admin.review_show", review_id)
    caller = context.principal
    response = await context.run(service.get, caller, review_id)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/{review_id}/claim", response_model=ReviewView, responses=problem_responses(404, 409, 501))
async def claim_review(review_id: ReviewId, context: Context, reviews: Reviews) -> Response:
    """Hold the item for this key for a while (15 minutes by default), so no other reviewer works
    it: 409 ``review.claimed`` while another key holds it, ``review.resolved`` once decided. The
    holder may claim again to renew."""
    service = _item(context, reviews, "admin.review_claim", review_id)
    caller = context.principal
    return await context.run(service.claim, caller, review_id)


@router.post("/{review_id}/resolve", response_model=ReviewView, responses=problem_responses(404, 409, 501))
async def resolve_review(
    review_id: ReviewId, context: Context, reviews: Reviews, document: ResolveBody
) -> Response:
    """Decide an item this key has claimed (409 ``review.not_claimed`` otherwise): ``approve``
    (a false positive: a held text is served when sent again, for a while) or ``violation``
    (never released; with ``suspend_key``, the key that made the request is revoked, within 5 s
    everywhere). Resolving again with the same decision is a no-op."""
    service = _item(context, reviews, "admin.review_resolve", review_id)
    try:
        body = _RESOLVE.validate_python(document)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    context.draft.reason_codes.append(f"review.{body.decision}")
    caller = context.principal

    def resolve() -> dict[str, Any]:
        view = service.resolve(caller, review_id, Decision(body.decision), suspend_key=body.suspend_key)
        if body.suspend_key:
            context.draft.reason_codes.append(f"key.{view['key_id']}")
        return view

    return await context.run(resolve)
