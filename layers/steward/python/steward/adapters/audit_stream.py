"""The audit table's DynamoDB stream records (the Lambda event's ``Records``) as archive changes.

A record's new image is decoded with `steward.adapters.ddb_codec`, the decoder the table's reads
use, so an archived line is byte for byte what ``steward audit export`` prints for that record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from steward.adapters.ddb_codec import from_item
from steward.audit.archive import AuditChange


def sequence_of(record: Mapping[str, Any]) -> str:
    stream = record.get("dynamodb")
    return str(stream.get("SequenceNumber") or "") if isinstance(stream, Mapping) else ""


def stream_changes(records: Iterable[Mapping[str, Any]]) -> tuple[list[AuditChange], set[str]]:
    """The changes, and the sequence numbers of records that can't be decoded (reported as
    failed, so the stream retries them and, in the end, hands them to the dead-letter queue)."""
    changes: list[AuditChange] = []
    undecodable: set[str] = set()
    for record in records:
        try:
            stream = record["dynamodb"]
            image = stream.get("NewImage")
            changes.append(
                AuditChange(
                    sequence=str(stream["SequenceNumber"]),
                    event=str(record["eventName"]),
                    record=from_item(image) if image else None,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            undecodable.add(sequence_of(record) if isinstance(record, Mapping) else "")
    return changes, undecodable
