"""The batch jobs queue in SQS (``ResourceNames.jobs_queue``): jobs are ids, never lines.

``SendMessageBatch`` takes ten messages per call; an entry SQS reports failed is sent again once,
and whatever still fails raises (the caller's job is retried as a whole: jobs are idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from steward.adapters.aws import client as aws_client

SQS_BATCH = 10


class SqsJobQueue:
    """`steward.batches.ports.JobQueue` over one queue (by URL, or looked up once by name)."""

    def __init__(self, *, region: str, url: str = "", name: str = "", client: Any = None) -> None:
        if not url and not name:
            raise ValueError("a queue URL or name is needed")
        self._region = region
        self._url = url
        self._name = name
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client(
                "sqs", self._region, connect_timeout=2.0, read_timeout=5.0, max_attempts=3
            )
        return self._client

    @property
    def url(self) -> str:
        if not self._url:
            with self._lock:
                if not self._url:
                    self._url = str(self.client.get_queue_url(QueueName=self._name)["QueueUrl"])
        return self._url

    def send(self, jobs: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(jobs), SQS_BATCH):
            entries = [
                {"Id": str(i), "MessageBody": orjson.dumps(dict(job)).decode()}
                for i, job in enumerate(jobs[start : start + SQS_BATCH])
            ]
            for _ in range(2):
                answer = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
                failed = {f["Id"] for f in answer.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise RuntimeError(f"{len(entries)} jobs not queued")


class SqsDeadLetters:
    """`steward.batches.redrive.DeadLetters` over the jobs dead-letter queue and the jobs queue."""

    #: Long enough that one redrive run never receives the same kept message twice.
    VISIBILITY_S = 60

    def __init__(self, *, region: str, dead_letter_queue: str, jobs_queue: str, client: Any = None) -> None:
        self._region = region
        self._dead = dead_letter_queue
        self._jobs = SqsJobQueue(region=region, name=jobs_queue, client=client)
        self._dead_url = ""

    @property
    def client(self) -> Any:
        return self._jobs.client  # one SQS client for both queues

    @property
    def dead_url(self) -> str:
        if not self._dead_url:
            self._dead_url = str(self.client.get_queue_url(QueueName=self._dead)["QueueUrl"])
        return self._dead_url

    def receive(self, max_messages: int) -> list[tuple[str, str]]:
        answer = self.client.receive_message(
            QueueUrl=self.dead_url,
            MaxNumberOfMessages=max(1, min(max_messages, SQS_BATCH)),
            VisibilityTimeout=self.VISIBILITY_S,
            WaitTimeSeconds=1,
        )
        return [(m["ReceiptHandle"], m["Body"]) for m in answer.get("Messages", [])]

    def requeue(self, bodies: Sequence[str]) -> None:
        self._jobs.send([orjson.loads(body) for body in bodies])

    def delete(self, handles: Sequence[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
        for start in range(0, len(entries), SQS_BATCH):
            self.client.delete_message_batch(
                QueueUrl=self.dead_url, Entries=entries[start : start + SQS_BATCH]
            )
