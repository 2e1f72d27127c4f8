"""Fairness and quality monitoring on the request path: count outcomes per group, join ground
truth later.

At prediction time a caller may send a group attribute (OIP ``parameters.group``) with a request
to a classification model. Steward derives the binary decision from the model's probabilities,
adds one to the counter cell ``(tenant, window, group, prediction, label=unknown)`` and keeps a
join item keyed by the request id holding only ``{tenant, model, version, window, groups,
predictions}`` with a short TTL. ``POST /v1/feedback`` moves the counts from ``unknown`` to the
label and deletes the join item.

Every classifier prediction with a class-probability output also leaves a join, with or without
a group: each row's positive-class score and decision (and the decision threshold), so feedback
can add the labelled rows to the quality counters (`steward.quality.monitor`). A row without a
group is never counted in the fairness counters. Still one write per prediction: the scores ride
in the same join item (and, with a group, in the same transaction as the counts).

Only groups the tenant's admin declared are accepted (`steward.fairness.groups`), and what is
stored is their keyed hash (token), never the caller's value: an undeclared value is refused
(`UnknownFairnessGroup`) and only counted as ``unknown``. Counters are per tenant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from steward.errors import (
    FairnessLabelsConflict,
    FeedbackDuplicate,
    FeedbackNotFound,
    InvalidInput,
    UnknownFairnessGroup,
    UnsupportedInput,
)
from steward.fairness.counters import FairnessCounters
from steward.fairness.groups import GroupLabels, group_token, parse_declaration, tenant_group_key
from steward.quality.classification import ClassifierQuality, validate_score
from steward.quality.monitor import labelled_quality

logger = logging.getLogger("steward.fairness")

DEFAULT_THRESHOLD = 0.5
#: The favourable class index of a two-class probability output (``approve`` for credit-risk).
POSITIVE_CLASS = 1
#: Outcomes per request that can be monitored (the join is one DynamoDB transaction).
MAX_MONITORED_ROWS = 25
MAX_GROUP_LENGTH = 64
PROBABILITY_OUTPUTS = ("probabilities", "probability", "probs")
#: Scores below this are stored as 0.0 (they count as 0 in `steward.quality.classification`).
MIN_STORED_SCORE = 2.0**-90
#: How long a process trusts its copy of a tenant's declared labels (a change applies within it).
LABELS_TTL_S = 5.0


@dataclass(frozen=True)
class Outcome:
    group: str | None  # the group's token (keyed hash), never the caller's value; None: no group
    prediction: int
    score: float | None = None  # P(class 1) from the model; None: not kept (quality not monitored)


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
    #: The decision threshold of ``prediction`` (scored joins only; the quality counters need it).
    threshold: float | None = None

    @property
    def grouped(self) -> bool:
        return any(o.group is not None for o in self.outcomes)

    @property
    def scored(self) -> bool:
        return self.threshold is not None and all(o.score is not None for o in self.outcomes)


@dataclass
class TenantCounters:
    """One tenant's counters of one model version: per window, plus refused undeclared values."""

    windows: dict[str, FairnessCounters] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)  # window -> refused undeclared values


