"""Fairness counters, feedback join items, declared group labels and report summaries in
DynamoDB (``fairness_table``). A group is only ever stored as its token (keyed hash, see
`steward.fairness.groups`), never as the value a caller sent.

Items (pk / sk, all strings):

* ``counts#<model>#<version>`` / ``<window>#<token>#<tenant>``: the six outcome cells of one
  tenant's group in one window as numbers ``p<pred>_l<label|u>`` (``u`` = label not known yet).
  Aggregates only. One partition per model version (the report reads it in one query), one item
  per tenant and group (tenants never share a counter).
* ``counts#<model>#<version>`` / ``<window>#unknown#<tenant>``: ``refused``, how many undeclared
  group values were refused (the values are not stored).
* ``join#<tenant>#<request id>`` / ``join``: the pending feedback join of one prediction: model,
  version, window, the rows' ``predictions``, their group tokens (``groups``, only when the
  request sent a group), their positive-class ``scores`` and the decision ``threshold`` (only for
  classifiers with class probabilities; quality monitoring), ``expires_at`` TTL. Never an input.
  Tenant in the key: another tenant's request id simply does not exist.
* ``done#<tenant>#<request id>`` / ``done``: a tombstone holding the model only, so a second
  feedback is told apart (409) from an unknown id (404), for entitled keys; same TTL.
* ``report#<model>#<version>`` / ``latest#<tenant>``: the summary of the tenant's latest report.
* ``groups#<tenant>`` / ``labels``: the labels the tenant's admin declared (``labels``), the label
  of every token ever declared (``names``), ``revision``, ``updated_at``, ``updated_by``.
* ``quality#<model>#<version>`` / ``<tenant>#<window>#<threshold>``: quality counters, see
  `steward.adapters.quality_store`.

Recording is one write (a put of the join item, or with groups one transaction with the counts)
and joining one transaction (join deleted, tombstone put, group counts moved, quality counters
added): counts and join items never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_attr
from steward.adapters.quality_store import quality_update
from steward.errors import FeedbackDuplicate
from steward.fairness.counters import FairnessCounters
from steward.fairness.groups import GroupLabels, is_token
from steward.fairness.monitor import LabelsChanged, Outcome, PendingJoin, TenantCounters
from steward.quality.classification import ClassifierQuality

CELL_ATTRS = {
    (p, label): f"p{p}_l{'u' if label is None else label}" for p in (0, 1) for label in (1, 0, None)
}
UNKNOWN = "unknown"
REFUSED_ATTR = "refused"


def counts_pk(model: str, version: str) -> str:
    return f"counts#{model}#{version}"


def join_key(tenant_id: str, request_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"join#{tenant_id}#{request_id}"}, "sk": {"S": "join"}}


def done_key(tenant_id: str, request_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"done#{tenant_id}#{request_id}"}, "sk": {"S": "done"}}


def counts_sk(window: str, token: str, tenant_id: str) -> str:
    return f"{window}#{token}#{tenant_id}"


def report_key(tenant_id: str, model: str, version: str) -> dict[str, Any]:
    return {"pk": {"S": f"report#{model}#{version}"}, "sk": {"S": f"latest#{tenant_id}"}}


def labels_key(tenant_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"groups#{tenant_id}"}, "sk": {"S": "labels"}}


class DynamoFairnessStore(DynamoTable):
    # ------------------------------------------------------------------------ request path
    def record(self, join: PendingJoin) -> None:
        per_group: dict[str, Counter[tuple[int, int | None]]] = {}
        for outcome in join.outcomes:
            if outcome.group is not None:
                per_group.setdefault(outcome.group, Counter())[(outcome.prediction, None)] += 1
        item: dict[str, Any] = {
            **join_key(join.tenant_id, join.request_id),
            "model": {"S": join.model},
            "version": {"S": join.version},
            "window": {"S": join.window},
            "predictions": to_attr([o.prediction for o in join.outcomes]),
            "expires_at": {"N": str(join.expires_at)},
        }
        if join.grouped:
            item["groups"] = to_attr([o.group for o in join.outcomes])
        if join.scored:
            item["scores"] = to_attr([float(o.score or 0.0) for o in join.outcomes])
            item["threshold"] = {"S": repr(join.threshold)}
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        if not per_group:  # no group: the join item alone, one write
            self.client.put_item(**put)
            return
        items: list[dict[str, Any]] = [{"Put": put}]
        items += [
            self._count_update(join, group, {CELL_ATTRS[cell]: n for cell, n in cells.items()})
            for group, cells in sorted(per_group.items())
        ]
        self.client.transact_write_items(TransactItems=items)

    def count_unknown(self, tenant_id: str, model: str, version: str, window: str, n: int) -> None:
        self.client.update_item(
            TableName=self._table,
            Key={"pk": {"S": counts_pk(model, version)}, "sk": {"S": counts_sk(window, UNKNOWN, tenant_id)}},
            UpdateExpression="ADD #n :n",
            ExpressionAttributeNames={"#n": REFUSED_ATTR},
            ExpressionAttributeValues={":n": {"N": str(n)}},
        )

    def pending(self, tenant_id: str, request_id: str) -> PendingJoin | None:
        found = self.client.get_item(
            TableName=self._table, Key=join_key(tenant_id, request_id), ConsistentRead=True
        ).get("Item")
        return None if found is None else _join_from_item(tenant_id, request_id, from_item(found))

    def settled_model(self, tenant_id: str, request_id: str) -> str | None:
        done = self.client.get_item(
            TableName=self._table, Key=done_key(tenant_id, request_id), ConsistentRead=True
        ).get("Item")
        return None if done is None else str(from_item(done).get("model") or "")

    def resolve(self, join: PendingJoin, labels: Sequence[int], quality: ClassifierQuality | None) -> None:
        per_group: dict[str, Counter[str]] = {}
        for outcome, label in zip(join.outcomes, labels, strict=True):
            if outcome.group is None:
                continue
            cells = per_group.setdefault(outcome.group, Counter())
            cells[CELL_ATTRS[(outcome.prediction, None)]] -= 1
            cells[CELL_ATTRS[(outcome.prediction, label)]] += 1
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": join_key(join.tenant_id, join.request_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **done_key(join.tenant_id, join.request_id),
                        "model": {"S": join.model},
                        "expires_at": {"N": str(join.expires_at)},
                    },
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
        if quality is not None and quality.n:
            items.append(
                quality_update(self._table, join.model, join.version, join.tenant_id, join.window, quality)
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            # A concurrent feedback for the same request won the race (join gone, tombstone set).
            raise FeedbackDuplicate() from None

    def _count_update(self, join: PendingJoin, group: str, deltas: Mapping[str, int]) -> dict[str, Any]:
        names = {f"#{attr}": attr for attr in deltas}
        values = {f":d_{attr}": {"N": str(n)} for attr, n in deltas.items()}
        adds = ", ".join(f"#{attr} :d_{attr}" for attr in deltas)
        return {
            "Update": {
                "TableName": self._table,
                "Key": {
                    "pk": {"S": counts_pk(join.model, join.version)},
                    "sk": {"S": counts_sk(join.window, group, join.tenant_id)},
                },
                "UpdateExpression": f"ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    # ------------------------------------------------------------------------ report side
    def counters(self, model: str, version: str) -> dict[str, TenantCounters]:
        tenants: dict[str, TenantCounters] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": counts_pk(model, version)}},
            "ConsistentRead": True,
        }
        for page in self._pages("query", kwargs):
            for item in page.get("Items", []):
                data = from_item(item)
                window, _, rest = str(data["sk"]).partition("#")
                token, _, tenant_id = rest.partition("#")
                if not tenant_id or not (token == UNKNOWN or is_token(token)):
                    continue  # written before groups were hashed per tenant: not reported
                counts = tenants.setdefault(tenant_id, TenantCounters())
                if token == UNKNOWN:
                    counts.unknown[window] = counts.unknown.get(window, 0) + int(data.get(REFUSED_ATTR) or 0)
                    continue
                counters = counts.windows.setdefault(window, FairnessCounters())
                for (prediction, label), attr in CELL_ATTRS.items():
                    n = int(data.get(attr) or 0)
                    if n > 0:
                        counters.add(token, prediction, label, n)
        return tenants

    def put_latest_report(self, tenant_id: str, model: str, version: str, summary: Mapping[str, Any]) -> None:
        self.client.put_item(
            TableName=self._table,
            Item={
                **report_key(tenant_id, model, version),
                "summary": {"S": json.dumps(summary, allow_nan=False)},
            },
        )

    def latest_report(self, tenant_id: str, model: str, version: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self._table, Key=report_key(tenant_id, model, version)).get(
            "Item"
        )
        if item is None:
            return None
        summary = json.loads(item["summary"]["S"])
        return summary if isinstance(summary, dict) else None

    # ------------------------------------------------------------------------ declared labels
    def group_labels(self, tenant_id: str) -> GroupLabels | None:
        item = self.client.get_item(
            TableName=self._table, Key=labels_key(tenant_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        data = from_item(item)
        return GroupLabels(
            tenant_id=tenant_id,
            labels=tuple(str(label) for label in data.get("labels") or []),
            names={str(k): str(v) for k, v in (data.get("names") or {}).items()},
            revision=int(data.get("revision") or 0),
            updated_at=str(data.get("updated_at") or ""),
            updated_by=str(data.get("updated_by") or ""),
        )

    def put_group_labels(self, labels: GroupLabels) -> None:
        previous = labels.revision - 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if previous == 0
            else {
                "ConditionExpression": "revision = :previous",
                "ExpressionAttributeValues": {":previous": {"N": str(previous)}},
            }
        )
        item = {
            **labels_key(labels.tenant_id),
            "labels": to_attr(list(labels.labels)),
            "names": to_attr(dict(labels.names)),
            "revision": {"N": str(labels.revision)},
            "updated_at": {"S": labels.updated_at},
            "updated_by": {"S": labels.updated_by},
        }
        try:
            self.client.put_item(TableName=self._table, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            raise LabelsChanged() from None


def _join_from_item(tenant_id: str, request_id: str, data: Mapping[str, Any]) -> PendingJoin:
    predictions = [int(p) for p in data.get("predictions") or []]
    raw_groups = data.get("groups")
    groups = [str(g) for g in raw_groups] if raw_groups else [None] * len(predictions)
    raw_scores = data.get("scores")
    threshold = data.get("threshold")
    scored = bool(raw_scores) and isinstance(threshold, str)
    scores = [float(s) for s in raw_scores] if scored and raw_scores else [None] * len(predictions)
    return PendingJoin(
        tenant_id=tenant_id,
        request_id=request_id,
        model=str(data["model"]),
        version=str(data["version"]),
        window=str(data["window"]),
        outcomes=tuple(Outcome(g, p, s) for g, p, s in zip(groups, predictions, scores, strict=True)),
        expires_at=int(data.get("expires_at") or 0),
        threshold=float(threshold) if scored and isinstance(threshold, str) else None,
    )
