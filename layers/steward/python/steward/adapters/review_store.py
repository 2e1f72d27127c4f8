"""The review queue in DynamoDB (``ResourceNames.reviews_table``): pk ``tenant_id``, sk one of

- ``rv_<id>``: an item's metadata (`steward.review.model.ReviewItem`), with ``queue``
  (``<tenant>#<state>``) and ``queued_at`` for the state index, ``review_id`` for the id index;
- ``rv_<id>#text``: its sealed texts (binary; never in an index);
- ``mark#<mac>``: a text's mark (which item holds it, what became of it).

Everything expires with ``expires_at`` (the table's TTL attribute; reads ignore what has expired
but is not deleted yet). Creating an item is one transaction (metadata, texts and marks, each mark
only where none is live); a claim is one conditional update; a resolution one transaction (the
update, conditional on the resolver's claim, and the marks). So concurrent writers are decided by
DynamoDB, never by a read before a write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.resources import REVIEWS_ID_INDEX, REVIEWS_QUEUE_INDEX
from steward.review.model import Decision, Mark, MarkStatus, ReviewItem, State
from steward.review.ports import MarkTaken

TEXT_SUFFIX = "#text"
MARK_PREFIX = "mark#"
_BATCH_GET = 100


def queue_of(tenant_id: str, state: State) -> str:
    return f"{tenant_id}#{state.value}"


def item_to_record(item: ReviewItem) -> dict[str, Any]:
    return to_item(
        {
            "tenant_id": item.tenant_id,
            "sk": item.review_id,
            "review_id": item.review_id,
            "queue": queue_of(item.tenant_id, item.state),
            "queued_at": item.queued_at,
            "state": item.state.value,
            "kind": item.kind,
            "rule": item.rule,
            "direction": item.direction,
            "hold": item.hold,
            "model": item.model,
            "request_id": item.request_id,
            "key_id": item.key_id,
            "policy": item.policy,
            "created_at": item.created_at,
            "expires_at": item.expires_at,
            "texts": item.texts,
            "texts_omitted": item.texts_omitted,
            "macs": list(item.macs),
            "claimed_by": item.claimed_by,
            "claim_until": item.claim_until,
            "decision": item.decision.value if item.decision is not None else "",
            "suspend_key": item.suspend_key,
            "resolved_by": item.resolved_by,
            "resolved_at": item.resolved_at,
        }
    )


def record_to_item(record: dict[str, Any]) -> ReviewItem:
    data = from_item(record)
    decision = str(data.get("decision") or "")
    return ReviewItem(
        review_id=str(data["review_id"]),
        tenant_id=str(data["tenant_id"]),
        kind=str(data["kind"]),
        rule=str(data["rule"]),
        direction=str(data["direction"]),
        hold=bool(data.get("hold")),
        model=str(data.get("model") or ""),
        request_id=str(data.get("request_id") or ""),
        key_id=str(data.get("key_id") or ""),
        policy=str(data.get("policy") or ""),
        created_at=int(data["created_at"]),
        expires_at=int(data["expires_at"]),
        queued_at=str(data["queued_at"]),
        texts=int(data.get("texts") or 0),
        texts_omitted=int(data.get("texts_omitted") or 0),
        macs=tuple(str(m) for m in data.get("macs") or ()),
        state=State(str(data["state"])),
        claimed_by=str(data.get("claimed_by") or ""),
        claim_until=int(data.get("claim_until") or 0),
        decision=Decision(decision) if decision else None,
        suspend_key=bool(data.get("suspend_key")),
        resolved_by=str(data.get("resolved_by") or ""),
        resolved_at=int(data.get("resolved_at") or 0),
    )


def _mark_record(tenant_id: str, mark: Mark) -> dict[str, Any]:
    return to_item(
        {
            "tenant_id": tenant_id,
            "sk": MARK_PREFIX + mark.mac,
            "held_by": mark.review_id,
            "status": mark.status.value,
            "expires_at": mark.expires_at,
        }
    )


def _record_to_mark(record: dict[str, Any]) -> Mark:
    data = from_item(record)
    return Mark(
        mac=str(data["sk"]).removeprefix(MARK_PREFIX),
        review_id=str(data["held_by"]),
        status=MarkStatus(str(data["status"])),
        expires_at=int(data["expires_at"]),
    )


class DynamoReviewStore(DynamoTable):
    def _key(self, tenant_id: str, sk: str) -> dict[str, Any]:
        return {"tenant_id": {"S": tenant_id}, "sk": {"S": sk}}

    def create(self, item: ReviewItem, sealed: bytes, marks: Sequence[Mark], *, now: int) -> None:
        from botocore.exceptions import ClientError

        new = "attribute_not_exists(sk)"
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": item_to_record(item), "ConditionExpression": new}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **self._key(item.tenant_id, item.review_id + TEXT_SUFFIX),
                        "sealed": {"B": sealed},
                        "expires_at": {"N": str(item.expires_at)},
                    },
                    "ConditionExpression": new,
                }
            },
        ]
        for mark in marks:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _mark_record(item.tenant_id, mark),
                        # A mark only where the text has none, or only an expired one.
                        "ConditionExpression": "attribute_not_exists(sk) OR expires_at <= :now",
                        "ExpressionAttributeValues": {":now": {"N": str(now)}},
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise MarkTaken() from None
            raise

    def marks(self, tenant_id: str, macs: Sequence[str]) -> list[Mark]:
        found: list[Mark] = []
        unique = list(dict.fromkeys(macs))
        for start in range(0, len(unique), _BATCH_GET):
            keys = [self._key(tenant_id, MARK_PREFIX + mac) for mac in unique[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                found += [_record_to_mark(r) for r in answer.get("Responses", {}).get(self._table, [])]
                request = answer.get("UnprocessedKeys") or {}
        return found

    def get(self, tenant_id: str, review_id: str) -> ReviewItem | None:
        answer = self.client.get_item(
            TableName=self._table, Key=self._key(tenant_id, review_id), ConsistentRead=True
        )
        record = answer.get("Item")
        return record_to_item(record) if record and "review_id" in record else None

    def find(self, review_id: str) -> ReviewItem | None:
        answer = self.client.query(
            TableName=self._table,
            IndexName=REVIEWS_ID_INDEX,
            KeyConditionExpression="review_id = :id",
            ExpressionAttributeValues={":id": {"S": review_id}},
            Limit=2,
        )
        records = answer.get("Items", [])
        if len(records) != 1:  # ids are random: two would be a collision, read as none
            return None
        return self.get(str(records[0]["tenant_id"]["S"]), review_id)

    def sealed(self, tenant_id: str, review_id: str) -> bytes | None:
        answer = self.client.get_item(
            TableName=self._table, Key=self._key(tenant_id, review_id + TEXT_SUFFIX), ConsistentRead=True
        )
        record = answer.get("Item")
        return bytes(record["sealed"]["B"]) if record and "sealed" in record else None

    def queue(
        self, tenant_id: str, state: State, *, after: str | None, newest_first: bool, page: int
    ) -> Iterator[ReviewItem]:
        condition = "#q = :q"
        values: dict[str, Any] = {":q": {"S": queue_of(tenant_id, state)}}
        if after is not None:
            condition += f" AND #at {'<' if newest_first else '>'} :after"
            values[":after"] = {"S": after}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": REVIEWS_QUEUE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#q": "queue", **({"#at": "queued_at"} if after else {})},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "Limit": page,
        }
        for answer in self._pages("query", request):
            for record in answer.get("Items", []):
                yield record_to_item(record)

    def every_queue(self, states: Sequence[State]) -> Iterator[ReviewItem]:
        names = {f":s{i}": {"S": s.value} for i, s in enumerate(states)}
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": f"#state IN ({', '.join(names)})",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": names,
        }
        for answer in self._pages("scan", request):
            for record in answer.get("Items", []):
                yield record_to_item(record)

    def claim(self, tenant_id: str, review_id: str, *, by: str, until: int, now: int) -> bool:
        try:
            self.client.update_item(
                TableName=self._table,
                Key=self._key(tenant_id, review_id),
                UpdateExpression="SET #state = :claimed, #q = :queue, claimed_by = :by, claim_until = :until",
                ConditionExpression=(
                    "attribute_exists(review_id) AND expires_at > :now AND (#state = :open OR "
                    "(#state = :claimed AND (claimed_by = :by OR claim_until <= :now)))"
                ),
                ExpressionAttributeNames={"#state": "state", "#q": "queue"},
                ExpressionAttributeValues={
                    ":claimed": {"S": State.CLAIMED.value},
                    ":open": {"S": State.OPEN.value},
                    ":queue": {"S": queue_of(tenant_id, State.CLAIMED)},
                    ":by": {"S": by},
                    ":until": {"N": str(until)},
                    ":now": {"N": str(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def resolve(self, item: ReviewItem, marks: Sequence[Mark], *, now: int) -> bool:
        from botocore.exceptions import ClientError

        assert item.decision is not None and item.state is State.RESOLVED
        update = {
            "Update": {
                "TableName": self._table,
                "Key": self._key(item.tenant_id, item.review_id),
                "UpdateExpression": (
                    "SET #state = :resolved, #q = :queue, queued_at = :at, decision = :decision, "
                    "suspend_key = :suspend, resolved_by = :by, resolved_at = :now"
                ),
                "ConditionExpression": (
                    "attribute_exists(review_id) AND expires_at > :now AND #state = :claimed "
                    "AND claimed_by = :by"
                ),
                "ExpressionAttributeNames": {"#state": "state", "#q": "queue"},
                "ExpressionAttributeValues": {
                    ":resolved": {"S": State.RESOLVED.value},
                    ":claimed": {"S": State.CLAIMED.value},
                    ":queue": {"S": queue_of(item.tenant_id, State.RESOLVED)},
                    ":at": {"S": item.queued_at},
                    ":decision": {"S": item.decision.value},
                    ":suspend": {"BOOL": item.suspend_key},
                    ":by": {"S": item.resolved_by},
                    ":now": {"N": str(now)},
                },
            }
        }
        puts = [{"Put": {"TableName": self._table, "Item": _mark_record(item.tenant_id, m)}} for m in marks]
        try:
            self.client.transact_write_items(TransactItems=[update, *puts])
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True
