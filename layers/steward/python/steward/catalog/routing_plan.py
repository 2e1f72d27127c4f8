"""How a model's traffic is split between its versions: weighted canary, sticky callers, shadow.

A model's `RoutePlan` lives on its registry entry. A request that names no version gets one drawn
by weight among the plan's *approved* versions (`choose`): a version that leaves the approved state
drops out of the draw by itself, so no pending, rejected or retired version ever answers, and a
plan whose versions are all gone falls back to the serving default. ``sticky`` draws from a hash of
the caller's key id instead of at random, so one caller keeps one version while the weights stay.
The ``shadow`` version gets a copy of routed traffic whose answers are compared and never returned
(`steward.inference.shadow`); a request that pins a version (``model@2``, OIP ``/versions/2``) is
neither drawn nor shadowed: its caller asked for exactly that version.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steward.catalog.names import RULE, is_name

#: Weights are integers; the sum may be anything up to this (percentages are the usual use).
MAX_TOTAL_WEIGHT = 10_000
#: More versions than this in one split is a mistake, not a canary.
MAX_WEIGHTED_VERSIONS = 8


@dataclass(frozen=True)
class RoutePlan:
    """``weights``: (version, weight) pairs, weight > 0; empty sends everything to the default."""

    weights: tuple[tuple[str, int], ...] = ()
    shadow: str = ""
    sticky: bool = False

    def without(self, version: str) -> RoutePlan:
        """The plan once ``version`` may no longer serve (it left the approved state)."""
        return RoutePlan(
            weights=tuple((v, w) for v, w in self.weights if v != version),
            shadow="" if self.shadow == version else self.shadow,
            sticky=self.sticky,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"weights": {v: w for v, w in self.weights}, "shadow": self.shadow, "sticky": self.sticky}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RoutePlan:
        """Lenient read of a stored plan: anything malformed is left out (fails towards the default)."""
        if not isinstance(data, Mapping):
            return cls()
        raw = data.get("weights")
        weights = tuple(
            (str(v), int(w))
            for v, w in (raw.items() if isinstance(raw, Mapping) else ())
            if not isinstance(w, bool) and isinstance(w, int | float) and int(w) > 0
        )
        shadow = data.get("shadow")
        return cls(
            weights=tuple(sorted(weights)),
            shadow=shadow if isinstance(shadow, str) else "",
            sticky=data.get("sticky") is True,
        )


def parse_weights(spec: str | Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """``"1=90,2=10"`` (CLI) or ``{"1": 90, "2": 10}`` (API) as sorted (version, weight) pairs.

    Raises ``ValueError`` with a message fit for the caller: weights are integers >= 0, at least one
    is positive, at most `MAX_WEIGHTED_VERSIONS` versions and a total of `MAX_TOTAL_WEIGHT`. Zero
    weights are dropped (``2=0`` ends a canary).
    """
    pairs: list[tuple[str, object]] = []
    if isinstance(spec, str):
        for part in (p.strip() for p in spec.split(",")):
            named, sep, text = (s.strip() for s in part.partition("="))
            if not sep or not named:
                raise ValueError("weights are VERSION=WEIGHT pairs separated by commas, e.g. 1=90,2=10")
            try:
                pairs.append((named, int(text)))
            except ValueError:
                raise ValueError("every weight must be an integer") from None
    else:
        pairs = [(str(v), w) for v, w in spec.items()]
    seen: dict[str, int] = {}
    for name, weight in pairs:
        if not is_name(name):
            raise ValueError(f"weights name versions: {RULE}")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValueError(f"the weight of version {name!r} must be an integer >= 0")
        if name in seen:
            raise ValueError(f"version {name!r} is named twice")
        seen[name] = weight
    positive = {v: w for v, w in seen.items() if w > 0}
    if not positive:
        raise ValueError("at least one version needs a positive weight")
    if len(positive) > MAX_WEIGHTED_VERSIONS:
        raise ValueError(f"split traffic between at most {MAX_WEIGHTED_VERSIONS} versions")
    if sum(positive.values()) > MAX_TOTAL_WEIGHT:
        raise ValueError(f"the weights add up to more than {MAX_TOTAL_WEIGHT}")
    return tuple(sorted(positive.items()))


def sticky_point(model: str, caller: str, total: int) -> int:
    """Where a caller lands in ``[0, total)``: a hash of model and key id, so one key keeps its
    version while the weights stay (and different models split a key independently). The key id
    is not secret; SHA-256 is only a uniform spreader here."""
    digest = hashlib.sha256(f"{model}\x00{caller}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def choose(
    plan: RoutePlan,
    routable: Callable[[str], bool],
    *,
    model: str,
    caller: str,
    draw: Callable[[int], int],
) -> str | None:
    """The version a request that names none goes to, or None for "the serving default".

    Only versions ``routable`` says may serve take part, their weights kept as they are (a 90/10
    split whose 10 % version was retired sends everything to the other). ``draw(total)`` gives a
    uniform integer in ``[0, total)`` for a non-sticky plan.
    """
    live = [(v, w) for v, w in plan.weights if routable(v)]
    if not live:
        return None
    total = sum(w for _, w in live)
    point = sticky_point(model, caller, total) if plan.sticky and caller else draw(total)
    for version, weight in live:
        if point < weight:
            return version
        point -= weight
    return live[-1][0]  # unreachable: point < total


def random_draw(rng: random.Random | None = None) -> Callable[[int], int]:
    """A uniform draw in ``[0, total)`` from ``rng`` or a fresh generator (a split needs no secrecy)."""
    source = rng or random.Random()  # noqa: S311 - a traffic split, not a secret
    return source.randrange
