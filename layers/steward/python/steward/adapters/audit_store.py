"""Audit records in DynamoDB (``ResourceNames.audit_table``): pk tenant, sk time#request.

Reads are tenant-scoped by construction (a Query on the caller's partition); the TTL attribute
``expires_at`` ages records out after the retention period.

Writes follow ``steward.audit``: ``put`` only creates (``attribute_not_exists``), so a try that
times out and lands later can't replace anything; ``correct`` replaces. The audit write is the
last step before every response, so it has the tightest bounds: against a stalled table the put
(two tries) and the correction (one try) fail in about 3 s together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"


class DynamoAuditStore(DynamoTable):
    READ_TIMEOUT_S = 1.0  # a put of one small item; DynamoDB answers in milliseconds

    def __init__(self, table: str, *, region: str, client: Any = None) -> None:
        super().__init__(table, region=region, client=client)
        self._correction_client = client

    def put(self, record: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self._table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as error:
            # The key holds the request id: what is there is an earlier try of this very write
            # (an SDK retry after a try that landed), so the record is written.
            if error.response.get("Error", {}).get("Code") != CONDITIONAL_CHECK_FAILED:
                raise

    def correct(self, record: Mapping[str, Any]) -> None:
        # One try: the caller is already waiting on a failed write; an unconfirmed correction is
        # kept and retried by the api process (``steward.audit.record.Corrections``).
        if self._correction_client is None:
            self._correction_client = self._bounded_client(max_attempts=1)
        self._correction_client.put_item(TableName=self._table, Item=to_item(record))

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
        last = None
        # A filter may thin pages out; keep reading until the page is full or the data ends.
        for page in self._pages("query", kwargs):
            records.extend(from_item(item) for item in page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if len(records) >= limit:
                break
            kwargs["Limit"] = limit - len(records)
        records = records[:limit]
        next_sk = records[-1]["sk"] if records and last else None
        return records, next_sk
