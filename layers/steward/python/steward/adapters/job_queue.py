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
