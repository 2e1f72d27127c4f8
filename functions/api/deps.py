"""What the governance envelope hands a route, as FastAPI dependencies.

The middleware (`functions.api.middleware`) authenticates the caller and opens the audit draft
before any route runs, and leaves both in the ASGI scope under the keys below. A route declares
what it needs as parameters (``context: Context``, ``plane: DataPlane``) instead of reading the
scope itself. The dependencies are ``async``: FastAPI runs a plain ``def`` dependency on a worker
thread, and on Lambda nothing may hop threads (`CallContext.value`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.errors import Unauthenticated
from steward.gateway import Gateway

from functions.api.lanes import route_lane, run_in_lane
from functions.api.responses import json_response

#: Scope keys the middleware writes and the routes and error handlers read.
SCOPE_PRINCIPAL = "steward.principal"
SCOPE_AUDIT = "steward.audit"
SCOPE_REQUEST_ID = "steward.request_id"
SCOPE_BODY = "steward.body"


class CallContext:
    """One governed request as a route sees it: who calls, the audit draft the route adds to,
    and where the request's blocking data-plane work runs."""

    __slots__ = ("draft", "principal", "request")

    def __init__(self, request: Request, principal: Principal, draft: AuditDraft) -> None:
        self.request = request
        self.principal = principal
        self.draft = draft

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


async def call_context(request: Request) -> CallContext:
    """The caller and audit draft the middleware left in the scope; none means no key (401)."""
    principal = request.scope.get(SCOPE_PRINCIPAL)
    draft = request.scope.get(SCOPE_AUDIT)
    if not isinstance(principal, Principal) or not isinstance(draft, AuditDraft):
        raise Unauthenticated()
    return CallContext(request, principal, draft)


async def data_plane(request: Request) -> Gateway:
    """The app's data plane (built on first use, `functions.api.app.create_app`)."""
    gateway: Gateway = request.app.state.gateway()
    return gateway


Context = Annotated[CallContext, Depends(call_context)]
DataPlane = Annotated[Gateway, Depends(data_plane)]
#: For a route that needs a caller (and the data plane built) but reads neither
#: (``dependencies=[AUTHENTICATED, PLANE]``).
AUTHENTICATED = Depends(call_context)
PLANE = Depends(data_plane)
