"""Aggregate outcome counters per sensitive group: the only state fairness monitoring keeps.

Counts are keyed by ``(group, prediction, label)`` with binary prediction/label and ``label=None``
while ground truth has not arrived. Counters of different windows (or Lambda invocations) add up
with `merge`, and `to_dict`/`from_dict` give a JSON/DynamoDB-friendly form, so no raw prediction
or personal data has to be stored to compute the metrics later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SCHEMA_VERSION = 1
Label = int | None
Cell = tuple[int, Label]  # (prediction, label)

_UNKNOWN = "-"
#: Every cell of a group, in the order `to_dict` writes them.
CELLS: tuple[Cell, ...] = ((1, 1), (1, 0), (1, None), (0, 1), (0, 0), (0, None))


def _binary(value: object, what: str) -> int:
    """Accept 0/1 as int, bool or integral float (what model outputs and JSON give back)."""
    if value in (0, 1) and not isinstance(value, str):
        return int(value)
    raise ValueError(f"{what} must be 0 or 1, got {value!r}")


def _cell_key(cell: Cell) -> str:
    prediction, label = cell
    return f"{prediction}/{_UNKNOWN if label is None else label}"


def _parse_cell_key(key: str) -> Cell:
    prediction, sep, label = key.partition("/")
    if not sep or prediction not in ("0", "1") or label not in ("0", "1", _UNKNOWN):
        raise ValueError(f"bad counter cell {key!r}")
    return int(prediction), None if label == _UNKNOWN else int(label)


def _count(value: object) -> int:
    """A non-negative integer count; DynamoDB hands numbers back as `decimal.Decimal`."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"count must be a non-negative integer, got {value!r}")
    try:
        number = int(value)
    except (ValueError, OverflowError) as exc:  # NaN, infinity
        raise ValueError(f"count must be a non-negative integer, got {value!r}") from exc
    if number != value or number < 0:
        raise ValueError(f"count must be a non-negative integer, got {value!r}")
    return number


@dataclass
class FairnessCounters:
    """Counts of (group, prediction, label); a missing key means zero."""

    counts: dict[str, dict[Cell, int]] = field(default_factory=dict)

    @classmethod
    def from_records(
        cls, sensitive: Iterable[object], y_pred: Iterable[object], y_true: Iterable[object] | None = None
    ) -> FairnessCounters:
        """Count raw aligned sequences (``y_true`` entries may be None; omitted means all unknown)."""
        groups, preds = list(sensitive), list(y_pred)
        labels: list[object] = [None] * len(preds) if y_true is None else list(y_true)
        if not len(groups) == len(preds) == len(labels):
            raise ValueError(
                f"sensitive, y_pred and y_true differ in length ({len(groups)}, {len(preds)}, {len(labels)})"
            )
        counters = cls()
        for group, prediction, label in zip(groups, preds, labels, strict=True):
            counters.add(str(group), prediction, label)
        return counters

    def add(self, group: str, prediction: object, label: object = None, count: int = 1) -> None:
        """Count ``count`` outcomes; ``label=None`` while the ground truth is unknown."""
        if count < 0:
            raise ValueError("count must not be negative")
        cell = (_binary(prediction, "prediction"), None if label is None else _binary(label, "label"))
        cells = self.counts.setdefault(str(group), {})
        cells[cell] = cells.get(cell, 0) + count

    def resolve_label(self, group: str, prediction: object, label: object, count: int = 1) -> None:
        """Ground truth arrived: move ``count`` outcomes from the unknown-label cell to ``label``."""
        pred = _binary(prediction, "prediction")
        cells = self.counts.get(str(group), {})
        if cells.get((pred, None), 0) < count:
            raise ValueError("not that many outcomes with an unknown label for this group and prediction")
        cells[(pred, None)] -= count
        self.add(group, pred, label, count)

    def get(self, group: str, prediction: int, label: Label) -> int:
        return self.counts.get(group, {}).get((prediction, label), 0)

    def groups(self) -> list[str]:
        """Groups with at least one outcome, sorted (empty groups are not groups, as in Fairlearn)."""
        return sorted(g for g, cells in self.counts.items() if any(cells.values()))

    def total(self) -> int:
        return sum(sum(cells.values()) for cells in self.counts.values())

    def merge(self, other: FairnessCounters) -> FairnessCounters:
        """A new counter holding the sum of both (windows add up; neither input changes)."""
        merged = FairnessCounters()
        for source in (self, other):
            for group, cells in source.counts.items():
                for cell, n in cells.items():
                    merged.add(group, cell[0], cell[1], n)
        return merged

    __add__ = merge

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FairnessCounters):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """``{"schema_version": 1, "counts": {group: {"<pred>/<label or ->": n}}}``, zeros left out."""
        out: dict[str, dict[str, int]] = {}
        for group in self.groups():
            cells = self.counts[group]
            out[group] = {_cell_key(c): cells[c] for c in CELLS if cells.get(c, 0)}
        return {"schema_version": SCHEMA_VERSION, "counts": out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessCounters:
        """Inverse of `to_dict`; rejects unknown versions, cells and non-integral counts."""
        version = data.get("schema_version")
        if version is None or _count(version) != SCHEMA_VERSION:
            raise ValueError(f"unsupported fairness counters schema_version {version!r}")
        raw = data.get("counts")
        if not isinstance(raw, Mapping):
            raise ValueError("fairness counters need a 'counts' mapping")
        counters = cls()
        for group, cells in raw.items():
            if not isinstance(group, str) or not isinstance(cells, Mapping):
                raise ValueError("fairness counters map group names to cell mappings")
            for key, n in cells.items():
                prediction, label = _parse_cell_key(str(key))
                counters.add(group, prediction, label, _count(n))
        return counters
