"""How a model version serves: calls, failures, backend latency and shadow agreement, as counters.

What a reviewer compares before ``promote`` besides quality and fairness: a version that is right
but slow, or fails one call in fifty, is not ready. Kept per (model, version, tenant, UTC day) as
mergeable integer counters (no request content), so a window's figures are the sum of its parts:

* ``calls`` and ``failures`` (the backend did not answer: timeout, 5xx, unreachable);
* a latency histogram of `LATENCY_BINS` log-spaced bins, 4 per doubling from 1 ms: a percentile
  read from it is the upper edge of its bin, at most 19 % (2**0.25) above the true value between
  1 ms and about 2 minutes (below 1 ms it reads 1 ms; beyond the last edge, the last edge);
* for a version that runs as a shadow: rows compared with the answering version, rows that agreed
  (same top class), shadow calls that failed, copies skipped for want of a free slot, and the
  shadow's own latency histogram.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Bin 0 holds latencies under 1 ms; bin k >= 1 holds [2**((k-1)/4), 2**(k/4)) ms; the last bin
#: everything from about 2**17 ms (131 s) on, longer than any backend deadline.
LATENCY_BINS = 70
BINS_PER_DOUBLING = 4


def latency_bin(latency_ms: float) -> int:
    if math.isnan(latency_ms) or latency_ms < 1.0:
        return 0
    if math.isinf(latency_ms):
        return LATENCY_BINS - 1
    return min(LATENCY_BINS - 1, int(math.log2(latency_ms) * BINS_PER_DOUBLING) + 1)


def bin_upper_ms(index: int) -> float:
    return float(2.0 ** (index / BINS_PER_DOUBLING))


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The upper edge of the bin holding the ``q`` quantile (None without observations)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return round(bin_upper_ms(index), 3)
    return round(bin_upper_ms(len(histogram) - 1), 3)


@dataclass
class ServingStats:
    calls: int = 0
    failures: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * LATENCY_BINS)
    shadow_calls: int = 0
    shadow_failures: int = 0
    shadow_rows: int = 0
    shadow_agreed: int = 0
    shadow_latency: list[int] = field(default_factory=lambda: [0] * LATENCY_BINS)
    #: Copies not sent because every shadow slot of the process was busy (the sample's gaps).
    shadow_skipped: int = 0

    def merge(self, other: ServingStats) -> ServingStats:
        return ServingStats(
            calls=self.calls + other.calls,
            failures=self.failures + other.failures,
            latency=[a + b for a, b in zip(self.latency, other.latency, strict=True)],
            shadow_calls=self.shadow_calls + other.shadow_calls,
            shadow_failures=self.shadow_failures + other.shadow_failures,
            shadow_rows=self.shadow_rows + other.shadow_rows,
            shadow_agreed=self.shadow_agreed + other.shadow_agreed,
            shadow_skipped=self.shadow_skipped + other.shadow_skipped,
            shadow_latency=[a + b for a, b in zip(self.shadow_latency, other.shadow_latency, strict=True)],
        )

    def figures(self) -> dict[str, Any]:
        """What the comparison and the report show."""
        return {
            "calls": self.calls,
            "error_rate": _share(self.failures, self.calls),
            "latency_p50_ms": percentile(self.latency, 0.50),
            "latency_p99_ms": percentile(self.latency, 0.99),
            "shadow": {
                "calls": self.shadow_calls,
                "skipped": self.shadow_skipped,
                "error_rate": _share(self.shadow_failures, self.shadow_calls),
                "rows_compared": self.shadow_rows,
                "agreement": _share(self.shadow_agreed, self.shadow_rows),
                "latency_p50_ms": percentile(self.shadow_latency, 0.50),
                "latency_p99_ms": percentile(self.shadow_latency, 0.99),
            },
        }

    # Stored as flat numeric attributes so every writer can ADD to them at once.
    def to_attributes(self) -> dict[str, int]:
        counts = {
            "calls": self.calls,
            "failures": self.failures,
            "shadow_calls": self.shadow_calls,
            "shadow_failures": self.shadow_failures,
            "shadow_rows": self.shadow_rows,
            "shadow_agreed": self.shadow_agreed,
            "shadow_skipped": self.shadow_skipped,
        }
        counts.update({f"lat_{i}": n for i, n in enumerate(self.latency) if n})
        counts.update({f"shadow_lat_{i}": n for i, n in enumerate(self.shadow_latency) if n})
        return {k: v for k, v in counts.items() if v}

    @classmethod
    def from_attributes(cls, data: Mapping[str, Any]) -> ServingStats:
        stats = cls()
        for name, raw in data.items():
            try:
                value = int(raw)
            except (TypeError, ValueError):
                continue
            prefix, _, index = name.rpartition("_")
            if prefix in ("lat", "shadow_lat") and index.isdigit() and int(index) < LATENCY_BINS:
                (stats.latency if prefix == "lat" else stats.shadow_latency)[int(index)] += value
            elif name in _COUNTS:
                setattr(stats, name, getattr(stats, name) + value)
        return stats


_COUNTS = (
    "calls",
    "failures",
    "shadow_calls",
    "shadow_failures",
    "shadow_rows",
    "shadow_agreed",
    "shadow_skipped",
)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def call_stats(latency_ms: float | None, failed: bool) -> ServingStats:
    """One backend call of the answering version."""
    stats = ServingStats(calls=1, failures=int(failed))
    if latency_ms is not None and not failed:
        stats.latency[latency_bin(latency_ms)] = 1
    return stats


def shadow_stats(
    latency_ms: float | None, failed: bool, rows: int, agreed: int, *, skipped: bool = False
) -> ServingStats:
    """One shadow copy: its outcome and how many of its rows agreed with the answer returned, or
    (``skipped``) a copy not sent for want of a free slot."""
    if skipped:
        return ServingStats(shadow_skipped=1)
    stats = ServingStats(shadow_calls=1, shadow_failures=int(failed), shadow_rows=rows, shadow_agreed=agreed)
    if latency_ms is not None and not failed:
        stats.shadow_latency[latency_bin(latency_ms)] = 1
    return stats


class ServingStatsStore(Protocol):
    """Where serving counters are kept (`steward.adapters.serving_stats_store`)."""

    def add(self, tenant_id: str, model: str, version: str, window: str, stats: ServingStats) -> None: ...

    def read(self, model: str, version: str, windows: set[str], tenant_id: str) -> ServingStats:
        """One tenant's sum over ``windows``."""
        ...
