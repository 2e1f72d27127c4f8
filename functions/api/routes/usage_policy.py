"""Usage policy routes: ``POST /v1/guardrails/apply`` (any key, its own tenant's policies) and
``PUT``/``GET /admin/usage-policies/{tenant}[?model=M]`` (admin scope, as the privacy policy
routes: an ``admin`` key its own tenant, a ``platform-admin`` key any; a ``?model=`` a registered
model the admin may govern, else the same 404 as an absent model)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import WithJsonSchema

from functions.api.deps import CatalogService, Context, Guardrails, UsagePolicies
from functions.api.openapi import MODEL_PROBLEMS, problem_responses
from functions.api.responses import json_response
from functions.api.routes.admin import ModelQuery, Tenant, _administered, _registered
from functions.api.schemas import (
    GuardrailApplyRequest,
    GuardrailApplyResponse,
    UsagePolicyList,
    UsagePolicyView,
    usage_policy_document_schema,
)

guardrails_router = APIRouter(tags=["governance"])
usage_policies_router = APIRouter(prefix="/admin", tags=["admin"])


@guardrails_router.post(
    "/v1/guardrails/apply", response_model=GuardrailApplyResponse, responses={**MODEL_PROBLEMS}
)
async def apply_guardrails(body: GuardrailApplyRequest, context: Context, guardrails: Guardrails) -> Response:
    """The tenant's usage policy and privacy policy on text, without calling a model: the
    verdicts (rule names and actions, never the matched text) and the redacted text. A ``block``
    is a verdict here, not a refusal."""
    return await context.run(guardrails.apply, context.request_context, body.text, body.model, body.source)


@usage_policies_router.put(
    "/usage-policies/{tenant}",
    response_model=UsagePolicyView,
    status_code=201,
    responses=problem_responses(404),
)
async def put_usage_policy(
    tenant: Tenant,
    context: Context,
    book: UsagePolicies,
    catalog: CatalogService,
    document: Annotated[
        dict[str, Any],
        Body(description="A usage policy document (patterns are compiled and costed: 422 if refused)."),
        WithJsonSchema(usage_policy_document_schema()),
    ],
    model: ModelQuery = None,
) -> Response:
    """Store ``document`` as the next version of the tenant's usage policy (or of one model's)."""
    _administered(context, tenant, "admin.usage_policies")
    author = context.principal.key_id
    saved = await context.value(
        lambda: book.save(tenant, _registered(context, catalog, model), document, author=author).model_dump(
            mode="json"
        )
    )
    return json_response(saved, status=201)


@usage_policies_router.get(
    "/usage-policies/{tenant}", response_model=UsagePolicyList, responses=problem_responses(404)
)
async def list_usage_policies(
    tenant: Tenant, context: Context, book: UsagePolicies, catalog: CatalogService, model: ModelQuery = None
) -> Response:
    """Stored versions, newest first per scope (with ``?model=``, that model's scope only; a model
    the admin may not govern, or none registered, is the same 404 as on ``PUT``)."""
    _administered(context, tenant, "admin.usage_policies")

    def versions() -> dict[str, Any]:
        scope = _registered(context, catalog, model)
        found = book.history(tenant, scope, all_scopes=scope is None)
        return {"object": "list", "tenant_id": tenant, "data": [p.model_dump(mode="json") for p in found]}

    return await context.run(versions)