class FairnessStore(Protocol):
    def record(self, join: PendingJoin) -> None:
        """Count the grouped outcomes as label-unknown and store the join item, atomically."""
        ...

    def count_unknown(self, tenant_id: str, model: str, version: str, window: str, n: int) -> None:
        """Count ``n`` refused undeclared group values (the values themselves are not stored)."""
        ...

    def pending(self, tenant_id: str, request_id: str) -> PendingJoin | None:
        """The join waiting for ground truth, or None (unknown, expired, already labelled)."""
        ...

    def settled_model(self, tenant_id: str, request_id: str) -> str | None:
        """The model of an already labelled request (its tombstone), else None."""
        ...

    def resolve(self, join: PendingJoin, labels: Sequence[int], quality: ClassifierQuality | None) -> None:
        """Move the grouped outcomes to their labels, add ``quality`` (the labelled rows' quality
        counters, None when the join holds no scores) and delete the join item, atomically.

        Raises `FeedbackDuplicate` when a concurrent feedback won the race.
        """
        ...

    def counters(self, model: str, version: str) -> dict[str, TenantCounters]:
        """Counters of every tenant and window of one model version (tenant -> counters)."""
        ...

    def put_latest_report(
        self, tenant_id: str, model: str, version: str, summary: Mapping[str, Any]
    ) -> None: ...

    def latest_report(self, tenant_id: str, model: str, version: str) -> dict[str, Any] | None: ...

    def group_labels(self, tenant_id: str) -> GroupLabels | None:
        """The tenant's declared labels, None if it never declared any."""
        ...

    def put_group_labels(self, labels: GroupLabels) -> None:
        """Store ``labels`` if the stored revision is still ``labels.revision - 1``.

        Raises `LabelsChanged` when another writer got there first.
        """
        ...


class LabelsChanged(Exception):
    """A concurrent declaration changed the tenant's labels between read and write."""


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
    return [int(float(p) >= threshold) for p in positive_probabilities(result, n_rows)]


def has_probability_output(result: Mapping[str, Any]) -> bool:
    outputs = result.get("outputs")
    return isinstance(outputs, list) and any(
        isinstance(o, Mapping) and o.get("name") in PROBABILITY_OUTPUTS for o in outputs
    )


def positive_probabilities(result: Mapping[str, Any], n_rows: int) -> list[Any]:
    """Each row's probability of the positive class, as the backend sent it."""
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
    return [flat[r * classes + POSITIVE_CLASS] for r in range(rows)]


