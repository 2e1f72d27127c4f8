"""What the rate limiter charges, and the `LimitStore` port it charges through.

Every counter of a tenant lives in the tenant's partition, one item per scope and window:
sort key ``<kind>#<window id>#<scope>`` with scope ``tenant``, ``key#<key id>`` or
``model#<model>``, holding ``requests`` and ``units``. So one Query reads a tenant's usage in a
window, and each charge is one conditional ``ADD`` on one item: atomic, whatever the concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from steward.limits.plan import Plan
from steward.limits.windows import Kind, Window

TENANT_SCOPE = "tenant"


def key_scope(key_id: str) -> str:
    return f"key#{key_id}"


def model_scope(model: str) -> str:
    return f"model#{model}"


@dataclass(frozen=True, slots=True)
class Charge:
    """Add ``requests`` and ``units`` to one counter, unless that would pass its limits."""

    tenant_id: str
    scope: str
    window: Window
    requests: int = 1
    units: int = 0
    max_requests: int | None = None
    max_units: int | None = None

    @property
    def sort_key(self) -> str:
        return f"{self.window.kind}#{self.window.id}#{self.scope}"

    @property
    def limited(self) -> bool:
        return self.max_requests is not None or self.max_units is not None

    def admits(self, requests: int, units: int) -> bool:
        """Whether a counter now at (``requests``, ``units``) takes this charge."""
        return (self.max_requests is None or requests + self.requests <= self.max_requests) and (
            self.max_units is None or units + self.units <= self.max_units
        )


@dataclass(frozen=True, slots=True)
class Counted:
    """A counter's values after a charge (or as read)."""

    requests: int
    units: int


@dataclass(frozen=True, slots=True)
class CounterValue:
    """One stored counter, as `GET /v1/usage` lists it."""

    kind: Kind
    window: str
    scope: str
    requests: int
    units: int


@dataclass(frozen=True, slots=True)
class StoredPlan:
    plan: Plan
    revision: int
    updated_at: int
    updated_by: str


class LimitStore(Protocol):
    """Counters and plans. Implemented by `steward.adapters.limit_store.DynamoLimitStore` and
    ``tests.fakes.InMemoryLimitStore``."""

    def charge(self, charges: Sequence[Charge]) -> list[Counted | None]:
        """Apply each charge atomically and independently: its new values, or None where it would
        pass a limit (nothing added). If it raises, no charge of the call is left applied."""
        ...

    def refund(self, charges: Sequence[Charge]) -> None:
        """Take back charges that were applied (best effort)."""
        ...

    def counters(self, tenant_id: str, windows: Sequence[Window]) -> list[CounterValue]:
        """The tenant's counters in the given windows."""
        ...

    def get_plan(self, tenant_id: str) -> StoredPlan | None: ...

    def put_plan(self, tenant_id: str, plan: Plan, *, author: str, now: int) -> StoredPlan:
        """Replace the tenant's plan (the revision counts up)."""
        ...
