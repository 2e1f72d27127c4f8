"""The unit every detector returns, and how overlapping findings are settled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# When two findings overlap with equal score and length, the more specific type wins.
_PRIORITY: dict[str, int] = {
    "PRIVATE_KEY": 100,
    "JWT": 95,
    "CLOUD_ACCESS_KEY": 94,
    "CLOUD_SECRET_KEY": 93,
    "API_TOKEN": 92,
    "BEARER_TOKEN": 91,
    "PASSWORD": 90,
    "EMAIL_ADDRESS": 80,
    "IBAN_CODE": 78,
    "CREDIT_CARD": 77,
    "CRYPTO": 76,
    "US_SSN": 75,
    "MAC_ADDRESS": 72,
    "IP_ADDRESS": 71,
    "URL": 70,
    "US_PASSPORT": 66,
    "US_DRIVER_LICENSE": 65,
    "PHONE_NUMBER": 60,
    "STREET_ADDRESS": 50,
    "DATE_TIME": 45,
    "PERSON": 40,
    "LOCATION": 35,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A detected entity: type, character span ``[start, end)`` in the caller's text, confidence.

    It holds no copy of the value, so findings can be logged, audited and returned safely.
    """

    entity_type: str
    start: int
    end: int
    score: float
    detector: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError("a finding needs 0 <= start < end")

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end


def _rank(f: Finding) -> tuple[float, int, int, int]:
    return (-f.score, -f.length, -_PRIORITY.get(f.entity_type, 0), f.start)


_GREEDY_LIMIT = 256


def _resolve_chain(cluster: list[Finding]) -> list[Finding]:
    """Linear fallback for huge clusters (adversarial inputs): pairwise best of neighbours."""
    kept: list[Finding] = []
    for f in cluster:
        while kept and kept[-1].overlaps(f):
            if _rank(kept[-1]) <= _rank(f):
                break
            kept.pop()
        else:
            kept.append(f)
    return kept


def _resolve_cluster(cluster: list[Finding]) -> list[Finding]:
    if len(cluster) > _GREEDY_LIMIT:
        return _resolve_chain(cluster)
    kept: list[Finding] = []
    for f in sorted(cluster, key=_rank):
        if not any(f.overlaps(k) for k in kept):
            kept.append(f)
    return kept


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep a non-overlapping subset, best first (score, then length, then type priority).

    Sweeps by start into clusters of transitively overlapping findings and settles each cluster
    greedily, so the cost stays near-linear however many findings a large input produces.
    """
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    out: list[Finding] = []
    cluster: list[Finding] = []
    cluster_end = -1
    for f in ordered:
        if cluster and f.start >= cluster_end:
            out.extend(_resolve_cluster(cluster) if len(cluster) > 1 else cluster)
            cluster = []
        cluster.append(f)
        cluster_end = max(cluster_end, f.end) if len(cluster) > 1 else f.end
    if cluster:
        out.extend(_resolve_cluster(cluster) if len(cluster) > 1 else cluster)
    out.sort(key=lambda f: f.start)
    return out
