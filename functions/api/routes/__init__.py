"""The api function's routes, one module per surface: OpenAI, Open Inference Protocol, governance,
admin. Each route declares what it needs from the envelope (`functions.api.deps`)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.api.routes import (
    admin,
    api_keys,
    batches,
    controls,
    governance,
    limits,
    models_admin,
    oip,
    openai,
    reviews,
    usage_policy,
    versions,
)

#: In the order the OpenAPI document lists them.
ROUTERS: tuple[APIRouter, ...] = (
    openai.router,
    batches.router,
    governance.router,
    versions.router,
    oip.router,
    oip.infer_router,
    admin.policies_router,
    admin.fairness_router,
    api_keys.router,
    limits.usage_router,
    limits.limits_router,
    controls.tenants_router,
    controls.switches_router,
    usage_policy.guardrails_router,
    usage_policy.usage_policies_router,
    reviews.router,
    models_admin.router,
)
