"""A local stand-in for Lambda's DynamoDB-stream event source mapping.

moto implements a table's stream (``DescribeStream``, ``GetShardIterator``, ``GetRecords``:
INSERT, MODIFY and REMOVE records with ``Keys``/``NewImage``) but runs no event source mapping,
so nothing would invoke a stream's function locally. `StreamPoller` reads the stream and calls the
function's handler with the event Lambda sends, ``{"Records": [...]}``, each record as Lambda
delivers it: ``ApproximateCreationDateTime`` as epoch seconds (boto3 parses it into a datetime)
and ``eventSourceARN`` added (``GetRecords`` has none). It honours the mapping's contract:
a partial batch response (``batchItemFailures``) resumes from the lowest failed sequence number,
a raised error retries the whole batch, and after ``max_retries`` the batch is given up (logged,
as the mapping's on-failure destination would get it) and the shard moves on.

What it leaves out: event filters (the handler must skip what a filter would drop, which
Steward's archiver does), bisecting a failed batch, parallelisation and batching windows.
Independent of Steward: it takes boto3 clients and a callable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

logger = logging.getLogger("local.stream")
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    aws_request_id: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@dataclass
class _Shard:
    after: str | None = None  # the last sequence number handled (None: from the start)
    tries: int = 0  # failed deliveries of the batch at ``after``


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record as Lambda hands it to the function."""
    stream = dict(record.get("dynamodb") or {})
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn}


@dataclass
class StreamPoller:
    dynamodb: Any  # boto3 DynamoDB client
    streams: Any  # boto3 DynamoDB Streams client
    table: str
    handler: Handler
    context: Any = None
    batch_size: int = 100
    interval_s: float = 0.5
    #: While the stream is quiet the wait doubles up to this (a busy moto is slowed by idle polls).
    idle_max_s: float = 4.0
    max_retries: int = 3
    given_up: list[dict[str, Any]] = field(default_factory=list)
    _shards: dict[str, _Shard] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """Deliver at most one batch per shard; returns how many records were handled (a batch
        that failed counts none: the caller waits before the retry)."""
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"].get("LatestStreamArn")
        if not arn:
            return 0
        delivered = 0
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            state = self._shards.setdefault(shard["ShardId"], _Shard())
            delivered += self._deliver(arn, shard["ShardId"], state)
        return delivered

    def _deliver(self, arn: str, shard_id: str, state: _Shard) -> int:
        position: dict[str, str] = (
            {"ShardIteratorType": "TRIM_HORIZON"}
            if state.after is None
            else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": state.after}
        )
        iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **position)[
            "ShardIterator"
        ]
        records = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size).get("Records", [])
        if not records:
            return 0
        event = {"Records": [lambda_record(r, arn) for r in records]}
        sequences = [str(r["dynamodb"]["SequenceNumber"]) for r in records]
        try:
            answer = self.handler(event, self.context)
        except Exception as error:
            self._failed(state, event, sequences[-1], f"the handler raised {type(error).__name__}")
            return 0
        failures = [str(f["itemIdentifier"]) for f in (answer or {}).get("batchItemFailures", [])]
        if not failures:
            state.after, state.tries = sequences[-1], 0
            return len(records)
        lowest = min(failures, key=int)
        handled = sequences[: sequences.index(lowest)] if lowest in sequences else []
        if handled:  # progress: resume at the failed record, with a fresh count of tries
            state.after, state.tries = handled[-1], 0
        else:
            self._failed(state, event, sequences[-1], f"record {lowest} failed")
        return len(handled)

    def _failed(self, state: _Shard, event: dict[str, Any], last: str, why: str) -> None:
        state.tries += 1
        if state.tries > self.max_retries:
            logger.error("stream batch given up after %d tries: %s", state.tries, why)
            self.given_up.append(event)
            state.after, state.tries = last, 0
        else:
            logger.warning("stream batch failed (try %d): %s", state.tries, why)

    # -- background ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"stream:{self.table}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        wait = self.interval_s
        while not self._stop.is_set():
            try:
                busy = self.poll_once() > 0
            except Exception as error:  # moto restarting, the table not there yet: try again
                logger.warning("stream poll failed: %s", type(error).__name__)
                busy = False
            if busy:
                wait = self.interval_s
            else:
                self._stop.wait(wait)
                wait = min(wait * 2, max(self.idle_max_s, self.interval_s))
