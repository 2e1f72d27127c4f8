"""The monitoring reads' BatchGetItem: chunks of 100, unprocessed keys asked again, never a partial sum."""

from __future__ import annotations

from typing import Any

import pytest
from steward.adapters import aws
from steward.adapters.aws import DynamoTable
from steward.errors import MonitoringUnavailable


class Client:
    def __init__(self, throttle_rounds: int) -> None:
        self.calls: list[int] = []
        self.throttle_rounds = throttle_rounds

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        keys = RequestItems["t"]["Keys"]
        self.calls.append(len(keys))
        if self.throttle_rounds:
            self.throttle_rounds -= 1
            half = len(keys) // 2
            return {"Responses": {"t": keys[:half]}, "UnprocessedKeys": {"t": {"Keys": keys[half:]}}}
        return {"Responses": {"t": keys}}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.time, "sleep", lambda _s: None)


def test_keys_are_read_in_chunks_and_unprocessed_ones_again() -> None:
    client = Client(throttle_rounds=2)
    keys = [{"pk": {"S": str(i)}} for i in range(250)]
    items = DynamoTable("t", region="us-east-1", client=client)._batch_get(keys)
    assert sorted(i["pk"]["S"] for i in items) == sorted(k["pk"]["S"] for k in keys)
    assert max(client.calls) == 100 and client.calls[:3] == [100, 50, 25]


def test_keys_still_unprocessed_after_every_retry_refuse_rather_than_undercount() -> None:
    client = Client(throttle_rounds=1000)
    with pytest.raises(MonitoringUnavailable):
        DynamoTable("t", region="us-east-1", client=client)._batch_get(
            [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]
        )
