"""The local event-source stand-in (`scripts.local.stream_poller`) keeps Lambda's contract for
DynamoDB streams: the event shape, resuming from the lowest failed record of a partial batch
response, retrying a batch whose handler raised, and giving a batch up after its retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scripts.local.stream_poller import LambdaContext, StreamPoller

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2030"


class FakeStreams:
    """``describe_table`` and the three stream calls moto answers, over one shard."""

    def __init__(self, n: int) -> None:
        self.records = [
            {
                "eventID": f"e{i}",
                "eventName": "INSERT",
                "eventVersion": "1.0",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": datetime(2030, 1, 1, tzinfo=UTC),
                    "Keys": {"pk": {"S": "a"}, "sk": {"S": str(i)}},
                    "NewImage": {"pk": {"S": "a"}, "sk": {"S": str(i)}},
                    "SequenceNumber": str(100 + i),
                    "SizeBytes": 10,
                    "StreamViewType": "NEW_IMAGE",
                },
            }
            for i in range(n)
        ]

    def describe_table(self, TableName: str) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": ARN}}

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        start = 0
        if kwargs["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":
            start = int(kwargs["SequenceNumber"]) - 100 + 1
        return {"ShardIterator": str(start)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        start = int(ShardIterator)
        return {"Records": self.records[start : start + Limit]}


def poller(streams: FakeStreams, handler: Any, **kwargs: Any) -> StreamPoller:
    return StreamPoller(streams, streams, "t", handler, context=LambdaContext("f"), batch_size=4, **kwargs)


def test_batches_arrive_in_lambdas_event_shape_in_order() -> None:
    events: list[dict[str, Any]] = []
    local = poller(FakeStreams(6), lambda event, context: events.append(event))
    assert local.poll_once() == 4 and local.poll_once() == 2 and local.poll_once() == 0
    record = events[0]["Records"][0]
    assert record["eventSourceARN"] == ARN
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1893456000  # epoch seconds
    assert [r["dynamodb"]["SequenceNumber"] for e in events for r in e["Records"]] == [
        str(100 + i) for i in range(6)
    ]


def test_a_partial_failure_resumes_from_the_lowest_failed_record() -> None:
    seen: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        seen.append(sequences)
        failed = ["103", "102"] if len(seen) == 1 else []
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    local = poller(FakeStreams(5), handler)
    assert local.poll_once() == 2  # 100 and 101 handled
    assert local.poll_once() == 3
    assert seen == [["100", "101", "102", "103"], ["102", "103", "104"]]


@pytest.mark.parametrize("how", ["raises", "first record fails"])
def test_a_failing_batch_is_retried_then_given_up(how: str) -> None:
    calls = 0

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if how == "raises":
            raise RuntimeError("archive down")
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}

    local = poller(FakeStreams(4), handler, max_retries=2)
    assert [local.poll_once() for _ in range(3)] == [0, 0, 0]
    assert calls == 3 and len(local.given_up) == 1  # the first try and two retries
    assert local.poll_once() == 0 and calls == 3  # the shard moved past it
