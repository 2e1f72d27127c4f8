"""Serving counters of model versions in DynamoDB (the monitoring table, ``fairness_table``).

Item: pk ``serving#<model>#<version>``, sk ``<window>#<tenant>`` (window = UTC day), numeric
attributes from `steward.quality.serving.ServingStats.to_attributes` (``calls``, ``failures``,
``lat_<bin>``, ``shadow_*``) and ``expires_at`` (TTL, `RETENTION_DAYS` after the day). Every write
is one ``UpdateItem`` that ADDs, so concurrent writers never lose a count; no request content is
stored. One partition per version: a comparison reads
a version's days and tenants in one query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item
from steward.quality.serving import ServingStats

#: How long a day's counters are kept (a year of comparisons, like the drift sketches).
RETENTION_DAYS = 400


def serving_pk(model: str, version: str) -> str:
    return f"serving#{model}#{version}"


class DynamoServingStatsStore(DynamoTable):
    def add(self, tenant_id: str, model: str, version: str, window: str, stats: ServingStats) -> None:
        attributes = stats.to_attributes()
        if not attributes:
            return
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": {"N": str(n)} for i, n in enumerate(attributes.values())}
        day = datetime.strptime(window, "%Y-%m-%d").replace(tzinfo=UTC)
        expires = int((day + timedelta(days=RETENTION_DAYS)).timestamp())
        self.client.update_item(
            TableName=self._table,
            Key={"pk": {"S": serving_pk(model, version)}, "sk": {"S": f"{window}#{tenant_id}"}},
            UpdateExpression="ADD "
            + ", ".join(f"#a{i} :v{i}" for i in range(len(attributes)))
            + " SET #exp = :exp",
            ExpressionAttributeNames={**names, "#exp": "expires_at"},
            ExpressionAttributeValues={**values, ":exp": {"N": str(expires)}},
        )

    def read(self, model: str, version: str, windows: set[str], tenant_id: str) -> ServingStats:
        """One tenant's sum over ``windows``, read by key (BatchGetItem: never another tenant's)."""
        total = ServingStats()
        for item in self._tenant_items(model, version, sorted(windows), tenant_id):
            total = total.merge(ServingStats.from_attributes(from_item(item)))
        return total

    def _tenant_items(
        self, model: str, version: str, windows: list[str], tenant_id: str
    ) -> list[dict[str, Any]]:
        pk = {"S": serving_pk(model, version)}
        return self._batch_get([{"pk": pk, "sk": {"S": f"{w}#{tenant_id}"}} for w in windows])
