"""`RateLimiter`: admit or refuse one model call against the tenant's plan, before the backend.

Per call it charges, in each of the current minute, day and month, three counters: the key's,
the tenant's and the tenant's for the model (`steward.limits.counters`). Each charge is one
atomic conditional ``ADD`` on its own item, so N concurrent callers can never push a counter past
its limit. A call admitted by every counter goes on; a call refused by any is answered 429
(``rate.limited`` for a per-minute limit, ``quota.exceeded`` for a day or month) and the charges
already applied are refunded, so a refused call is never charged. The plan is read through a
`TtlCache` (a change is in force within 5 s); a store that fails refuses the call (503, fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from steward.context import RequestContext
from steward.errors import LimitsUnavailable, QuotaExceeded, RateLimited
from steward.limits.counters import (
    TENANT_SCOPE,
    Charge,
    Counted,
    LimitStore,
    StoredPlan,
    key_scope,
    model_scope,
)
from steward.limits.headers import Standing, ratelimit_headers, refusal_headers, tightest
from steward.limits.plan import DEFAULT_PLAN, Plan, Quota, parse_plan
from steward.limits.windows import KINDS, MINUTE, current, window
from steward.ttl_cache import DEFAULT_TTL_S, TtlCache

logger = logging.getLogger("steward.limits")
#: Reason code on the audit record of a call by an exempt admin key (counted, never refused).
EXEMPT_REASON = "limits.exempt"


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted call: the headers its answer carries (empty when no limit applies)."""

    headers: dict[str, str]


class RateLimiter:
    def __init__(
        self,
        store: LimitStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
        default_plan: Plan = DEFAULT_PLAN,
    ) -> None:
        self.store = store
        self._clock = clock
        self._default = default_plan
        self._plans: TtlCache[str, StoredPlan | None] = TtlCache(ttl_s)

    # ------------------------------------------------------------------------ request path
    def plan(self, tenant_id: str) -> Plan:
        """The tenant's plan in force (cached at most ``ttl_s``); unreadable: 503 (fail closed)."""
        try:
            stored = self._plans.get(tenant_id, lambda: self.store.get_plan(tenant_id))
        except Exception:
            logger.exception("plan read failed")
            raise LimitsUnavailable() from None
        return self._default if stored is None else stored.plan

    def admit(self, ctx: RequestContext, model: str, units: int, *, requests: int = 1) -> Admission:
        """Charge ``requests`` calls (one, but for a batch chunk's lines charged together) of
        ``units`` in all to ``model``; raise 429 (nothing charged) if any limit says no.

        The answer's ``RateLimit-*`` headers go on the audit draft's ``response_headers`` (the
        envelope sends them with whatever the call answers)."""
        principal = ctx.principal
        plan = self.plan(principal.tenant_id)
        exempt = principal.is_admin and principal.key_id in plan.exempt_keys
        own = principal.limits
        key_quota = plan.key.overridden(own.rpm, own.daily, own.monthly)
        now = self._clock()
        charges = self._charges(
            principal.tenant_id, principal.key_id, model, units, requests, plan, key_quota, now, exempt
        )
        if exempt:
            ctx.draft.reason_codes.append(EXEMPT_REASON)
        try:
            results = self.store.charge(charges)
        except Exception:
            logger.exception("limit counters unavailable")
            raise LimitsUnavailable() from None
        refused = [c for c, r in zip(charges, results, strict=True) if r is None]
        if refused:
            self._refund([c for c, r in zip(charges, results, strict=True) if r is not None])
            raise _refusal(refused, now)
        standing = tightest(_standings(charges, results, now))
        headers = {} if standing is None else ratelimit_headers(standing)
        ctx.draft.response_headers.update(headers)
        return Admission(headers)

    def _charges(
        self,
        tenant_id: str,
        key_id: str,
        model: str,
        units: int,
        requests: int,
        plan: Plan,
        key_quota: Quota,
        now: float,
        exempt: bool,
    ) -> list[Charge]:
        scopes = (
            (key_scope(key_id), key_quota),
            (TENANT_SCOPE, plan.tenant),
            (model_scope(model), plan.for_model(model)),
        )
        charges: list[Charge] = []
        for win in current(now):
            for scope, quota in scopes:
                limited = not exempt
                charges.append(
                    Charge(
                        tenant_id=tenant_id,
                        scope=scope,
                        window=win,
                        requests=requests,
                        units=units,
                        max_requests=quota.requests(win.kind) if limited else None,
                        max_units=quota.units(win.kind) if limited else None,
                    )
                )
        return charges

    def _refund(self, charges: list[Charge]) -> None:
        if not charges:
            return
        try:
            self.store.refund(charges)
        except Exception:  # counted too high until the window ends: errs on the refusing side
            logger.exception("limit refund failed")

    # ------------------------------------------------------------------------ usage and plans
    def usage(self, tenant_id: str, *, key_id: str | None = None) -> dict[str, Any]:
        """The tenant's counters in the current minute, day and month: the tenant's, per model,
        and per key (only ``key_id``'s when given: a non-admin key sees its own key only)."""
        now = self._clock()
        windows = current(now)
        try:
            values = self.store.counters(tenant_id, windows)
        except Exception:
            logger.exception("usage read failed")
            raise LimitsUnavailable() from None
        wanted = {w.kind: w.id for w in windows}
        document: dict[str, Any] = {
            "tenant_id": tenant_id,
            "windows": {w.kind: {"id": w.id, "reset_s": w.reset_after(now)} for w in windows},
            "tenant": _zeros(),
            "keys": {},
            "models": {},
        }
        for value in values:
            if wanted.get(value.kind) != value.window:
                continue
            entry = {"requests": value.requests, "units": value.units}
            if value.scope == TENANT_SCOPE:
                document["tenant"][value.kind] = entry
            elif value.scope.startswith("key#"):
                kid = value.scope.removeprefix("key#")
                if key_id is None or kid == key_id:
                    document["keys"].setdefault(kid, _zeros())[value.kind] = entry
            elif value.scope.startswith("model#"):
                document["models"].setdefault(value.scope.removeprefix("model#"), _zeros())[value.kind] = (
                    entry
                )
        return document

    def show_plan(self, tenant_id: str) -> dict[str, Any]:
        stored = self.store.get_plan(tenant_id)
        return plan_view(tenant_id, stored, self._default)

    def set_plan(self, tenant_id: str, document: Any, *, author: str) -> dict[str, Any]:
        plan = parse_plan(document)
        stored = self.store.put_plan(tenant_id, plan, author=author, now=int(self._clock()))
        self._plans.forget(tenant_id)
        return plan_view(tenant_id, stored, self._default)


