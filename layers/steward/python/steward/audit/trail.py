"""Reading a tenant's whole trail back: export as JSON lines and chain verification.

Used by ``steward audit export|verify``. Records are read oldest first by time and walked in
``seq`` order (`steward.audit.chain.verify_chain`); the walk holds one tenant's records in memory
(a window with ``--since``/``--until`` keeps that bounded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.audit.chain import AuditChain, Verdict, verify_chain
from steward.errors import InvalidInput


class AuditTrailSource(Protocol):
    def head(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's chain head item (``None``: nothing was ever chained)."""
        ...

    def trail(self, tenant_id: str, *, since: str | None, until: str | None) -> Iterator[dict[str, Any]]:
        """The tenant's records between two sort-key bounds, oldest first, read consistently."""
        ...


def sort_key_bound(text: str | None, what: str) -> str | None:
    """An ISO 8601 time (a date, or a time with an offset or ``Z``; naive means UTC) as the
    prefix of a record's sort key, ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be an ISO 8601 time such as 2030-01-31T12:00:00Z.") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    low, high = sort_key_bound(since, "--since"), sort_key_bound(until, "--until")
    if low and high and low > high:
        raise InvalidInput("--since must not be after --until.")
    return low, high


def json_line(record: Mapping[str, Any]) -> str:
    """One record as a JSON line (keys sorted, no newline): what ``export`` writes and what each
    line of an archive object holds, so the two read the same."""
    return json.dumps(record, sort_keys=True)


def export(
    source: AuditTrailSource, tenant_id: str, *, since: str | None = None, until: str | None = None
) -> Iterator[dict[str, Any]]:
    """The tenant's records, oldest first, exactly as stored (chain fields included)."""
    low, high = _window(since, until)
    return source.trail(tenant_id, since=low, until=high)


def verify(
    source: AuditTrailSource,
    chain: AuditChain,
    tenant_id: str,
    *,
    since: str | None = None,
    now: float | None = None,
) -> Verdict:
    """Walk the tenant's chain (from ``since`` on, taking the first record's link as given)."""
    low, _ = _window(since, None)
    head = source.head(tenant_id)
    records = list(source.trail(tenant_id, since=low, until=None))
    return verify_chain(
        chain, tenant_id, records, head, now=time.time() if now is None else now, anchored=low is not None
    )
