"""Admin routes for API keys: create (the key shown once), list (metadata only), rotate, revoke.
The same operations as ``steward keys`` (`steward.auth.lifecycle.KeyLifecycle`).

An ``admin`` key manages its own tenant's keys, a ``platform-admin`` key any tenant's. A key
without the admin scope gets 403 ``auth.forbidden`` before the body is read; another tenant's key
id and an absent one get the same 403. A key never grants more than it holds (403
``key.escalation``). Each request's audit record names the action (``admin.key_create``, ...) and
the key it acted on (``key.<id>``); never a secret. Answers that hold a new key are ``no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError, WithJsonSchema
from steward.auth.keys import KeyLimits, KeyRecord
from steward.auth.lifecycle import KeyLifecycle, NewKey, key_view
from steward.controls.model import TENANT_ID
from steward.errors import FeatureNotConfigured, Forbidden

from functions.api.deps import CallContext, Context, KeyAdmin
from functions.api.openapi import problem_responses
from functions.api.responses import json_response
from functions.api.schemas import KeyCreate, KeyCreated, KeyList, KeyRotate, KeyRotated, KeyView

router = APIRouter(prefix="/admin/keys", tags=["admin"])
KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
TenantQuery = Annotated[str, Query(pattern=TENANT_ID.pattern, description="The tenant whose keys to list.")]
M = TypeVar("M", bound=BaseModel)

CreateBody = Annotated[
    dict[str, Any],
    Body(description="The new key's tenant, models, scopes, own limits and lifetime."),
    WithJsonSchema(KeyCreate.model_json_schema()),
]
RotateBody = Annotated[
    dict[str, Any] | None,
    Body(description="How long the old key keeps working (default 24 hours, at most 168)."),
    WithJsonSchema(KeyRotate.model_json_schema()),
]


def _admin(context: CallContext, keys: KeyLifecycle | None, action: str) -> KeyLifecycle:
    """Refuse a key without the admin scope (before the body is read), then note the action."""
    if not context.principal.is_admin:
        raise Forbidden()
    context.draft.reason_codes.append(action)
    if keys is None:
        raise FeatureNotConfigured()
    return keys


def _parse(model: type[M], document: Any) -> M:
    try:
        return model.model_validate(document if document is not None else {})
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


def _noted(context: CallContext, *records: KeyRecord) -> None:
    context.draft.reason_codes.extend(f"key.{r.key_id}" for r in records)


def _secret(payload: dict[str, Any], status: int) -> Response:
    response = json_response(payload, status=status)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("", response_model=KeyCreated, status_code=201, responses=problem_responses(501))
async def create_key(context: Context, keys: KeyAdmin, document: CreateBody) -> Response:
    """A new key: the answer's ``key`` is the only time it is shown."""
    lifecycle = _admin(context, keys, "admin.key_create")
    body = _parse(KeyCreate, document)
    request = NewKey(
        tenant_id=body.tenant_id,
        models=tuple(body.models),
        admin=body.admin,
        platform_admin=body.platform_admin,
        limits=KeyLimits(rpm=body.rpm, daily=body.daily, monthly=body.monthly),
        expires_days=body.expires_days,
        name=body.name,
    )
    caller = context.principal

    def create() -> dict[str, Any]:
        token, record = lifecycle.create(request, caller)
        _noted(context, record)
        return {"key": token, **key_view(record, lifecycle.now())}

    return _secret(await context.value(create), 201)


@router.get("", response_model=KeyList, responses=problem_responses(501))
async def list_keys(context: Context, keys: KeyAdmin, tenant: TenantQuery) -> Response:
    """The tenant's keys, oldest first: metadata only, never a secret or a hash."""
    lifecycle = _admin(context, keys, "admin.key_list")
    caller = context.principal

    def listing() -> dict[str, Any]:
        now = lifecycle.now()
        views = [key_view(r, now) for r in lifecycle.list(tenant, caller)]
        return {"object": "list", "tenant_id": tenant, "data": views}

    return await context.run(listing)


@router.post(
    "/{key_id}/rotate", response_model=KeyRotated, status_code=201, responses=problem_responses(404, 409, 501)
)
async def rotate_key(
    key_id: KeyId, context: Context, keys: KeyAdmin, document: RotateBody = None
) -> Response:
    """A successor with the same tenant, scopes, models and limits; the old key keeps working
    until the overlap ends (its ``expires_at`` in ``previous``)."""
    lifecycle = _admin(context, keys, "admin.key_rotate")
    body = _parse(KeyRotate, document)
    caller = context.principal

    def rotate() -> dict[str, Any]:
        token, successor, old = lifecycle.rotate(key_id, body.overlap_hours, caller)
        _noted(context, old, successor)
        now = lifecycle.now()
        return {"key": token, **key_view(successor, now), "previous": key_view(old, now)}

    return _secret(await context.value(rotate), 201)


@router.post("/{key_id}/revoke", response_model=KeyView, responses=problem_responses(404, 501))
async def revoke_key(key_id: KeyId, context: Context, keys: KeyAdmin) -> Response:
    """Revoke a key: refused everywhere within 5 s (the authorizer's cache bound)."""
    lifecycle = _admin(context, keys, "admin.key_revoke")
    caller = context.principal

    def revoke() -> dict[str, Any]:
        record = lifecycle.revoke(key_id, caller)
        _noted(context, record)
        return key_view(record, lifecycle.now())

    return await context.run(revoke)