def plan_view(tenant_id: str, stored: StoredPlan | None, default: Plan = DEFAULT_PLAN) -> dict[str, Any]:
    """A plan as the admin API and the CLI show it (``default: true`` where none is stored)."""
    plan = default if stored is None else stored.plan
    return {
        "tenant_id": tenant_id,
        "plan": plan.model_dump(mode="json", exclude_none=True),
        "default": stored is None,
        "revision": 0 if stored is None else stored.revision,
        "updated_at": None if stored is None else stored.updated_at,
        "updated_by": None if stored is None else stored.updated_by,
    }


def _zeros() -> dict[str, dict[str, int]]:
    return {kind: {"requests": 0, "units": 0} for kind in KINDS}


def _standings(charges: list[Charge], results: list[Counted | None], now: float) -> list[Standing]:
    out: list[Standing] = []
    for charge, counted in zip(charges, results, strict=True):
        if counted is None:
            continue
        reset = charge.window.reset_after(now)
        if charge.max_requests is not None:
            out.append(Standing(charge.max_requests, charge.max_requests - counted.requests, reset))
        if charge.max_units is not None:
            out.append(Standing(charge.max_units, charge.max_units - counted.units, reset))
    return out


def _refusal(refused: list[Charge], now: float) -> RateLimited | QuotaExceeded:
    """The refusal to answer: a quota (day, month) over a rate (minute), and the longest wait of
    the refusing limits (retrying earlier would only be refused again)."""
    last = max(refused, key=lambda c: c.window.end)
    limit = last.max_requests if last.max_requests is not None else last.max_units or 0
    headers = refusal_headers(Standing(limit, 0, last.window.reset_after(now)))
    if last.window.kind == MINUTE:
        return RateLimited(headers=headers)
    return QuotaExceeded(headers=headers)


__all__ = ["EXEMPT_REASON", "Admission", "RateLimiter", "plan_view", "window"]
