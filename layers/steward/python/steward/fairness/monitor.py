"""Fairness monitoring on the request path: count outcomes per group, join ground truth later.

At prediction time a caller may send a group attribute (OIP ``parameters.group``) with a request
to a classification model. Steward derives the binary decision from the model's probabilities,
adds one to the counter cell ``(window, group, prediction, label=unknown)`` and keeps a join item
keyed by the request id holding only ``{tenant, model, version, window, groups, predictions}``
with a short TTL. ``POST /v1/feedback`` moves the counts from ``unknown`` to the label and deletes
the join item, so the group of a record lives only in that short-lived, encrypted item and never
in a log, an audit record or the counters' keys beyond the aggregate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.errors import InvalidInput, UnsupportedInput
from steward.fairness.counters import FairnessCounters

DEFAULT_THRESHOLD = 0.5
#: The favourable class index of a two-class probability output (``approve`` for credit-risk).
POSITIVE_CLASS = 1
#: Outcomes per request that can be monitored (the join is one DynamoDB transaction).
MAX_MONITORED_ROWS = 25
MAX_GROUP_LENGTH = 64
PROBABILITY_OUTPUTS = ("probabilities", "probability", "probs")


@dataclass(frozen=True)
class Outcome:
    group: str
    prediction: int


@dataclass(frozen=True)
class PendingJoin:
    """What waits for ground truth: no input, no output values, only the counter coordinates."""

    tenant_id: str
    request_id: str
    model: str
    version: str
    window: str
    outcomes: tuple[Outcome, ...]
    expires_at: int


class FairnessStore(Protocol):
    def record(self, join: PendingJoin) -> None:
        """Count the outcomes as label-unknown and store the join item, atomically."""
        ...

    def resolve(self, tenant_id: str, request_id: str, labels: Sequence[int]) -> PendingJoin:
        """Move the outcomes to their labels and delete the join item, atomically.

        Raises `FeedbackNotFound` (unknown, expired, other tenant) or `FeedbackDuplicate`.
        """
        ...

    def counters(self, model: str, version: str) -> dict[str, FairnessCounters]:
        """Counters of every window of one model version."""
        ...

    def put_latest_report(self, model: str, version: str, summary: Mapping[str, Any]) -> None: ...

    def latest_report(self, model: str, version: str) -> dict[str, Any] | None: ...


def window_of(epoch_s: float) -> str:
    """Counters are kept per UTC day: ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d")


def parse_groups(raw: Any, n_rows: int) -> list[str]:
    """``parameters.group``: one string for every row, or one string per row."""
    groups = [raw] * n_rows if isinstance(raw, str) else raw
    if not isinstance(groups, list) or len(groups) != n_rows:
        raise InvalidInput("'parameters.group' must be a string or a list with one string per input row.")
    for group in groups:
        if not isinstance(group, str) or not group.strip() or len(group) > MAX_GROUP_LENGTH:
            raise InvalidInput(
                f"Each group must be a non-empty string of at most {MAX_GROUP_LENGTH} characters."
            )
    if n_rows > MAX_MONITORED_ROWS:
        raise InvalidInput(f"Fairness monitoring covers at most {MAX_MONITORED_ROWS} rows per request.")
    return [str(g) for g in groups]


def predictions_from_output(
    result: Mapping[str, Any], n_rows: int, threshold: float = DEFAULT_THRESHOLD
) -> list[int]:
    """Binary decisions from the backend's class-probability output (``p[positive] >= threshold``)."""
    outputs = result.get("outputs")
    if not isinstance(outputs, list):
        raise UnsupportedInput("The model returned no outputs to monitor.")
    chosen = next(
        (o for o in outputs if isinstance(o, Mapping) and o.get("name") in PROBABILITY_OUTPUTS), None
    )
    if chosen is None:
        raise UnsupportedInput("Fairness monitoring needs a model with a class-probability output.")
    data = chosen.get("data")
    shape = chosen.get("shape")
    if not isinstance(data, list) or not isinstance(shape, list) or len(shape) != 2:
        raise UnsupportedInput("The class-probability output must be a [rows, classes] tensor.")
    rows, classes = int(shape[0]), int(shape[1])
    flat = _flatten(data)
    if rows != n_rows or classes <= POSITIVE_CLASS or len(flat) != rows * classes:
        raise UnsupportedInput("The class-probability output does not match the input rows.")
    return [int(float(flat[r * classes + POSITIVE_CLASS]) >= threshold) for r in range(rows)]


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in data:
        if isinstance(item, list):
            flat.extend(_flatten(item))
        else:
            flat.append(item)
    return flat


def threshold_of(card: Mapping[str, Any]) -> float:
    """The decision threshold the card's evaluation states, else 0.5."""
    evaluation = card.get("evaluation")
    raw = evaluation.get("threshold") if isinstance(evaluation, Mapping) else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0.0 < float(raw) < 1.0:
        return float(raw)
    return DEFAULT_THRESHOLD


def parse_labels(label: Any, labels: Any) -> list[int]:
    """``label`` (one 0/1) or ``labels`` (a list of 0/1, one per monitored row)."""
    if (label is None) == (labels is None):
        raise InvalidInput("Send exactly one of 'label' or 'labels'.")
    values = [label] if labels is None else labels
    if not isinstance(values, list) or not values or len(values) > MAX_MONITORED_ROWS:
        raise InvalidInput(f"'labels' must hold 1 to {MAX_MONITORED_ROWS} values.")
    parsed: list[int] = []
    for value in values:
        if isinstance(value, bool):
            parsed.append(int(value))
        elif value in (0, 1) and isinstance(value, int):
            parsed.append(value)
        else:
            raise InvalidInput("Labels must be 0 or 1.")
    return parsed


class FairnessMonitor:
    """The request-path side: record predictions with a group, join feedback labels."""

    def __init__(self, store: FairnessStore, *, join_ttl_days: int = 7, clock: Any = time.time) -> None:
        self.store = store
        self.join_ttl_s = join_ttl_days * 86_400
        self._clock = clock

    def record(
        self,
        *,
        tenant_id: str,
        request_id: str,
        model: str,
        version: str,
        groups: Sequence[str],
        predictions: Sequence[int],
    ) -> PendingJoin:
        now = self._clock()
        join = PendingJoin(
            tenant_id=tenant_id,
            request_id=request_id,
            model=model,
            version=version,
            window=window_of(now),
            outcomes=tuple(Outcome(g, p) for g, p in zip(groups, predictions, strict=True)),
            expires_at=int(now) + self.join_ttl_s,
        )
        self.store.record(join)
        return join

    def feedback(self, tenant_id: str, request_id: str, labels: Sequence[int]) -> dict[str, Any]:
        join = self.store.resolve(tenant_id, request_id, labels)
        return {
            "object": "feedback",
            "request_id": request_id,
            "model": join.model,
            "model_version": join.version,
            "labels": len(join.outcomes),
            "status": "recorded",
        }
