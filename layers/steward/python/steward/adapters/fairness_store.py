"""Fairness counters, feedback join items and report summaries in DynamoDB (``fairness_table``).

Items (pk / sk, all strings):

* ``counts#<model>#<version>`` / ``<window>#<group>``: the six outcome cells of one group in one
  window as numbers ``p<pred>_l<label|u>`` (``u`` = label not known yet). Aggregates only.
* ``join#<tenant>#<request id>`` / ``join``: the pending feedback join (window, groups and
  predictions of the rows), ``expires_at`` TTL. Tenant in the key: another tenant's request id
  simply does not exist.
* ``done#<tenant>#<request id>`` / ``done``: a tombstone without the group, so a second feedback
  is told apart (409) from an unknown id (404); same TTL.
* ``report#<model>#<version>`` / ``latest``: the summary of the latest fairness report.

Recording and joining are single transactions: counts and join items never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_attr
from steward.errors import FeedbackDuplicate, FeedbackNotFound, InvalidInput
from steward.fairness.counters import FairnessCounters
from steward.fairness.monitor import Outcome, PendingJoin

CELL_ATTRS = {
    (p, label): f"p{p}_l{'u' if label is None else label}" for p in (0, 1) for label in (1, 0, None)
}


def counts_pk(model: str, version: str) -> str:
    return f"counts#{model}#{version}"


def join_key(tenant_id: str, request_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"join#{tenant_id}#{request_id}"}, "sk": {"S": "join"}}


def done_key(tenant_id: str, request_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"done#{tenant_id}#{request_id}"}, "sk": {"S": "done"}}


def report_key(model: str, version: str) -> dict[str, Any]:
    return {"pk": {"S": f"report#{model}#{version}"}, "sk": {"S": "latest"}}


class DynamoFairnessStore(DynamoTable):
    # ------------------------------------------------------------------------ request path
    def record(self, join: PendingJoin) -> None:
        per_group: dict[str, Counter[tuple[int, int | None]]] = {}
        for outcome in join.outcomes:
            per_group.setdefault(outcome.group, Counter())[(outcome.prediction, None)] += 1
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **join_key(join.tenant_id, join.request_id),
                        "model": {"S": join.model},
                        "version": {"S": join.version},
                        "window": {"S": join.window},
                        "groups": to_attr([o.group for o in join.outcomes]),
                        "predictions": to_attr([o.prediction for o in join.outcomes]),
                        "expires_at": {"N": str(join.expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        items += [
            self._count_update(join, group, {CELL_ATTRS[cell]: n for cell, n in cells.items()})
            for group, cells in sorted(per_group.items())
        ]
        self.client.transact_write_items(TransactItems=items)

    def resolve(self, tenant_id: str, request_id: str, labels: Sequence[int]) -> PendingJoin:
        found = self.client.get_item(
            TableName=self._table, Key=join_key(tenant_id, request_id), ConsistentRead=True
        ).get("Item")
        if found is None:
            self._raise_missing(tenant_id, request_id)
        join = _join_from_item(tenant_id, request_id, from_item(found))
        if len(labels) != len(join.outcomes):
            raise InvalidInput(
                f"This prediction has {len(join.outcomes)} monitored row(s): send one label per row."
            )
        per_group: dict[str, Counter[str]] = {}
        for outcome, label in zip(join.outcomes, labels, strict=True):
            cells = per_group.setdefault(outcome.group, Counter())
            cells[CELL_ATTRS[(outcome.prediction, None)]] -= 1
            cells[CELL_ATTRS[(outcome.prediction, label)]] += 1
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": join_key(tenant_id, request_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**done_key(tenant_id, request_id), "expires_at": {"N": str(join.expires_at)}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        for group, cells in sorted(per_group.items()):
            decrements = {attr: -n for attr, n in cells.items() if n < 0}
            guard = " AND ".join(f"#{attr} >= :need_{attr}" for attr in decrements)
            update = self._count_update(join, group, {a: n for a, n in cells.items() if n})
            update["Update"]["ConditionExpression"] = guard
            for attr, need in decrements.items():
                update["Update"]["ExpressionAttributeNames"][f"#{attr}"] = attr
                update["Update"]["ExpressionAttributeValues"][f":need_{attr}"] = {"N": str(need)}
            items.append(update)
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            # A concurrent feedback for the same request won the race (join gone, tombstone set).
            raise FeedbackDuplicate() from None
        return join

    def _raise_missing(self, tenant_id: str, request_id: str) -> None:
        done = self.client.get_item(
            TableName=self._table, Key=done_key(tenant_id, request_id), ConsistentRead=True
        ).get("Item")
        if done is not None:
            raise FeedbackDuplicate()
        raise FeedbackNotFound()

    def _count_update(self, join: PendingJoin, group: str, deltas: Mapping[str, int]) -> dict[str, Any]:
        names = {f"#{attr}": attr for attr in deltas}
        values = {f":d_{attr}": {"N": str(n)} for attr, n in deltas.items()}
        adds = ", ".join(f"#{attr} :d_{attr}" for attr in deltas)
        return {
            "Update": {
                "TableName": self._table,
                "Key": {
                    "pk": {"S": counts_pk(join.model, join.version)},
                    "sk": {"S": f"{join.window}#{group}"},
                },
                "UpdateExpression": f"ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    # ------------------------------------------------------------------------ report side
    def counters(self, model: str, version: str) -> dict[str, FairnessCounters]:
        windows: dict[str, FairnessCounters] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": counts_pk(model, version)}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                data = from_item(item)
                window, _, group = str(data["sk"]).partition("#")
                counters = windows.setdefault(window, FairnessCounters())
                for (prediction, label), attr in CELL_ATTRS.items():
                    n = int(data.get(attr) or 0)
                    if n > 0:
                        counters.add(group, prediction, label, n)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return windows

    def put_latest_report(self, model: str, version: str, summary: Mapping[str, Any]) -> None:
        self.client.put_item(
            TableName=self._table,
            Item={**report_key(model, version), "summary": {"S": json.dumps(summary, allow_nan=False)}},
        )

    def latest_report(self, model: str, version: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self._table, Key=report_key(model, version)).get("Item")
        if item is None:
            return None
        summary = json.loads(item["summary"]["S"])
        return summary if isinstance(summary, dict) else None


def _join_from_item(tenant_id: str, request_id: str, data: Mapping[str, Any]) -> PendingJoin:
    groups = [str(g) for g in data.get("groups") or []]
    predictions = [int(p) for p in data.get("predictions") or []]
    return PendingJoin(
        tenant_id=tenant_id,
        request_id=request_id,
        model=str(data["model"]),
        version=str(data["version"]),
        window=str(data["window"]),
        outcomes=tuple(Outcome(g, p) for g, p in zip(groups, predictions, strict=True)),
        expires_at=int(data.get("expires_at") or 0),
    )
