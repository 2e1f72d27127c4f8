"""API key records in DynamoDB (``ResourceNames.api_keys_table``)."""

from __future__ import annotations

import time
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.auth.keys import DEFAULT_POLICY_VERSION, KeyRecord


class KeyNotFoundError(LookupError):
    pass


def record_to_item(record: KeyRecord) -> dict[str, Any]:
    return to_item(
        {
            "key_id": record.key_id,
            "tenant_id": record.tenant_id,
            "secret_hash": record.secret_hash,
            "models": list(record.models),
            "scopes": list(record.scopes),
            "expires_at": record.expires_at,
            "revoked": record.revoked,
            "created_at": record.created_at,
            "name": record.name,
            "policy_version": record.policy_version,
        }
    )


def item_to_record(item: dict[str, Any]) -> KeyRecord:
    data = from_item(item)
    expires = data.get("expires_at")
    return KeyRecord(
        key_id=str(data["key_id"]),
        tenant_id=str(data["tenant_id"]),
        secret_hash=str(data["secret_hash"]),
        models=tuple(str(m) for m in data.get("models") or ()),
        scopes=tuple(str(s) for s in data.get("scopes") or ()),
        expires_at=int(expires) if expires is not None else None,
        revoked=bool(data.get("revoked", False)),
        created_at=int(data.get("created_at") or 0),
        name=str(data.get("name") or ""),
        policy_version=str(data.get("policy_version") or DEFAULT_POLICY_VERSION),
    )


class DynamoKeyStore(DynamoTable):
    def get(self, key_id: str) -> KeyRecord | None:
        response = self.client.get_item(TableName=self._table, Key={"key_id": {"S": key_id}})
        item = response.get("Item")
        return item_to_record(item) if item else None

    def put(self, record: KeyRecord) -> None:
        self.client.put_item(
            TableName=self._table,
            Item=record_to_item(record),
            ConditionExpression="attribute_not_exists(key_id)",
        )

    def revoke(self, key_id: str, *, now: float | None = None) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self._table,
                Key={"key_id": {"S": key_id}},
                UpdateExpression="SET revoked = :t, revoked_at = :now",
                ConditionExpression="attribute_exists(key_id)",
                ExpressionAttributeValues={
                    ":t": {"BOOL": True},
                    ":now": {"N": str(int(now if now is not None else time.time()))},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise KeyNotFoundError(key_id) from None
            raise
