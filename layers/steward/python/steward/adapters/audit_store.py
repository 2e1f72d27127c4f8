"""Audit records in DynamoDB (``ResourceNames.audit_table``): pk tenant, sk time#request.

Reads are tenant-scoped by construction (a Query on the caller's partition); the TTL attribute
``expires_at`` ages records out after the retention period.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item


class DynamoAuditStore(DynamoTable):
    def put(self, record: Mapping[str, Any]) -> None:
        # Same (tenant, sk) on an SDK retry overwrites itself, so a retry never duplicates.
        self.client.put_item(TableName=self._table, Item=to_item(record))

    def query(
        self, tenant_id: str, *, limit: int, after_sk: str | None, key_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after_sk:
            kwargs["ExclusiveStartKey"] = {"tenant_id": {"S": tenant_id}, "sk": {"S": after_sk}}
        if key_id:
            kwargs["FilterExpression"] = "key_id = :k"
            kwargs["ExpressionAttributeValues"][":k"] = {"S": key_id}
        records: list[dict[str, Any]] = []
        # A filter may thin pages out; keep reading until the page is full or the data ends.
        while True:
            page = self.client.query(**kwargs)
            records.extend(from_item(item) for item in page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last or len(records) >= limit:
                break
            kwargs["ExclusiveStartKey"] = last
            kwargs["Limit"] = limit - len(records)
        records = records[:limit]
        next_sk = records[-1]["sk"] if records and last else None
        return records, next_sk
