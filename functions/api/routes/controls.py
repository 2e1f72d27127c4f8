"""Platform-admin routes: tenants (create, list, suspend, resume) and kill switches (throw,
clear, list). The same operations as ``steward tenants`` and ``steward kill``
(`steward.controls.service`).

Only a ``platform-admin`` key may use them; any other key gets 403 ``auth.forbidden`` before the
body is read. Each request's audit record names the action and its reason code
(``admin.tenant_suspend``, ``reason.abuse``, ...), never the operator's note. These routes stay
open under the global kill switch (so it can be cleared by API), not under a suspension of the
caller's own tenant.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, WithJsonSchema
from steward.auth.keys import PLATFORM_ADMIN_SCOPE
from steward.controls.model import TENANT_ID
from steward.errors import Forbidden

from functions.api.bodies import parse_body
from functions.api.deps import CallContext, Context, Controls
from functions.api.openapi import problem_responses
from functions.api.responses import json_response
from functions.api.schemas import (
    StatusChange,
    SwitchChange,
    SwitchCleared,
    SwitchList,
    SwitchView,
    TenantCreate,
    TenantList,
    TenantView,
)

tenants_router = APIRouter(prefix="/admin/tenants", tags=["admin"])
switches_router = APIRouter(prefix="/admin/kill-switches", tags=["admin"])
Tenant = Annotated[str, Path(pattern=TENANT_ID.pattern)]  # as the control store checks it
M = TypeVar("M", bound=BaseModel)


def _platform_admin(context: CallContext, action: str) -> None:
    if PLATFORM_ADMIN_SCOPE not in context.principal.scopes:
        raise Forbidden()
    context.draft.reason_codes.append(action)


# Bodies are taken as objects and parsed in the route, after the caller is checked; documented
# as their models (``WithJsonSchema``).
TenantBody = Annotated[
    dict[str, Any],
    Body(description="The tenant, its allowed models and audit retention."),
    WithJsonSchema(TenantCreate.model_json_schema()),
]
StatusBody = Annotated[
    dict[str, Any],
    Body(description="The reason code (and the operator's note, never shown to callers)."),
    WithJsonSchema(StatusChange.model_json_schema()),
]
SwitchBody = Annotated[
    dict[str, Any],
    Body(description="The scope and reason code (and the operator's note, never shown to callers)."),
    WithJsonSchema(SwitchChange.model_json_schema()),
]


# --- tenants ---------------------------------------------------------------------------------


@tenants_router.post("", response_model=TenantView, status_code=201, responses=problem_responses(409))
async def create_tenant(
    context: Context,
    controls: Controls,
    document: TenantBody,
) -> Response:
    _platform_admin(context, "admin.tenant_create")
    spec = parse_body(TenantCreate, document, context)
    by = context.principal.key_id
    tenant = await context.value(
        lambda: controls.create_tenant(
            spec.tenant_id,
            allowed_models=spec.allowed_models,
            audit_retention_days=spec.audit_retention_days,
            by=by,
        ).public()
    )
    return json_response({"object": "tenant", **tenant}, status=201)


@tenants_router.get("", response_model=TenantList)
async def list_tenants(context: Context, controls: Controls) -> Response:
    _platform_admin(context, "admin.tenant_list")
    tenants = await context.value(
        lambda: {"data": [{"object": "tenant", **t.public()} for t in controls.list_tenants()]}
    )
    return json_response({"object": "list", **tenants})


async def _status(context: CallContext, controls: Any, tenant: str, document: Any, suspend: bool) -> Response:
    _platform_admin(context, "admin.tenant_suspend" if suspend else "admin.tenant_resume")
    change = parse_body(StatusChange, document, context)
    change_status = controls.suspend if suspend else controls.resume
    by = context.principal.key_id
    return await context.run(
        lambda: {
            "object": "tenant",
            **change_status(tenant, reason=change.reason, note=change.note, by=by).public(),
        }
    )


@tenants_router.post("/{tenant}/suspend", response_model=TenantView, responses=problem_responses(404))
async def suspend_tenant(
    tenant: Tenant,
    context: Context,
    controls: Controls,
    document: StatusBody,
) -> Response:
    """Every key of the tenant is refused with 403 ``tenant.suspended`` within 5 s."""
    return await _status(context, controls, tenant, document, suspend=True)


@tenants_router.post("/{tenant}/resume", response_model=TenantView, responses=problem_responses(404))
async def resume_tenant(
    tenant: Tenant,
    context: Context,
    controls: Controls,
    document: StatusBody,
) -> Response:
    return await _status(context, controls, tenant, document, suspend=False)


# --- kill switches ---------------------------------------------------------------------------


@switches_router.get("", response_model=SwitchList)
async def list_switches(context: Context, controls: Controls) -> Response:
    _platform_admin(context, "admin.kill_list")
    switches = await context.value(
        lambda: {"data": [{"object": "kill_switch", **s.public()} for s in controls.list_switches()]}
    )
    return json_response({"object": "list", **switches})


@switches_router.post("", response_model=SwitchView, status_code=201)
async def set_switch(
    context: Context,
    controls: Controls,
    document: SwitchBody,
) -> Response:
    """Throw a switch: calls answer 503 ``service.disabled`` (global, model, version) or 403
    ``tenant.suspended`` (tenant) within 5 s."""
    _platform_admin(context, "admin.kill_set")
    change = parse_body(SwitchChange, document, context)
    by = context.principal.key_id
    switch = await context.value(
        lambda: controls.set_switch(change.scope, reason=change.reason, note=change.note, by=by).public()
    )
    return json_response({"object": "kill_switch", **switch}, status=201)


@switches_router.post("/clear", response_model=SwitchCleared)
async def clear_switch(
    context: Context,
    controls: Controls,
    document: SwitchBody,
) -> Response:
    _platform_admin(context, "admin.kill_clear")
    change = parse_body(SwitchChange, document, context)
    return await context.run(
        lambda: {
            "object": "kill_switch.cleared",
            "scope": change.scope,
            "cleared": controls.clear_switch(change.scope, reason=change.reason),
        }
    )
