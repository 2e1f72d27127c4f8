"""Audit records in DynamoDB (``ResourceNames.audit_table``): pk tenant, sk time#request.

Reads are tenant-scoped by construction (a Query on the caller's partition); the TTL attribute
``expires_at`` ages records out after the retention period. Each partition also holds the
tenant's chain head (``sk`` `steward.audit.chain.HEAD_SK`, no TTL), which record queries stop
short of.

Writes follow `steward.audit.chain.ChainWriter`: the record (created only if absent, or replacing
only the MAC it read, for a correction) and the head (only if its ``seq`` is the one sealed
against) go in one ``TransactWriteItems``, so they land together or not at all; a cancelled
transaction says which condition failed and, with ``ALL_OLD``, hands back the current head, so a
writer that lost a race re-seals without another read. The SDK's retries of one transaction
reuse its ``ClientRequestToken``, which makes a retry after a lost answer idempotent.

The audit write is the last step before every response, so it has the tightest bounds: against
a stalled table the put (two tries of the head read) and the correction (one try) fail in about
3 s together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.audit.chain import (
    HEAD_SK,
    RECORDS_BELOW_SK,
    AuditChain,
    ChainHead,
    ChainWriter,
    HeadMoved,
    RecordExists,
    head_of,
)

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailed"
TRANSACTION_CANCELED = "TransactionCanceledException"
#: Sort-key bounds of a tenant's records (ISO times start with a digit; the head sorts above).
RECORDS_FROM_SK = "0"


class _ChainTable:
    """`steward.audit.chain.ChainStorage` over one table and one client."""

    def __init__(self, table: str, client: Callable[[], Any]) -> None:
        self._table = table
        self._client = client

    def read_head(self, tenant_id: str) -> ChainHead | None:
        item = self._get(tenant_id, HEAD_SK)
        return head_of(item) if item is not None else None

    def read_record(self, tenant_id: str, sk: str) -> dict[str, Any] | None:
        return self._get(tenant_id, sk)

    def _get(self, tenant_id: str, sk: str) -> dict[str, Any] | None:
        found = self._client().get_item(
            TableName=self._table,
            Key={"tenant_id": {"S": tenant_id}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        return from_item(found["Item"]) if "Item" in found else None

    def commit(
        self,
        record: Mapping[str, Any],
        head_item: Mapping[str, Any],
        *,
        expected: ChainHead | None,
        replace_mac: str | None,
    ) -> None:
        from botocore.exceptions import ClientError

        put_record: dict[str, Any] = {"TableName": self._table, "Item": to_item(record)}
        if replace_mac is None:
            put_record["ConditionExpression"] = "attribute_not_exists(sk)"
        else:
            put_record["ConditionExpression"] = "mac = :m"
            put_record["ExpressionAttributeValues"] = {":m": {"S": replace_mac}}
        put_head: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(head_item),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expected is None:
            put_head["ConditionExpression"] = "attribute_not_exists(sk)"
        else:
            put_head["ConditionExpression"] = "seq = :s"
            put_head["ExpressionAttributeValues"] = {":s": {"N": str(expected.seq)}}
        try:
            self._client().transact_write_items(TransactItems=[{"Put": put_record}, {"Put": put_head}])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != TRANSACTION_CANCELED:
                raise
            reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
            record_reason, head_reason = [*reasons, {}, {}][:2]
            if record_reason.get("Code") == CONDITIONAL_CHECK_FAILED:
                raise RecordExists() from None
            current = head_reason.get("Item") if head_reason.get("Code") == CONDITIONAL_CHECK_FAILED else None
            raise HeadMoved(head_of(from_item(current)) if current else None) from None


class DynamoAuditStore(DynamoTable):
    READ_TIMEOUT_S = 1.0  # one small item; DynamoDB answers in milliseconds

    def __init__(self, table: str, *, region: str, chain: AuditChain, client: Any = None) -> None:
        super().__init__(table, region=region, client=client)
        self._correction_client = client
        self.chain = chain
        self._writer = ChainWriter(_ChainTable(table, lambda: self.client), chain)
        # One try per call: the caller is already waiting on a failed write; an unconfirmed
        # correction is kept and retried by the api process (``steward.audit.record.Corrections``).
        self._corrector = ChainWriter(_ChainTable(table, self._one_try_client), chain)

    def _one_try_client(self) -> Any:
        if self._correction_client is None:
            self._correction_client = self._bounded_client(max_attempts=1)
        return self._correction_client

    def put(self, record: Mapping[str, Any]) -> None:
        self._writer.put(record)

    def correct(self, record: Mapping[str, Any]) -> None:
        self._corrector.correct(record)

    def query(
        self, tenant_id: str, *, limit: int, after_sk: str | None, key_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND sk < :head",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":head": {"S": RECORDS_BELOW_SK}},
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

    # --- export and verification (`steward.audit.trail.AuditTrailSource`) ---------------------

    def head(self, tenant_id: str) -> dict[str, Any] | None:
        return _ChainTable(self._table, lambda: self.client).read_record(tenant_id, HEAD_SK)

    def trail(self, tenant_id: str, *, since: str | None, until: str | None) -> Iterator[dict[str, Any]]:
        """The tenant's records oldest first (by time), read consistently, page by page."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":t": {"S": tenant_id},
                ":a": {"S": since or RECORDS_FROM_SK},
                ":b": {"S": until or RECORDS_BELOW_SK},
            },
            "ConsistentRead": True,
        }
        for page in self._pages("query", request):
            for item in page.get("Items", []):
                record = from_item(item)
                if record.get("sk") != HEAD_SK:
                    yield record