def scores_from_output(result: Mapping[str, Any], n_rows: int) -> list[float]:
    """Positive-class scores for quality monitoring: floats in [0, 1] (`ValueError` otherwise,
    `UnsupportedInput` for a malformed output). A score below `MIN_STORED_SCORE` is kept as 0.0:
    the quality counters quantise it to zero anyway, and DynamoDB numbers stop at 1e-130."""
    scores = [validate_score(p) for p in positive_probabilities(result, n_rows)]
    return [0.0 if s < MIN_STORED_SCORE else s for s in scores]


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
    """The request-path side: check and hash groups, record predictions, join feedback labels."""

    def __init__(
        self,
        store: FairnessStore,
        *,
        pepper: Callable[[], bytes],
        join_ttl_days: int = 7,
        labels_ttl_s: float = LABELS_TTL_S,
        clock: Any = time.time,
    ) -> None:
        self.store = store
        self.join_ttl_s = join_ttl_days * 86_400
        self.labels_ttl_s = labels_ttl_s
        self._pepper = pepper
        self._clock = clock
        self._keys: dict[str, bytes] = {}
        self._labels: dict[str, tuple[float, GroupLabels]] = {}
        self._lock = threading.Lock()

    # --- groups ------------------------------------------------------------------------------
    def group_tokens(self, tenant_id: str, model: str, version: str, groups: Sequence[str]) -> list[str]:
        """The stored form of each row's group; `UnknownFairnessGroup` if any was not declared.

        A refusal is counted (how many values, nothing else) so a tenant sees that callers send
        groups it has not declared. Store or pepper failures propagate: the caller decides.
        """
        declared = self.declared_groups(tenant_id)
        allowed = set(declared.labels)
        refused = sum(1 for g in groups if g not in allowed)
        if refused:
            try:
                self.store.count_unknown(tenant_id, model, version, window_of(self._clock()), refused)
            except Exception as error:
                logger.error("unknown group not counted", extra={"error_type": type(error).__name__})
            raise UnknownFairnessGroup()
        key = self._key(tenant_id)
        return [group_token(key, g) for g in groups]

    def declared_groups(self, tenant_id: str) -> GroupLabels:
        """The tenant's declared labels (empty if none), cached for ``labels_ttl_s``."""
        now = self._clock()
        cached = self._labels.get(tenant_id)
        if cached is not None and now - cached[0] < self.labels_ttl_s:
            return cached[1]
        labels = self.store.group_labels(tenant_id) or GroupLabels(tenant_id)
        self._labels[tenant_id] = (now, labels)
        return labels

    def declare_groups(self, tenant_id: str, document: Any, *, author: str) -> GroupLabels:
        """Replace the tenant's accepted labels; tokens of earlier labels keep their names."""
        labels = parse_declaration(document)
        key = self._key(tenant_id)
        for _attempt in range(3):
            current = self.store.group_labels(tenant_id) or GroupLabels(tenant_id)
            names = {**current.names, **{group_token(key, label): label for label in labels}}
            updated = replace(
                current,
                labels=tuple(labels),
                names=names,
                revision=current.revision + 1,
                updated_at=datetime.fromtimestamp(self._clock(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                updated_by=author,
            )
            try:
                self.store.put_group_labels(updated)
            except LabelsChanged:
                continue
            self._labels[tenant_id] = (self._clock(), updated)
            return updated
        raise FairnessLabelsConflict()

    def _key(self, tenant_id: str) -> bytes:
        key = self._keys.get(tenant_id)
        if key is None:
            with self._lock:
                key = self._keys[tenant_id] = tenant_group_key(self._pepper(), tenant_id)
        return key

    # --- outcomes and feedback -------------------------------------------------------------------
    def record(
        self,
        *,
        tenant_id: str,
        request_id: str,
        model: str,
        version: str,
        groups: Sequence[str] | None,
        predictions: Sequence[int],
        scores: Sequence[float] | None = None,
        threshold: float | None = None,
    ) -> PendingJoin:
        """Store the join of one prediction: the outcomes of groups already turned into tokens by
        `group_tokens` (None: no group), and each row's score at ``threshold`` (None: no quality)."""
        now = self._clock()
        rows = len(predictions)
        row_groups: Sequence[str | None] = [None] * rows if groups is None else groups
        row_scores: Sequence[float | None] = [None] * rows if scores is None else scores
        join = PendingJoin(
            tenant_id=tenant_id,
            request_id=request_id,
            model=model,
            version=version,
            window=window_of(now),
            outcomes=tuple(
                Outcome(g, p, s) for g, p, s in zip(row_groups, predictions, row_scores, strict=True)
            ),
            expires_at=int(now) + self.join_ttl_s,
            threshold=threshold if scores is not None else None,
        )
        self.store.record(join)
        return join

    def feedback(
        self,
        tenant_id: str,
        request_id: str,
        labels: Sequence[int],
        *,
        may_use: Callable[[str], bool],
    ) -> dict[str, Any]:
        """Join ground truth, for a key entitled to the prediction's model only.

        A key without that entitlement gets the unknown-id 404 whatever the state of the request
        (pending, labelled, row count), so nothing about another model's traffic can be probed.
        """
        join = self.store.pending(tenant_id, request_id)
        if join is None:
            settled = self.store.settled_model(tenant_id, request_id)
            if settled is not None and may_use(settled):
                raise FeedbackDuplicate()
            raise FeedbackNotFound()
        if not may_use(join.model):
            raise FeedbackNotFound()
        if len(labels) != len(join.outcomes):
            raise InvalidInput(
                f"This prediction has {len(join.outcomes)} monitored row(s): send one label per row."
            )
        quality = (
            labelled_quality([float(o.score or 0.0) for o in join.outcomes], labels, join.threshold)
            if join.scored and join.threshold is not None
            else None
        )
        self.store.resolve(join, labels, quality)
        return {
            "object": "feedback",
            "request_id": request_id,
            "model": join.model,
            "model_version": join.version,
            "labels": len(join.outcomes),
            "status": "recorded",
        }
