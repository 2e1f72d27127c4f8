"""Admin routes (admin scope only): a tenant's privacy policies and its fairness group labels.

An ``admin`` key administers its own tenant; a ``platform-admin`` key administers any tenant.
Anything else is 403 ``auth.forbidden`` (same answer whether or not the tenant exists), before
the body is looked at.

Privacy policies are stored per tenant and model, versioned. A policy for one model
(``?model=``) names a registered model: a ``platform-admin`` key may name any, an ``admin`` key
the models it may use itself; anything else is 404 ``model.not_found`` (the same body for
"absent" and "not yours") and nothing is stored.

Fairness group labels: only declared labels are accepted in ``parameters.group``; the labels are
the tenant's category names, stored so reports can name the groups (`steward.fairness.groups`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import WithJsonSchema
from steward.auth.keys import PLATFORM_ADMIN_SCOPE
from steward.catalog.service import Catalog
from steward.errors import Forbidden, ModelNotFound
from steward.fairness.groups import MAX_LABEL_LENGTH, MAX_LABELS
from steward.fairness.service import Fairness
from steward.privacy.policies import PolicyBook

from functions.api.deps import CallContext, CatalogService, Context, FairnessService, Policies
from functions.api.openapi import problem_responses
from functions.api.responses import json_response
from functions.api.schemas import (
    GroupLabelsView,
    PolicyList,
    PolicyView,
    group_declaration_schema,
    policy_document_schema,
)

policies_router = APIRouter(prefix="/admin", tags=["admin"])
fairness_router = APIRouter(prefix="/admin/fairness", tags=["admin"])
Tenant = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def _administered(context: CallContext, tenant: str, reason: str) -> None:
    """Refuse a key that may not administer ``tenant``; note what the request administers."""
    if not context.principal.may_administer(tenant):
        raise Forbidden()
    context.draft.reason_codes.append(reason)


# --- privacy policies ------------------------------------------------------------------------


def _policies(context: CallContext, book: PolicyBook, tenant: str) -> PolicyBook:
    _administered(context, tenant, "admin.policies")
    return book


def _registered(context: CallContext, catalog: Catalog, model: str | None) -> str | None:
    """The policy's model key, only when it names a registered model this admin may govern."""
    if model is None:
        return None
    caller = context.principal
    if PLATFORM_ADMIN_SCOPE not in caller.scopes and not caller.may_use(model):
        raise ModelNotFound()
    if not catalog.is_registered(model):
        raise ModelNotFound()
    return model


def _view(policy: Any) -> dict[str, Any]:
    return dict(policy.model_dump(mode="json"))


@policies_router.put(
    "/policies/{tenant}", response_model=PolicyView, status_code=201, responses=problem_responses(404)
)
async def put_policy(
    tenant: Tenant,
    context: Context,
    policies: Policies,
    catalog: CatalogService,
    document: Annotated[
        dict[str, Any],
        Body(description="A privacy policy document."),
        WithJsonSchema(policy_document_schema()),  # documented as parse_policy checks it (422)
    ],
    model: ModelQuery = None,
) -> Response:
    """Store ``document`` as the next version of the tenant's policy (or of one model's)."""
    book = _policies(context, policies, tenant)
    author = context.principal.key_id
    saved = await context.value(
        lambda: _view(book.save(tenant, _registered(context, catalog, model), document, author=author))
    )
    return json_response(saved, status=201)


@policies_router.get("/policies/{tenant}", response_model=PolicyList)
async def list_policies(tenant: Tenant, context: Context, policies: Policies) -> Response:
    """Every stored version of the tenant's policies, newest first per scope."""
    book = _policies(context, policies, tenant)
    versions = await context.value(lambda: {"data": [_view(p) for p in book.history(tenant)]})
    return json_response({"object": "list", "tenant_id": tenant, **versions})


# --- fairness group labels -------------------------------------------------------------------


def _monitored(context: CallContext, fairness: Fairness, tenant: str) -> None:
    """403 for a key that may not administer ``tenant``, then 501 without monitoring."""
    _administered(context, tenant, "admin.fairness_groups")
    fairness.require_configured()


@fairness_router.put(
    "/{tenant}/groups", response_model=GroupLabelsView, responses=problem_responses(409, 501)
)
async def put_groups(
    tenant: Tenant,
    context: Context,
    fairness: FairnessService,
    document: Annotated[
        dict[str, Any],
        Body(
            description=(
                f'{{"labels": [...]}}: the complete set of group labels the tenant accepts in '
                f"'parameters.group' (at most {MAX_LABELS}, unique, 1 to {MAX_LABEL_LENGTH} printable "
                "characters). Replaces the previous set; earlier labels still name their groups in reports."
            ),
            examples=[{"labels": ["A", "B"]}],
        ),
        WithJsonSchema(group_declaration_schema()),
    ],
) -> Response:
    _monitored(context, fairness, tenant)
    author = context.principal.key_id
    return await context.run(fairness.declare_groups, tenant, document, author)


@fairness_router.get("/{tenant}/groups", response_model=GroupLabelsView, responses=problem_responses(501))
async def get_groups(tenant: Tenant, context: Context, fairness: FairnessService) -> Response:
    _monitored(context, fairness, tenant)
    return await context.run(fairness.group_labels, tenant)
