"""Admin routes (admin scope only): the fairness group labels a tenant accepts.

Only declared labels are accepted in ``parameters.group``; the labels are the tenant's category
names, stored so reports can name the groups (`steward.fairness.groups`). An ``admin`` key
administers its own tenant, a ``platform-admin`` key any tenant; anything else is 403
``auth.forbidden`` before the body is looked at.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel, WithJsonSchema
from steward.errors import FeatureNotConfigured, Forbidden
from steward.fairness.groups import MAX_LABEL_LENGTH, MAX_LABELS, GroupLabels
from steward.fairness.monitor import FairnessMonitor

from functions.api.openapi import problems
from functions.api.routes import Call
from functions.api.schemas import group_declaration_schema

router = APIRouter(prefix="/admin/fairness", tags=["admin"])
Tenant = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]


class GroupLabelsView(BaseModel):
    object: str = "fairness.groups"
    tenant_id: str
    labels: list[str]
    revision: int
    updated_at: str | None = None
    updated_by: str | None = None


def _monitor(call: Call, tenant: str) -> FairnessMonitor:
    if not call.caller.may_administer(tenant):
        raise Forbidden()
    call.draft.reason_codes.append("admin.fairness_groups")
    if call.gateway.fairness is None:
        raise FeatureNotConfigured("Fairness monitoring is not configured on this deployment.")
    return call.gateway.fairness


@router.put("/{tenant}/groups", response_model=GroupLabelsView, responses=problems(409, 501))
async def put_groups(
    tenant: Tenant,
    request: Request,
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
    call = Call(request)
    monitor = _monitor(call, tenant)
    return await call.run(lambda: monitor.declare_groups(tenant, document, author=call.caller.key_id).view())


@router.get("/{tenant}/groups", response_model=GroupLabelsView, responses=problems(501))
async def get_groups(tenant: Tenant, request: Request) -> Response:
    call = Call(request)
    monitor = _monitor(call, tenant)
    return await call.run(lambda: (monitor.store.group_labels(tenant) or GroupLabels(tenant)).view())
