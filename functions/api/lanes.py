"""Worker-thread lanes for a long-running server: one slow dependency can't starve the rest.

anyio (and so Starlette's ``run_in_threadpool``) shares one 40-token thread limiter per event
loop. Under uvicorn, 40 requests stuck on a slow backend would hold every token, and the
authorizer, the registry-only routes and everything else would queue behind them. Each lane is
its own limiter instead: the authorizer has one, and each route template has one, so a slow
backend fills only the lane of the routes that call it. Lane names are fixed strings (route
templates, never what a caller typed), so their number is bounded.

On Lambda none of this runs: one request per process, blocking work runs inline.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.types import Scope

T = TypeVar("T")

#: Tokens (concurrent worker threads) per lane: what the whole process had before, per lane.
LANE_TOKENS = 40
AUTHORIZER_LANE = "authorizer"
DEFAULT_LANE = "default"

# Limiters belong to an event loop; a RunVar keeps one set per loop (tests start several).
_LANES: RunVar[dict[str, anyio.CapacityLimiter]] = RunVar("steward_lanes")


def lane(name: str, tokens: int = LANE_TOKENS) -> anyio.CapacityLimiter:
    """The limiter of lane ``name`` in the running event loop (created on first use)."""
    try:
        lanes = _LANES.get()
    except LookupError:
        lanes = {}
        _LANES.set(lanes)
    limiter = lanes.get(name)
    if limiter is None:
        limiter = lanes[name] = anyio.CapacityLimiter(tokens)
    return limiter


def route_lane(scope: Scope) -> str:
    """The lane of the matched route: its template (``/v2/models/{model}/infer``)."""
    template = getattr(scope.get("route"), "path_format", None)
    return f"route:{template}" if isinstance(template, str) else DEFAULT_LANE


async def run_in_lane(name: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a worker thread, holding a token of lane ``name`` (context copied)."""
    return await anyio.to_thread.run_sync(partial(fn, *args), limiter=lane(name))
