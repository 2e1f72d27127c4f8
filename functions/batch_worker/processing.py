"""The batch worker's SQS processing, separate from the Lambda module so tests build it with ports.

Per SQS batch (up to ten job messages): Powertools `BatchProcessor` runs each record and answers
a partial batch response, so only the records that failed (``batchItemFailures``) come back
after the visibility timeout, and a record that keeps failing goes to the dead-letter queue after
the queue's ``maxReceiveCount``. Each job runs under Powertools idempotency (`DynamoDB`
persistence, key: tenant, batch, kind and chunk): a job delivered again after it succeeded gets
its saved result without running, one delivered while it runs fails and comes back later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from steward.batches import signals
from steward.batches.chunk_result import ChunkDeferred
from steward.batches.jobs import NOOP, Job
from steward.bootstrap import Lazy, Worker

#: The job fields that make it the same job (a redelivery has the same ones).
JOB_KEY = "[tenant_id, batch_id, kind, chunk]"
#: Stable across function names and stages: the key is the job, not where it ran.
KEY_PREFIX = "steward-batch-job"
#: Longer than the queue keeps a message (4 days), so no redelivery outlives its record.
IDEMPOTENCY_TTL_S = 5 * 86_400

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
#: Told each count a job that really ran stands for (`steward.batches.signals`).
Count = Callable[[str, int], None]


def make_handler(worker: Callable[[], Worker], count: Count | None = None) -> Handler:
    """The Lambda handler over ``worker`` (built on the first job, not at import)."""
    config = IdempotencyConfig(
        event_key_jmespath=JOB_KEY, raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_TTL_S
    )
    # Always a partial batch response, even when every record failed (one shape for the pump
    # and for Lambda: the failed ones come back, the others are deleted).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def runner() -> Callable[..., dict[str, Any]]:
        built = worker()

        def run_job(job: dict[str, Any], remaining_s: Callable[[], float]) -> dict[str, Any]:
            try:
                result = built.worker.handle(Job(**job), remaining_s)
            except ChunkDeferred:
                if count is not None:
                    count(signals.CHUNKS_DEFERRED, 1)
                raise
            if count is not None:  # here, not on a replayed result: a job counts once
                for name, value in signals.of_result(result):
                    count(name, value)
            return result

        wrapped: Callable[..., dict[str, Any]] = idempotent_function(
            data_keyword_argument="job",
            config=config,
            persistence_store=built.idempotency,
            key_prefix=KEY_PREFIX,
        )(run_job)
        return wrapped

    run = Lazy(runner)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        config.register_lambda_context(context)

        def remaining_s() -> float:
            return float(context.get_remaining_time_in_millis()) / 1000.0

        def record_handler(record: SQSRecord) -> dict[str, Any]:
            job = Job.parse(record.body)  # anything else fails the record (and ends in the DLQ)
            if job.kind == NOOP:  # S3's test event when the drop-in notification is configured
                return {"kind": NOOP}
            return run()(job=job.as_message(), remaining_s=remaining_s)

        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(response)

    return handle
