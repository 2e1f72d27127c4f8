"""Rate limits and usage: ``GET /v1/usage`` (the caller's tenant), ``GET /admin/usage/{tenant}``,
``PUT``/``GET /admin/limits/{tenant}`` (the tenant's plan, `steward.limits.plan`).

A non-admin key sees its tenant's totals, per model, and its own key; an admin key every key of
its tenant; a ``platform-admin`` key any tenant through the admin routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import WithJsonSchema
from steward.errors import FeatureNotConfigured, Forbidden
from steward.limits.admission import RateLimiter
from steward.limits.plan import plan_json_schema

from functions.api.deps import CallContext, Context, RateLimits
from functions.api.openapi import problem_responses
from functions.api.schemas import PlanView, UsageView

usage_router = APIRouter(tags=["governance"])
limits_router = APIRouter(prefix="/admin", tags=["admin"])
Tenant = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]


def _configured(limits: RateLimiter | None) -> RateLimiter:
    if limits is None:
        raise FeatureNotConfigured()
    return limits


def _administered(context: CallContext, limits: RateLimiter | None, tenant: str, reason: str) -> RateLimiter:
    """403 for a key that may not administer ``tenant``, then 501 without limits."""
    if not context.principal.may_administer(tenant):
        raise Forbidden()
    context.draft.reason_codes.append(reason)
    return _configured(limits)


@usage_router.get("/v1/usage", response_model=UsageView, responses=problem_responses(501))
async def own_usage(context: Context, limits: RateLimits) -> Response:
    """The caller's tenant: counters of the current minute, day and month (UTC windows)."""
    principal = context.principal
    own = None if principal.is_admin else principal.key_id
    limiter = _configured(limits)
    return await context.run(lambda: limiter.usage(principal.tenant_id, key_id=own))


@limits_router.get("/usage/{tenant}", response_model=UsageView, responses=problem_responses(501))
async def tenant_usage(tenant: Tenant, context: Context, limits: RateLimits) -> Response:
    limiter = _administered(context, limits, tenant, "admin.usage")
    return await context.run(limiter.usage, tenant)


@limits_router.get("/limits/{tenant}", response_model=PlanView, responses=problem_responses(501))
async def get_limits(tenant: Tenant, context: Context, limits: RateLimits) -> Response:
    limiter = _administered(context, limits, tenant, "admin.limits")
    return await context.run(limiter.show_plan, tenant)


@limits_router.put("/limits/{tenant}", response_model=PlanView, responses=problem_responses(501))
async def put_limits(
    tenant: Tenant,
    context: Context,
    limits: RateLimits,
    document: Annotated[
        dict[str, Any],
        Body(
            description=(
                "The tenant's plan (replaces the previous one): per-minute (`rpm`), daily and "
                "monthly limits in requests, daily and monthly quotas in units, for the tenant "
                "(`tenant`), each key (`key`, a key's own limits win), each model (`models`), and "
                "`exempt_keys` (admin keys not limited, still counted; their calls are audited "
                "with `limits.exempt`). Absent: not limited."
            ),
            examples=[{"tenant": {"rpm": 600, "daily_units": 5000000}, "key": {"rpm": 60}}],
        ),
        WithJsonSchema(plan_json_schema()),  # documented as parse_plan checks it (422)
    ],
) -> Response:
    limiter = _administered(context, limits, tenant, "admin.limits")
    author = context.principal.key_id
    return await context.run(lambda: limiter.set_plan(tenant, document, author=author))
