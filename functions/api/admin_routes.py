"""Admin routes (admin scope only): privacy policies per tenant and model, versioned.

An ``admin`` key administers its own tenant; a ``platform-admin`` key administers any tenant.
Anything else is 403 ``auth.forbidden`` (same answer whether or not the tenant exists).
A policy for one model (``?model=``) names a registered model: a ``platform-admin`` key may name
any, an ``admin`` key the models it may use itself; anything else is 404 ``model.not_found``
(the same body for "absent" and "not yours") and nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import WithJsonSchema
from steward.auth.keys import PLATFORM_ADMIN_SCOPE
from steward.errors import Forbidden, ModelNotFound
from steward.privacy_policies import PolicyBook

from functions.api.openapi import problems
from functions.api.routes import Call, json_response
from functions.api.schemas import PolicyList, PolicyView, policy_document_schema

router = APIRouter(prefix="/admin", tags=["admin"])
Tenant = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def _policies(call: Call, tenant: str) -> PolicyBook:
    if not call.caller.may_administer(tenant):
        raise Forbidden()
    call.draft.reason_codes.append("admin.policies")
    return call.gateway.privacy.policies


def _registered(call: Call, model: str | None) -> str | None:
    """The policy's model key, only when it names a registered model this admin may govern."""
    if model is None:
        return None
    caller = call.caller
    if PLATFORM_ADMIN_SCOPE not in caller.scopes and not caller.may_use(model):
        raise ModelNotFound()
    if not call.gateway.registry.is_registered(model):
        raise ModelNotFound()
    return model


def _view(policy: Any) -> dict[str, Any]:
    return dict(policy.model_dump(mode="json"))


@router.put("/policies/{tenant}", response_model=PolicyView, status_code=201, responses=problems(404))
async def put_policy(
    tenant: Tenant,
    request: Request,
    document: Annotated[
        dict[str, Any],
        Body(description="A privacy policy document."),
        WithJsonSchema(policy_document_schema()),  # documented as parse_policy checks it (422)
    ],
    model: ModelQuery = None,
) -> Response:
    """Store ``document`` as the next version of the tenant's policy (or of one model's)."""
    call = Call(request)
    book = _policies(call, tenant)
    saved = await call.value(
        lambda: _view(book.save(tenant, _registered(call, model), document, author=call.caller.key_id))
    )
    return json_response(saved, status=201)


@router.get("/policies/{tenant}", response_model=PolicyList)
async def list_policies(tenant: Tenant, request: Request) -> Response:
    """Every stored version of the tenant's policies, newest first per scope."""
    call = Call(request)
    book = _policies(call, tenant)
    versions = await call.value(lambda: {"data": [_view(p) for p in book.history(tenant)]})
    return json_response({"object": "list", "tenant_id": tenant, **versions})
