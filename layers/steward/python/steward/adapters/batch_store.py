"""Files and batches in DynamoDB (``ResourceNames.batches_table``): pk the owner tenant.

Items: ``file#<id>`` (a file's record) and ``batch#<id>`` (a batch's). Every read is a GetItem
or Query on the caller's own partition, so another tenant's id is simply absent. Sealed values
(`steward.batches.sealing`) are binary attributes, never strings.

A status change is one conditional ``UpdateItem`` (``status IN (...)``); counting a chunk is one
``UpdateItem`` that adds its counts and its number to the ``done`` number set only if the number
is not in it yet (``NOT contains(done, :n)``), returning the new item: DynamoDB serialises the
updates of one item, so each chunk is counted once and exactly one caller sees the last count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_attr, to_attr
from steward.batches.model import STATUS_TIME, TERMINAL, BatchRecord, FileRecord, Purpose, Status
from steward.resources import OPEN_BATCHES_INDEX

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
FILE, BATCH = "file#", "batch#"
#: The open-batches index's one partition value (`OPEN_BATCHES_INDEX`); removed when a batch ends.
OPEN = "open"


def open_until(window_ends_at: int) -> str:
    """The index's sort key: the window's end, zero-padded so strings sort as numbers."""
    return f"{window_ends_at:012d}"


def _key(tenant_id: str, sk: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "sk": {"S": sk}}


def file_item(record: FileRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(record.tenant_id, FILE + record.file_id),
        "file_id": {"S": record.file_id},
        "purpose": {"S": record.purpose.value},
        "bytes": {"N": str(record.size)},
        "created_at": {"N": str(record.created_at)},
        "object_key": {"S": record.object_key},
        "sealed": {"B": record.sealed},
    }
    if record.expires_at is not None:
        item["expires_at"] = {"N": str(record.expires_at)}
    return item


def file_record(item: Mapping[str, Any]) -> FileRecord:
    expires = item.get("expires_at")
    return FileRecord(
        tenant_id=item["tenant_id"]["S"],
        file_id=item["file_id"]["S"],
        purpose=Purpose(item["purpose"]["S"]),
        size=int(item["bytes"]["N"]),
        created_at=int(item["created_at"]["N"]),
        object_key=item["object_key"]["S"],
        sealed=bytes(item["sealed"]["B"]),
        expires_at=int(expires["N"]) if expires else None,
    )


def batch_item(record: BatchRecord) -> dict[str, Any]:
    """A new batch's item. ``window_ends_at`` is OpenAI's ``expires_at`` (24 h); the table's TTL
    attribute ``expires_at`` is when the record itself ages out."""
    item: dict[str, Any] = {
        **_key(record.tenant_id, BATCH + record.batch_id),
        "batch_id": {"S": record.batch_id},
        "endpoint": {"S": record.endpoint},
        "input_file_id": {"S": record.input_file_id},
        "completion_window": {"S": record.completion_window},
        "status": {"S": record.status.value},
        "created_at": {"N": str(record.created_at)},
        "window_ends_at": {"N": str(record.expires_at)},
        "key_id": {"S": record.key_id},
        "times": to_attr(dict(record.times)),
        "chunk_count": {"N": str(record.chunk_count)},
        "total": {"N": str(record.total)},
        "completed": {"N": str(record.completed)},
        "failed": {"N": str(record.failed)},
        "errors": to_attr(list(record.errors)),
        "failures": to_attr(dict(record.failures)),
        "expires_at": {"N": str(record.retain_until)},
    }
    if record.sealed is not None:
        item["sealed"] = {"B": record.sealed}
    if record.status not in TERMINAL:
        item["open"] = {"S": OPEN}
        item["open_until"] = {"S": open_until(record.expires_at)}
    return item


def batch_record(item: Mapping[str, Any]) -> BatchRecord:
    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    def text(name: str) -> str | None:
        return str(item[name]["S"]) if name in item and "S" in item[name] else None

    sealed = item.get("sealed")
    return BatchRecord(
        tenant_id=item["tenant_id"]["S"],
        batch_id=item["batch_id"]["S"],
        endpoint=item["endpoint"]["S"],
        input_file_id=item["input_file_id"]["S"],
        completion_window=item["completion_window"]["S"],
        status=Status(item["status"]["S"]),
        created_at=number("created_at"),
        expires_at=number("window_ends_at"),
        key_id=item["key_id"]["S"],
        sealed=bytes(sealed["B"]) if sealed else None,
        retain_until=number("expires_at"),
        times={str(k): int(v) for k, v in (from_attr(item["times"]) if "times" in item else {}).items()},
        chunk_count=number("chunk_count"),
        total=number("total"),
        completed=number("completed"),
        failed=number("failed"),
        done=frozenset(int(n) for n in item.get("done", {}).get("NS", [])),
        output_file_id=text("output_file_id"),
        error_file_id=text("error_file_id"),
        errors=tuple(from_attr(item["errors"])) if "errors" in item else (),
        failures={
            str(k): str(v) for k, v in (from_attr(item["failures"]) if "failures" in item else {}).items()
        },
        expiring=bool(item.get("expiring", {}).get("BOOL", False)),
    )


class DynamoBatchStore(DynamoTable):
    """`steward.batches.ports.BatchStore` over the batches table."""

    # --- files ---------------------------------------------------------------------------
    def put_file(self, record: FileRecord) -> None:
        self.client.put_item(TableName=self._table, Item=file_item(record))

    def get_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        found = self.client.get_item(
            TableName=self._table, Key=_key(tenant_id, FILE + file_id), ConsistentRead=True
        )
        return file_record(found["Item"]) if "Item" in found else None

    def list_files(self, tenant_id: str) -> list[FileRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :f)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":f": {"S": FILE}},
        }
        return [file_record(item) for page in self._pages("query", request) for item in page.get("Items", [])]

    def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        gone = self.client.delete_item(
            TableName=self._table, Key=_key(tenant_id, FILE + file_id), ReturnValues="ALL_OLD"
        )
        return file_record(gone["Attributes"]) if gone.get("Attributes") else None

    # --- batches ---------------------------------------------------------------------------
    def put_batch(self, record: BatchRecord) -> None:
        self.client.put_item(
            TableName=self._table, Item=batch_item(record), ConditionExpression="attribute_not_exists(sk)"
        )

    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None:
        found = self.client.get_item(
            TableName=self._table, Key=_key(tenant_id, BATCH + batch_id), ConsistentRead=True
        )
        return batch_record(found["Item"]) if "Item" in found else None

    def list_batches(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> tuple[list[BatchRecord], bool]:
        """Newest first: batch ids sort by creation time, so a descending Query on the partition."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :b)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":b": {"S": BATCH}},
            "ScanIndexForward": False,
            "Limit": limit + 1,  # one more than asked: whether more follow
        }
        if after:
            # Up to and including ``after`` (dropped below): the page continues where it ended.
            request["KeyConditionExpression"] = "tenant_id = :t AND sk BETWEEN :b AND :after"
            request["ExpressionAttributeValues"][":after"] = {"S": BATCH + after}
        records: list[BatchRecord] = []
        for page in self._pages("query", request):
            for item in page.get("Items", []):
                record = batch_record(item)
                if record.batch_id != after:
                    records.append(record)
            if len(records) > limit:
                break
            request["Limit"] = limit + 2 - len(records)
        return records[:limit], len(records) > limit

    def transition(
        self,
        tenant_id: str,
        batch_id: str,
        *,
        from_statuses: Sequence[Status],
        to: Status,
        at: int,
        changes: Mapping[str, Any] | None = None,
    ) -> BatchRecord | None:
        from botocore.exceptions import ClientError

        names = {"#s": "status", "#t": "times"}
        values: dict[str, Any] = {":to": {"S": to.value}}
        sets = ["#s = :to"]
        stamp = STATUS_TIME.get(to)
        if stamp:
            names["#stamp"] = stamp
            values[":at"] = {"N": str(at)}
            sets.append("#t.#stamp = :at")
        for i, (name, value) in enumerate((changes or {}).items()):
            names[f"#c{i}"] = name
            values[f":c{i}"] = to_attr(list(value) if isinstance(value, tuple) else value)
            sets.append(f"#c{i} = :c{i}")
        allowed = [f":f{i}" for i in range(len(from_statuses))]
        values.update({f":f{i}": {"S": s.value} for i, s in enumerate(from_statuses)})
        update = "SET " + ", ".join(sets)
        if to in TERMINAL:  # an ended batch leaves the open-batches index
            names.update({"#open": "open", "#until": "open_until"})
            update += " REMOVE #open, #until"
        try:
            answer = self.client.update_item(
                TableName=self._table,
                Key=_key(tenant_id, BATCH + batch_id),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(sk) AND #s IN ({', '.join(allowed)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == CONDITIONAL_CHECK_FAILED:
                return None
            raise
        return batch_record(answer["Attributes"])

    def count_chunk(
        self, tenant_id: str, batch_id: str, chunk: int, *, completed: int, failed: int
    ) -> BatchRecord | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.update_item(
                TableName=self._table,
                Key=_key(tenant_id, BATCH + batch_id),
                UpdateExpression="ADD #done :n, #ok :ok, #bad :bad",
                ConditionExpression="attribute_exists(sk) AND NOT contains(#done, :chunk)",
                ExpressionAttributeNames={"#done": "done", "#ok": "completed", "#bad": "failed"},
                ExpressionAttributeValues={
                    ":n": {"NS": [str(chunk)]},
                    ":chunk": {"N": str(chunk)},
                    ":ok": {"N": str(completed)},
                    ":bad": {"N": str(failed)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == CONDITIONAL_CHECK_FAILED:
                return None
            raise
        return batch_record(answer["Attributes"])

    def due_batches(self, now: int, *, limit: int) -> list[BatchRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OPEN_BATCHES_INDEX,
            "KeyConditionExpression": "#open = :open AND open_until < :now",
            "ExpressionAttributeNames": {"#open": "open"},
            "ExpressionAttributeValues": {":open": {"S": OPEN}, ":now": {"S": open_until(now)}},
            "Limit": limit,
        }
        records: list[BatchRecord] = []
        for page in self._pages("query", request):
            records += [batch_record(item) for item in page.get("Items", [])]
            if len(records) >= limit:
                break
        return records[:limit]

    def note_failure(self, tenant_id: str, batch_id: str, chunk: int, code: str) -> None:
        self.client.update_item(
            TableName=self._table,
            Key=_key(tenant_id, BATCH + batch_id),
            UpdateExpression="SET #f.#c = :code",
            ConditionExpression="attribute_exists(sk)",
            ExpressionAttributeNames={"#f": "failures", "#c": f"{chunk:05d}"},
            ExpressionAttributeValues={":code": {"S": code}},
        )
