"""The audit table's DynamoDB stream -> the audit archive (S3 under Object Lock).

Thin: the rules (which records, which objects, how long they are locked) are
`steward.audit.archive`; the event is decoded by `steward.adapters.audit_stream`. The batch is
archived first (one object per tenant and day), then Powertools' batch processor reports each
record whose object was not written as a partial batch failure: the stream retries from the
first of them (at-least-once; a redelivered object is a no-op), and when every record failed the
invocation fails, so the event source mapping bisects the batch and, once its retries are spent,
sends the batch's position to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from steward.adapters.audit_stream import stream_changes
from steward.audit.archive import AuditArchiver
from steward.bootstrap import Lazy, archiver_settings, build_archiver
from steward.privacy.logs import RedactingFormatter

SERVICE = "steward-audit-archiver"
logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace="Steward", service=SERVICE)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
archiver: Lazy[AuditArchiver] = Lazy(lambda: build_archiver(archiver_settings()))


class NotArchived(Exception):
    """The record's object was not written (the stream retries from the first such record)."""


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> Any:
    changes, undecodable = stream_changes(event.get("Records") or [])
    outcome = archiver().archive(changes)
    failed = outcome.failed | undecodable
    metrics.add_metric(name="AuditRecordsArchived", unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name="AuditArchiveObjects", unit=MetricUnit.Count, value=outcome.objects)
    metrics.add_metric(name="AuditArchiveRepeats", unit=MetricUnit.Count, value=outcome.repeats)
    metrics.add_metric(name="AuditArchiveFailures", unit=MetricUnit.Count, value=len(failed))
    if undecodable:
        logger.error("stream records not decodable", extra={"records": len(undecodable)})

    def confirm(record: DynamoDBRecord) -> None:
        stream = record.dynamodb
        if stream is None or stream.sequence_number in failed:
            raise NotArchived(stream.sequence_number if stream is not None else None)

    return process_partial_response(event, confirm, processor, context)
