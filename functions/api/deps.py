"""What the governance envelope hands a route, as FastAPI dependencies.

The middleware (`functions.api.middleware`) authenticates the caller and opens the audit draft
before any route runs, and leaves both in the ASGI scope under the keys below. A route declares
what it needs as parameters (``context: Context`` and the use cases it calls, ``catalog:
CatalogService``, ``inference: Inference``, ...) instead of reading the scope or the app state.
The dependencies are ``async``: FastAPI runs a plain ``def`` dependency on a worker thread, and
on Lambda nothing may hop threads (`CallContext.value`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Response
from steward.audit.reader import AuditReader
from steward.audit.record import AuditDraft
from steward.auth.lifecycle import KeyLifecycle
from steward.auth.principal import Principal
from steward.batches.service import BatchService
from steward.bootstrap import Api
from steward.catalog.lifecycle import ModelLifecycle
from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.controls.service import ControlService
from steward.errors import FeatureNotConfigured, Unauthenticated
from steward.fairness.service import Fairness
from steward.inference.service import InferenceService
from steward.limits.admission import RateLimiter
from steward.privacy.policies import PolicyBook
from steward.privacy.redaction_service import RedactionService
from steward.quality.comparison import VersionReview
from steward.quality.drift_monitor import DriftService
from steward.quality.service import QualityService
from steward.review.service import ReviewService
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.service import GuardrailService

from functions.api.lanes import route_lane, run_in_lane
from functions.api.responses import disclose_model, json_response

#: Scope keys the middleware writes and the routes and error handlers read.
SCOPE_PRINCIPAL = "steward.principal"
SCOPE_AUDIT = "steward.audit"
SCOPE_REQUEST_ID = "steward.request_id"
SCOPE_BODY = "steward.body"


class CallContext:
    """One governed request as a route sees it: the `RequestContext` the use cases take (who
    calls, the audit draft the route adds to), and where the request's blocking work runs."""

    __slots__ = ("request", "request_context")

    def __init__(self, request: Request, principal: Principal, draft: AuditDraft) -> None:
        self.request = request
        self.request_context = RequestContext(principal, draft)

    @property
    def principal(self) -> Principal:
        return self.request_context.principal

    @property
    def draft(self) -> AuditDraft:
        return self.request_context.draft

    async def run(self, fn: Callable[..., dict[str, Any]], *args: Any) -> Response:
        """Run blocking data-plane work and answer with its result as JSON."""
        return json_response(await self.value(fn, *args))

    async def value(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Run blocking data-plane work: inline on Lambda (one request per process, no thread
        hop), else on a worker thread of the route's own lane (`functions.api.lanes`), so a slow
        backend can't starve the other routes and the event loop stays free."""
        if self.request.app.state.inline_blocking:
            return fn(*args)
        return await run_in_lane(route_lane(self.request.scope), fn, *args)

    def disclosed(self, response: Response) -> Response:
        """An inference answer naming the model version that produced it (`disclose_model`).

        Read from the audit draft, where `Catalog.resolve` wrote the version it routed to: the
        headers and the audit record cannot disagree, and no use case changes its return type."""
        return disclose_model(response, self.draft.model, self.draft.model_version)


#: Routes the global kill switch leaves open, so operators can still see and clear it by API.
ADMIN_PREFIX = "/admin/"


async def call_context(request: Request) -> CallContext:
    """The caller and audit draft the middleware left in the scope; none means no key (401).

    Every keyed route depends on this, so it is where tenant state and kill switches are checked,
    once per request (FastAPI caches a dependency per request): a suspended tenant is refused
    (403) and the caller's models are narrowed to its tenant's (`steward.controls.gate`)."""
    principal = request.scope.get(SCOPE_PRINCIPAL)
    draft = request.scope.get(SCOPE_AUDIT)
    if not isinstance(principal, Principal) or not isinstance(draft, AuditDraft):
        raise Unauthenticated()
    gate = request.app.state.api().gate
    if gate is None:
        return CallContext(request, principal, draft)
    admit = partial(gate.admit, principal, draft, admin_route=request.url.path.startswith(ADMIN_PREFIX))
    if request.app.state.inline_blocking:  # Lambda: no thread hop (`CallContext.value`)
        admitted: Principal = admit()
    else:  # a cache miss reads DynamoDB: off the event loop
        admitted = await anyio.to_thread.run_sync(admit)
    return CallContext(request, admitted, draft)


async def use_cases(request: Request) -> Api:
    """The app's use cases (built on first use, `functions.api.app.create_app`)."""
    api: Api = request.app.state.api()
    return api


async def catalog(api: Annotated[Api, Depends(use_cases)]) -> Catalog:
    return api.catalog


async def inference(api: Annotated[Api, Depends(use_cases)]) -> InferenceService:
    return api.inference


async def fairness(api: Annotated[Api, Depends(use_cases)]) -> Fairness:
    return api.fairness


async def quality(api: Annotated[Api, Depends(use_cases)]) -> QualityService:
    if api.quality is None:
        raise FeatureNotConfigured()
    return api.quality


async def redaction(api: Annotated[Api, Depends(use_cases)]) -> RedactionService:
    return api.redaction


async def audit_trail(api: Annotated[Api, Depends(use_cases)]) -> AuditReader:
    return api.audit


async def policies(api: Annotated[Api, Depends(use_cases)]) -> PolicyBook:
    return api.policies


async def key_admin(api: Annotated[Api, Depends(use_cases)]) -> KeyLifecycle | None:
    """None without a key table: the key routes answer 501, once the caller is checked."""
    return api.keys


async def controls(api: Annotated[Api, Depends(use_cases)]) -> ControlService:
    if api.controls is None:
        raise FeatureNotConfigured()
    return api.controls


async def rate_limits(api: Annotated[Api, Depends(use_cases)]) -> RateLimiter | None:
    """None where the deployment has no limits: the route answers 501 once the caller is
    authorized (a 403 first, so the answer never tells a stranger what is configured)."""
    return api.rate_limits


async def usage_policies(api: Annotated[Api, Depends(use_cases)]) -> UsagePolicyBook:
    if api.usage_policies is None:
        raise FeatureNotConfigured()
    return api.usage_policies


async def reviews(api: Annotated[Api, Depends(use_cases)]) -> ReviewService | None:
    """None without a review queue: the review routes answer 501, once the caller is checked."""
    return api.reviews


async def guardrails(api: Annotated[Api, Depends(use_cases)]) -> GuardrailService:
    if api.guardrails is None:
        raise FeatureNotConfigured()
    return api.guardrails


async def lifecycle(api: Annotated[Api, Depends(use_cases)]) -> ModelLifecycle | None:
    """None without a writable registry: the routing routes answer 501, once the caller is checked."""
    return api.lifecycle


async def version_review(api: Annotated[Api, Depends(use_cases)]) -> VersionReview:
    return api.review or VersionReview(api.catalog, [])


async def batches(api: Annotated[Api, Depends(use_cases)]) -> BatchService:
    if api.batches is None:
        raise FeatureNotConfigured()
    return api.batches


async def drift(api: Annotated[Api, Depends(use_cases)]) -> DriftService:
    if api.drift is None:
        raise FeatureNotConfigured()
    return api.drift


Context = Annotated[CallContext, Depends(call_context)]
CatalogService = Annotated[Catalog, Depends(catalog)]
Inference = Annotated[InferenceService, Depends(inference)]
FairnessService = Annotated[Fairness, Depends(fairness)]
Quality = Annotated[QualityService, Depends(quality)]
Redaction = Annotated[RedactionService, Depends(redaction)]
AuditTrail = Annotated[AuditReader, Depends(audit_trail)]
Policies = Annotated[PolicyBook, Depends(policies)]
KeyAdmin = Annotated[KeyLifecycle | None, Depends(key_admin)]
RateLimits = Annotated[RateLimiter | None, Depends(rate_limits)]
Controls = Annotated[ControlService, Depends(controls)]
UsagePolicies = Annotated[UsagePolicyBook, Depends(usage_policies)]
Guardrails = Annotated[GuardrailService, Depends(guardrails)]
Batches = Annotated[BatchService, Depends(batches)]
Reviews = Annotated[ReviewService | None, Depends(reviews)]
Lifecycle = Annotated[ModelLifecycle | None, Depends(lifecycle)]
Review = Annotated[VersionReview, Depends(version_review)]
DriftReports = Annotated[DriftService, Depends(drift)]
#: For a route that needs a caller (and the use cases built) but reads neither
#: (``dependencies=[AUTHENTICATED, PLANE]``).
AUTHENTICATED = Depends(call_context)
PLANE = Depends(use_cases)
