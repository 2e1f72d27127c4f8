"""Quality counters of classifiers in DynamoDB (the fairness table, next to the feedback joins
they are filled from, so a feedback is one transaction).

One item per model version, tenant, UTC day and decision threshold, aggregates only:

* pk ``quality#<model>#<version>``, sk ``<tenant>#<window>#<threshold repr>`` (a tenant's days
  are one key range; the report reads every tenant of a version in one query).
* ``tp``, ``fp``, ``fn``, ``tn``: the confusion counts at the threshold.
* ``h<label>_<bin>``: rows of that label whose score fell in that of the 2000 ROC AUC bins
  (`steward.quality.classification.AUC_BINS`); only bins ever hit exist (at most 4000).
* ``rc<i>``, ``rp<i>``: rows and positives in reliability bin ``i`` (0..9).
* ``rs<i>_<k>`` and ``bs_<k>``: the fixed-point sums of scores per reliability bin (units of
  2**-80) and of squared errors (Brier, units of 2**-160), split in base-2**64 limbs ``k``
  (value = sum of limb_k * 2**(64 k)): a Brier sum passes DynamoDB's 38 digits after one row
  (2**160 is 49 digits), each limb grows by less than 2**64 per row, so 38 digits hold the
  limbs of more than 10**18 rows. Limbs are added without carrying, which keeps every update a
  plain ``ADD``.
* ``threshold`` (string repr, exact) and ``schema_version``, set on every update.

Every update is one ``ADD`` of the deltas of a feedback (atomic, commutative: concurrent
feedbacks never lose counts), in the transaction that deletes the feedback's join item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.quality.classification import AUC_BINS, RELIABILITY_BINS, SCHEMA_VERSION, ClassifierQuality
from steward.quality.monitor import QualityCounts

LIMB_BITS = 64
BRIER_LIMBS = 3  # 2**160 (one row's largest squared error) needs 161 bits
SCORE_LIMBS = 2  # 2**80 (one row's largest score) needs 81 bits
_CONFUSION = ("tp", "fp", "fn", "tn")
_MASK = (1 << LIMB_BITS) - 1


def quality_pk(model: str, version: str) -> str:
    return f"quality#{model}#{version}"


def quality_sk(tenant_id: str, window: str, threshold: float) -> str:
    return f"{tenant_id}#{window}#{threshold!r}"


def limbs(value: int, count: int) -> list[int]:
    """``value`` in base-2**64 limbs, least significant first (``value`` must fit ``count``)."""
    if value < 0 or value >> (LIMB_BITS * count):
        raise ValueError(f"{value} does not fit {count} limbs")
    return [(value >> (LIMB_BITS * k)) & _MASK for k in range(count)]


def unlimb(parts: list[int]) -> int:
    return sum(part << (LIMB_BITS * k) for k, part in enumerate(parts))


def deltas(quality: ClassifierQuality) -> dict[str, int]:
    """The numeric attributes ``quality`` adds (zeros left out)."""
    out: dict[str, int] = {name: getattr(quality, name) for name in _CONFUSION}
    for label in (0, 1):
        for b, count in quality.histogram[label].items():
            out[f"h{label}_{b}"] = count
    for i in range(RELIABILITY_BINS):
        out[f"rc{i}"] = quality.reliability_count[i]
        out[f"rp{i}"] = quality.reliability_positives[i]
        for k, part in enumerate(limbs(quality.reliability_score_sum[i], SCORE_LIMBS)):
            out[f"rs{i}_{k}"] = part
    for k, part in enumerate(limbs(quality.brier_sum, BRIER_LIMBS)):
        out[f"bs_{k}"] = part
    return {name: value for name, value in out.items() if value}


def quality_update(
    table: str, model: str, version: str, tenant_id: str, window: str, quality: ClassifierQuality
) -> dict[str, Any]:
    """A ``TransactItems`` entry adding ``quality`` to its counter item (created on first use)."""
    added = deltas(quality)
    names = {"#thr": "threshold", "#sv": "schema_version"}
    values: dict[str, Any] = {":thr": {"S": repr(quality.threshold)}, ":sv": {"N": str(SCHEMA_VERSION)}}
    adds = []
    for i, (attr, value) in enumerate(sorted(added.items())):
        names[f"#a{i}"] = attr
        values[f":a{i}"] = {"N": str(value)}
        adds.append(f"#a{i} :a{i}")
    expression = "SET #thr = :thr, #sv = :sv" + (f" ADD {', '.join(adds)}" if adds else "")
    return {
        "Update": {
            "TableName": table,
            "Key": {
                "pk": {"S": quality_pk(model, version)},
                "sk": {"S": quality_sk(tenant_id, window, quality.threshold)},
            },
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def quality_from_item(item: Mapping[str, Any]) -> ClassifierQuality:
    """A counter item back as `ClassifierQuality` (validated by its ``from_dict``)."""

    def n(name: str) -> int:
        raw = item.get(name)
        return int(raw["N"]) if isinstance(raw, Mapping) and "N" in raw else 0

    histogram: dict[str, dict[str, int]] = {"0": {}, "1": {}}
    for name in item:
        if name[:1] == "h" and name[2:3] == "_" and name[1:2] in ("0", "1"):
            histogram[name[1]][name[3:]] = n(name)
    return ClassifierQuality.from_dict(
        {
            "schema_version": n("schema_version"),
            "auc_bins": AUC_BINS,
            "threshold": item["threshold"]["S"],
            "confusion": {name: n(name) for name in _CONFUSION},
            "histogram": histogram,
            "brier_sum": str(unlimb([n(f"bs_{k}") for k in range(BRIER_LIMBS)])),
            "reliability": {
                "count": [n(f"rc{i}") for i in range(RELIABILITY_BINS)],
                "score_sum": [
                    str(unlimb([n(f"rs{i}_{k}") for k in range(SCORE_LIMBS)]))
                    for i in range(RELIABILITY_BINS)
                ],
                "positives": [n(f"rp{i}") for i in range(RELIABILITY_BINS)],
            },
        }
    )


class DynamoQualityStore(DynamoTable):
    """`steward.quality.monitor.QualityStore`: reads the counters (feedback writes them through
    `steward.adapters.fairness_store.DynamoFairnessStore.resolve`)."""

    def quality_counts(
        self,
        model: str,
        version: str,
        *,
        first_window: str,
        last_window: str,
        tenant_id: str | None = None,
        threshold: float | None = None,
    ) -> list[QualityCounts]:
        if tenant_id is not None and threshold is not None:
            return self._tenant_counts(model, version, tenant_id, threshold, first_window, last_window)
        values: dict[str, Any] = {":pk": {"S": quality_pk(model, version)}}
        condition = "pk = :pk"
        if tenant_id is not None:  # "#" sorts before every window digit and "~" after the threshold
            condition += " AND sk BETWEEN :lo AND :hi"
            values[":lo"] = {"S": f"{tenant_id}#{first_window}"}
            values[":hi"] = {"S": f"{tenant_id}#{last_window}#~"}
        kwargs = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found = []
        for page in self._pages("query", kwargs):
            for item in page.get("Items", []):
                tenant, window, _threshold = _split_sk(item["sk"]["S"])
                if not first_window <= window <= last_window or tenant_id not in (None, tenant):
                    continue
                quality = quality_from_item(item)
                if threshold is None or quality.threshold == threshold:
                    found.append(QualityCounts(tenant, window, quality))
        return found

    def _tenant_counts(
        self, model: str, version: str, tenant_id: str, threshold: float, first: str, last: str
    ) -> list[QualityCounts]:
        """The tenant's days by key (the api function reads its tenant's items, nothing else), in
        one strongly consistent BatchGetItem per 100 days."""
        pk = {"S": quality_pk(model, version)}
        days: list[str] = []
        day = date.fromisoformat(first)
        while (window := day.isoformat()) <= last:
            days.append(window)
            day += timedelta(days=1)
        keys = [{"pk": pk, "sk": {"S": quality_sk(tenant_id, w, threshold)}} for w in days]
        found = [
            QualityCounts(tenant_id, _split_sk(item["sk"]["S"])[1], quality_from_item(item))
            for item in self._batch_get(keys, consistent=True)
        ]
        return sorted(found, key=lambda counts: counts.window)


def _split_sk(sk: str) -> tuple[str, str, str]:
    """(tenant, window, threshold): tenant ids hold no ``#``, windows and thresholds neither."""
    tenant, _, rest = sk.partition("#")
    window, _, threshold = rest.partition("#")
    return tenant, window, threshold
