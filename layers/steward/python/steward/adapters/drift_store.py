"""Drift sketches in DynamoDB (the fairness table, ``ResourceNames.fairness_table``).

Item layout (pk / sk strings; counts only, never a value):

* pk ``drift#<model>#<version>``, sk ``<window>#<tenant>#<profile fingerprint>``: one tenant's
  counts of one UTC day (``YYYY-MM-DD``) for one model version, in the bins of one drift profile
  (the fingerprint keeps counts of re-registered bins apart).
  - ``rows`` (N): rows counted (OIP rows or embeddings);
  - ``b#<bin index>#<feature>`` (N): how many rows fell into that bin of that feature, one
    attribute per non-empty bin;
  - ``expires_at`` (N): TTL, set on the first write of the day.

One partition per model version (the report reads a version in one query, days as a sort-key
range), one item per tenant and day. Each request is one ``UpdateItem`` whose ``ADD`` actions
DynamoDB applies atomically, so concurrent requests all count and no read precedes a write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item
from steward.quality.drift import Sketch
from steward.quality.drift_monitor import StoredSketch

PREFIX = "drift"
ROWS_ATTR = "rows"
BIN_PREFIX = "b#"


def drift_pk(model: str, version: str) -> str:
    return f"{PREFIX}#{model}#{version}"


def drift_sk(window: str, tenant_id: str, profile: str) -> str:
    return f"{window}#{tenant_id}#{profile}"


def bin_attr(feature: str, index: int) -> str:
    return f"{BIN_PREFIX}{index}#{feature}"


class DynamoDriftStore(DynamoTable):
    def add(
        self,
        model: str,
        version: str,
        tenant_id: str,
        window: str,
        sketch: Sketch,
        rows: int,
        expires_at: int,
    ) -> None:
        names: dict[str, str] = {"#rows": ROWS_ATTR, "#exp": "expires_at"}
        values: dict[str, Any] = {":rows": {"N": str(rows)}, ":exp": {"N": str(expires_at)}}
        adds = ["#rows :rows"]
        for feature, counts in sorted(sketch.counts.items()):
            for index, n in enumerate(counts):
                if n:
                    k = len(adds)
                    names[f"#a{k}"] = bin_attr(feature, index)
                    values[f":v{k}"] = {"N": str(n)}
                    adds.append(f"#a{k} :v{k}")
        self.client.update_item(
            TableName=self._table,
            Key={
                "pk": {"S": drift_pk(model, version)},
                "sk": {"S": drift_sk(window, tenant_id, sketch.profile)},
            },
            UpdateExpression=f"SET #exp = if_not_exists(#exp, :exp) ADD {', '.join(adds)}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def sketches(
        self, model: str, version: str, first_window: str, last_window: str, tenant_id: str | None = None
    ) -> list[StoredSketch]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": drift_pk(model, version)},
                ":first": {"S": first_window},
                ":last": {"S": f"{last_window}#\uffff"},
            },
            "ConsistentRead": True,
        }
        found: list[StoredSketch] = []
        for page in self._pages("query", request):
            for item in page.get("Items", []):
                stored = _stored(from_item(item))
                if stored is not None and (tenant_id is None or stored.tenant_id == tenant_id):
                    found.append(stored)
        return found

    def days(
        self, model: str, version: str, tenant_id: str, windows: Sequence[str], profile: str
    ) -> list[StoredSketch]:
        """The tenant's sketches of ``windows`` by key, in one BatchGetItem per 100 days."""
        pk = {"S": drift_pk(model, version)}
        keys = [{"pk": pk, "sk": {"S": drift_sk(w, tenant_id, profile)}} for w in windows]
        stored = (_stored(from_item(item)) for item in self._batch_get(keys, consistent=True))
        return sorted((s for s in stored if s is not None), key=lambda s: s.window)


def _stored(data: dict[str, Any]) -> StoredSketch | None:
    window, _, rest = str(data.get("sk") or "").partition("#")
    tenant_id, _, profile = rest.rpartition("#")
    if not window or not tenant_id or not profile:
        return None
    cells: dict[str, dict[int, int]] = {}
    for attr, value in data.items():
        if not attr.startswith(BIN_PREFIX):
            continue
        index, _, feature = attr[len(BIN_PREFIX) :].partition("#")
        if index.isdigit() and feature:
            cells.setdefault(feature, {})[int(index)] = int(value)
    return StoredSketch(window, tenant_id, profile, int(data.get(ROWS_ATTR) or 0), cells)
