"""The ``RateLimit-Limit``/``-Remaining``/``-Reset`` headers (IETF httpapi ratelimit-headers
draft, the three-field form) and ``Retry-After`` on a refusal.

With several limits in force the headers describe the one closest to running out (fewest left),
as the draft asks; ``Reset`` is in seconds from now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Standing:
    """One limit after a decision: its size, what is left of it, seconds until it resets."""

    limit: int
    remaining: int
    reset_s: int


def tightest(standings: Iterable[Standing]) -> Standing | None:
    return min(standings, key=lambda s: (s.remaining, -s.reset_s), default=None)


def ratelimit_headers(standing: Standing) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(standing.limit),
        "RateLimit-Remaining": str(max(0, standing.remaining)),
        "RateLimit-Reset": str(standing.reset_s),
    }


def refusal_headers(standing: Standing) -> dict[str, str]:
    """A refused call: nothing left until the refusing window resets, which is when to retry."""
    return {
        "Retry-After": str(standing.reset_s),
        **ratelimit_headers(Standing(standing.limit, 0, standing.reset_s)),
    }
