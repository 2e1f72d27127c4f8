"""The local stand-in for Lambda's SQS event source mapping (moto runs no Lambdas without Docker).

It long-polls the jobs queue, hands each batch of messages to the batch worker's handler in the
event shape Lambda delivers (``Records`` with ``messageId``, ``receiptHandle``, ``body``,
``attributes.ApproximateReceiveCount``, ``eventSourceARN``, ...) with a Lambda context whose
remaining time counts down from the function's timeout, and, like the event source mapping with
``ReportBatchItemFailures``, deletes only the messages not named in ``batchItemFailures`` (all of
them kept if the handler raises). Kept messages come back after the visibility timeout; after the
queue's ``maxReceiveCount`` receives, moto's redrive policy moves them to the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("steward.local.pump")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
#: Lambda's SQS batch size (the CDK event source uses the same).
BATCH_SIZE = 10


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context the worker and Powertools read."""

    timeout_s: float
    function_name: str = "steward-local-batch-worker"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:steward-local-batch-worker"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """``ReceiveMessage`` results as the ``Records`` of Lambda's SQS event."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_ids(response: Any) -> set[str] | None:
    """The message ids a partial batch response names; None when it is not one (keep them all)."""
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not isinstance(failures, list):
        return None
    return {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}


class EventPump:
    """Deliver the queue's messages to ``handler`` until stopped (a daemon thread)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        *,
        region: str,
        timeout_s: float,
        wait_s: int = 1,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._arn = queue_arn
        self._handler = handler
        self._region = region
        self._timeout_s = timeout_s
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait_s + self._timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump_once()
            except Exception as error:  # the pump must outlive a bad poll (moto restarting, ...)
                logger.error("event pump poll failed", extra={"error_type": type(error).__name__})
                self._stop.wait(1.0)

    def pump_once(self) -> int:
        """One poll and one handler call; the number of messages delivered."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=self._wait_s,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = lambda_sqs_event(messages, self._arn, self._region)
        try:
            failed = failed_ids(self._handler(event, LocalLambdaContext(self._timeout_s)))
        except Exception as error:
            logger.error("batch worker raised", extra={"error_type": type(error).__name__})
            failed = None
        if failed is None:
            return len(messages)  # keep them all: they come back after the visibility timeout
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), BATCH_SIZE):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
        self.delivered += len(messages)
        return len(messages)


class SweepSchedule:
    """The local stand-in for the EventBridge rule that queues the batch expiry sweep
    (`cdk.events`): every ``interval_s``, one sweep job named by the time, like the rule's."""

    def __init__(self, sqs: Any, queue_url: str, *, interval_s: float) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep-schedule", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            job = {"kind": "sweep", "tenant_id": "-", "batch_id": f"sweep_{when}", "chunk": 0}
            try:
                self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps(job))
            except Exception as error:
                logger.error("sweep not queued", extra={"error_type": type(error).__name__})
