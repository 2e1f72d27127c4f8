"""Platform-admin routes steering a model's versions: route (canary, shadow, sticky), promote,
roll back, retire, and read its routing and version history. The same service as ``steward models
route|promote|rollback|retire|show`` (`steward.catalog.lifecycle`); every warm api process applies a
change within 5 s.

Models belong to no tenant, so only a ``platform-admin`` key may steer them; any other key gets
403 ``auth.forbidden`` before the body is read. The audit record names the action
(``admin.model_promote`` ...) and the reason code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from steward.auth.keys import PLATFORM_ADMIN_SCOPE
from steward.catalog.lifecycle import LIFECYCLE_REASONS, ModelLifecycle
from steward.catalog.names import NAME_PATTERN
from steward.errors import FeatureNotConfigured, Forbidden

from functions.api.bodies import parse_body
from functions.api.deps import CallContext, Context, Lifecycle
from functions.api.openapi import problem_responses
from functions.api.schemas import ModelRouting

router = APIRouter(prefix="/admin/models", tags=["admin"])
Model = Annotated[str, Path(min_length=1, max_length=64, pattern=f"^{NAME_PATTERN.pattern}$")]
VersionName = Annotated[str, Path(min_length=1, max_length=64, pattern=f"^{NAME_PATTERN.pattern}$")]
NAME = f"^{NAME_PATTERN.pattern}$"
Reason = Annotated[str, Field(json_schema_extra={"enum": list(LIFECYCLE_REASONS)})]


class RouteChange(BaseModel):
    """Parts left out keep their value; ``shadow: ""`` ends the shadow copy."""

    model_config = ConfigDict(extra="forbid", strict=True)
    weights: dict[str, int] | None = Field(default=None, examples=[{"1": 90, "2": 10}], max_length=8)
    shadow: str | None = Field(default=None, pattern=f"^({NAME_PATTERN.pattern})?$")
    sticky: bool | None = None
    reason: Reason = "canary"


class VersionChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: Reason = "release"


class RollbackChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: str | None = Field(default=None, pattern=NAME)
    reason: Reason = "incident"


class RetireChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    new_default: str | None = Field(default=None, pattern=NAME)
    take_offline: bool = False
    reason: Reason = "superseded"


def _steer(context: CallContext, lifecycle: ModelLifecycle | None, action: str, model: str) -> ModelLifecycle:
    if PLATFORM_ADMIN_SCOPE not in context.principal.scopes:
        raise Forbidden()
    if lifecycle is None:
        raise FeatureNotConfigured("Model routing is not configured on this deployment.")
    context.draft.reason_codes.append(action)
    context.draft.model = model
    return lifecycle


# Bodies are taken as objects and parsed after the caller is checked (`functions.api.bodies`).
RouteBody = Annotated[dict[str, Any], Body(), WithJsonSchema(RouteChange.model_json_schema())]
VersionBody = Annotated[dict[str, Any], Body(), WithJsonSchema(VersionChange.model_json_schema())]
RollbackBody = Annotated[dict[str, Any], Body(), WithJsonSchema(RollbackChange.model_json_schema())]
RetireBody = Annotated[dict[str, Any], Body(), WithJsonSchema(RetireChange.model_json_schema())]


LIFECYCLE_PROBLEMS = problem_responses(403, 404, 409, 501)


@router.get("/{model}/routing", response_model=ModelRouting, responses=LIFECYCLE_PROBLEMS)
async def get_routing(
    model: Model, context: Context, lifecycle: Lifecycle, history: Annotated[bool, Query()] = False
) -> Response:
    """The model's default, split, shadow and (``history=true``) its version history."""
    steering = _steer(context, lifecycle, "admin.model_show", model)

    def view() -> dict[str, Any]:
        document = steering.routing(model)
        return {**document, "history": steering.history(model)} if history else document

    return await context.run(view)


@router.put("/{model}/routing", response_model=ModelRouting, responses=LIFECYCLE_PROBLEMS)
async def put_routing(model: Model, document: RouteBody, context: Context, lifecycle: Lifecycle) -> Response:
    """Split unpinned traffic by weight between approved versions, copy it to a shadow, stick per key."""
    steering = _steer(context, lifecycle, "admin.model_route", model)
    body, author = parse_body(RouteChange, document, context), context.principal.key_id
    return await context.run(
        lambda: steering.route(
            model,
            weights=body.weights,
            shadow=body.shadow,
            sticky=body.sticky,
            actor=author,
            reason=body.reason,
        )
    )


@router.post("/{model}/versions/{version}/promote", response_model=ModelRouting, responses=LIFECYCLE_PROBLEMS)
async def promote(
    model: Model, version: VersionName, document: VersionBody, context: Context, lifecycle: Lifecycle
) -> Response:
    """``version`` takes all unpinned traffic (the split ends); the old default is kept for rollback."""
    steering = _steer(context, lifecycle, "admin.model_promote", model)
    context.draft.model_version = version
    body, author = parse_body(VersionChange, document, context), context.principal.key_id
    return await context.run(lambda: steering.promote(model, version, actor=author, reason=body.reason))


@router.post("/{model}/rollback", response_model=ModelRouting, responses=LIFECYCLE_PROBLEMS)
async def rollback(model: Model, document: RollbackBody, context: Context, lifecycle: Lifecycle) -> Response:
    """Back to the default before the last promote or rollback (or ``version``); the split ends."""
    steering = _steer(context, lifecycle, "admin.model_rollback", model)
    body, author = parse_body(RollbackChange, document, context), context.principal.key_id
    return await context.run(lambda: steering.rollback(model, body.version, actor=author, reason=body.reason))


@router.post("/{model}/versions/{version}/retire", response_model=ModelRouting, responses=LIFECYCLE_PROBLEMS)
async def retire(
    model: Model, version: VersionName, document: RetireBody, context: Context, lifecycle: Lifecycle
) -> Response:
    """Withdraw ``version`` for good: it leaves the split and the shadow; ``new_default`` takes over
    if it served the default (or ``take_offline`` when it is the only approved version)."""
    steering = _steer(context, lifecycle, "admin.model_retire", model)
    context.draft.model_version = version
    body, author = parse_body(RetireChange, document, context), context.principal.key_id

    def run() -> dict[str, Any]:
        steering.set_approval(
            model,
            version,
            "retired",
            actor=author,
            reason=body.reason,
            new_default=body.new_default,
            take_offline=body.take_offline,
        )
        return steering.routing(model)

    return await context.run(run)
