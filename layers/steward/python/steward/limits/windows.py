"""Fixed counting windows in UTC: the current minute, day and month.

Fixed windows (not sliding) because each is one DynamoDB item that a conditional ``ADD`` counts
atomically; a caller can burst up to twice a per-minute limit across a minute boundary, the usual
price of fixed windows, and never more than the limit inside one window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Kind = Literal["m", "d", "mo"]
MINUTE: Kind = "m"
DAY: Kind = "d"
MONTH: Kind = "mo"
KINDS: tuple[Kind, ...] = (MINUTE, DAY, MONTH)
#: How long a window's counter item outlives the window (DynamoDB TTL), for `GET /v1/usage`
#: and for looking back at the previous window.
KEEP_S: dict[Kind, int] = {MINUTE: 3_600, DAY: 3 * 86_400, MONTH: 40 * 86_400}


@dataclass(frozen=True, slots=True)
class Window:
    """One window of one kind: its id (``202501311259``, ``20250131``, ``202501``) and bounds."""

    kind: Kind
    id: str
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive: the counter resets here

    def reset_after(self, now: float) -> int:
        """Whole seconds until the window ends (at least 1: a reset "now" is still in the future)."""
        return max(1, int(-(-(self.end - now) // 1)))

    @property
    def expires_at(self) -> int:
        return self.end + KEEP_S[self.kind]


def window(kind: Kind, now: float) -> Window:
    """The ``kind`` window holding the instant ``now`` (epoch seconds)."""
    t = datetime.fromtimestamp(now, tz=UTC)
    if kind == MINUTE:
        start = int(now) // 60 * 60
        return Window(kind, t.strftime("%Y%m%d%H%M"), start, start + 60)
    if kind == DAY:
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        start = int(day.timestamp())
        return Window(kind, t.strftime("%Y%m%d"), start, start + 86_400)
    first = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return Window(kind, t.strftime("%Y%m"), int(first.timestamp()), int(following.timestamp()))


def current(now: float) -> tuple[Window, Window, Window]:
    """The minute, day and month windows at ``now``."""
    return window(MINUTE, now), window(DAY, now), window(MONTH, now)
