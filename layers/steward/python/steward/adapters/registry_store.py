"""Model registry items in DynamoDB (``ResourceNames.models_table``, pk ``model``, sk ``version``).

Per model: the ``#model`` entry (default, route plan, previous default ...), one item per version,
and its version history as ``#history#<written at, epoch ms, 13 digits>#<random>`` items (event,
version, actor, reason code, routing numbers; no free text). Registry reads skip the history:
version names never start with ``#``, and ``#history#`` sorts before ``#model``, so
``version >= "#model"`` is exactly the entry and the versions.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.catalog.history import HISTORY_LIMIT, VersionEvent
from steward.catalog.registry import (
    MODEL_ITEM_SK,
    ModelDocument,
    ModelEntry,
    ModelVersion,
    Target,
)
from steward.catalog.routing_plan import RoutePlan
from steward.errors import ModelChanged

HISTORY_PREFIX = "#history#"


def entry_to_item(entry: ModelEntry) -> dict[str, Any]:
    return to_item(
        {
            "model": entry.model,
            "version": MODEL_ITEM_SK,
            "default_version": entry.default_version,
            "enabled": entry.enabled,
            "owner": entry.owner,
            "description": entry.description,
            "created_at": entry.created_at,
            "routing": entry.routing.to_dict(),
            "previous_default": entry.previous_default,
            "revision": entry.revision,
        }
    )


def version_to_item(version: ModelVersion) -> dict[str, Any]:
    return to_item(
        {
            "model": version.model,
            "version": version.version,
            "approval": version.approval,
            "target": version.target.to_dict(),
            "backend_model": version.backend_model,
            "backend_version": version.backend_version,
            "artifact_digest": version.artifact_digest,
            "task": version.task,
            "card": dict(version.card),
            "inputs": [dict(i) for i in version.inputs],
            "outputs": [dict(o) for o in version.outputs],
            "created_at": version.created_at,
            "max_batch_size": version.max_batch_size,
            **({"drift_profile": dict(version.drift_profile)} if version.drift_profile else {}),
        }
    )


def _entry(data: dict[str, Any]) -> ModelEntry:
    return ModelEntry(
        model=str(data["model"]),
        default_version=str(data.get("default_version") or ""),
        enabled=bool(data.get("enabled", False)),
        owner=str(data.get("owner") or ""),
        description=str(data.get("description") or ""),
        created_at=int(data.get("created_at") or 0),
        routing=RoutePlan.from_dict(data.get("routing")),
        previous_default=str(data.get("previous_default") or ""),
        revision=int(data.get("revision") or 0),
    )


def _version(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        model=str(data["model"]),
        version=str(data["version"]),
        approval=str(data.get("approval") or "pending"),
        target=Target.from_dict(data.get("target") or {}),
        backend_model=str(data.get("backend_model") or data["model"]),
        backend_version=str(data.get("backend_version") or data["version"]),
        artifact_digest=str(data.get("artifact_digest") or ""),
        task=str(data.get("task") or ""),
        card=dict(data.get("card") or {}),
        inputs=tuple(data.get("inputs") or ()),
        outputs=tuple(data.get("outputs") or ()),
        created_at=int(data.get("created_at") or 0),
        max_batch_size=int(data.get("max_batch_size") or 0),
        drift_profile=data.get("drift_profile") or None,
    )


def document_from_items(items: list[dict[str, Any]]) -> ModelDocument:
    entry: ModelEntry | None = None
    versions: dict[str, ModelVersion] = {}
    for item in items:
        data = from_item(item)
        if data.get("version") == MODEL_ITEM_SK:
            entry = _entry(data)
        elif str(data.get("version", "")).startswith(HISTORY_PREFIX):
            continue  # lifecycle events are read apart (`history`)
        else:
            try:
                versions[str(data["version"])] = _version(data)
            except (KeyError, ValueError):
                continue  # a malformed version item is simply not routable
    return ModelDocument(entry=entry, versions=versions)


class DynamoRegistryStore(DynamoTable):
    def get_model(self, model: str) -> ModelDocument:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#m = :m AND #v >= :entry",
            "ExpressionAttributeNames": {"#m": "model", "#v": "version"},
            "ExpressionAttributeValues": {":m": {"S": model}, ":entry": {"S": MODEL_ITEM_SK}},
        }
        for page in self._pages("query", kwargs):
            items.extend(page.get("Items", []))
        return document_from_items(items)

    def list_models(self) -> list[ModelDocument]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        scan = {
            "TableName": self._table,
            "FilterExpression": "NOT begins_with(#v, :h)",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":h": {"S": HISTORY_PREFIX}},
        }
        for page in self._pages("scan", scan):
            for item in page.get("Items", []):
                grouped[item["model"]["S"]].append(item)
        return [document_from_items(items) for _, items in sorted(grouped.items())]

    def put_entry(self, entry: ModelEntry) -> None:
        """Conditional on the revision read (an entry from before revisions counts as 0)."""
        self.commit(entry=entry)

    def put_version(self, version: ModelVersion) -> None:
        self.commit(version=version)

    def commit(
        self,
        *,
        entry: ModelEntry | None = None,
        version: ModelVersion | None = None,
        event: VersionEvent | None = None,
    ) -> None:
        """One PutItem, or a transaction of the version, the entry (conditional on the revision
        read) and the history event: the registry and its history change together or not at all."""
        puts: list[dict[str, Any]] = []
        if version is not None:
            puts.append({"TableName": self._table, "Item": version_to_item(version)})
        if entry is not None:
            puts.append(self._entry_put(entry))
        if event is not None:
            model = entry.model if entry is not None else version.model if version is not None else ""
            puts.append({"TableName": self._table, "Item": _event_item(model, event)})
        if not puts:
            return
        try:
            if len(puts) == 1:
                self.client.put_item(**puts[0])
            else:
                self.client.transact_write_items(TransactItems=[{"Put": put} for put in puts])
        except self.client.exceptions.ConditionalCheckFailedException:
            raise ModelChanged() from None
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise ModelChanged() from None
            raise

    def _entry_put(self, entry: ModelEntry) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": entry_to_item(replace(entry, revision=entry.revision + 1)),
            "ConditionExpression": "attribute_not_exists(#rev) OR #rev = :rev",
            "ExpressionAttributeNames": {"#rev": "revision"},
            "ExpressionAttributeValues": {":rev": {"N": str(entry.revision)}},
        }

    def append_history(self, model: str, event: VersionEvent) -> None:
        self.client.put_item(TableName=self._table, Item=_event_item(model, event))

    def history(self, model: str, limit: int = HISTORY_LIMIT) -> list[VersionEvent]:
        page = self.client.query(
            TableName=self._table,
            KeyConditionExpression="#m = :m AND begins_with(#v, :h)",
            ExpressionAttributeNames={"#m": "model", "#v": "version"},
            ExpressionAttributeValues={":m": {"S": model}, ":h": {"S": HISTORY_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_event(from_item(item)) for item in page.get("Items", [])]


def _event_item(model: str, event: VersionEvent) -> dict[str, Any]:
    fields = {k: v for k, v in event.to_dict().items() if k != "version"}
    # Written-at in ms orders the events (``at`` is the event's own second); the suffix keeps two
    # writes in one millisecond apart.
    sk = f"{HISTORY_PREFIX}{time.time_ns() // 1_000_000:013d}#{uuid.uuid4().hex[:8]}"
    return to_item({**fields, "model": model, "version": sk, "event_version": event.version})


def _event(data: dict[str, Any]) -> VersionEvent:
    details = data.get("details")
    return VersionEvent(
        at=int(data.get("at") or 0),
        event=str(data.get("event") or ""),
        version=str(data.get("event_version") or ""),
        actor=str(data.get("actor") or ""),
        reason=str(data.get("reason") or ""),
        details=dict(details) if isinstance(details, dict) else {},
    )
