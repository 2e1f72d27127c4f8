"""API key records in DynamoDB (``ResourceNames.api_keys_table``; the tenant index lists a
tenant's keys). Rotation is one transaction: the successor and the old key's retirement land
together or not at all."""

from __future__ import annotations

import time
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.auth.keys import DEFAULT_POLICY_VERSION, KeyLimits, KeyRecord
from steward.resources import KEYS_TENANT_INDEX


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
            # Absent (not empty) when unset, so the rotation's condition can test for them.
            "rotated_from": record.rotated_from or None,
            "rotated_to": record.rotated_to or None,
            "revoked_at": record.revoked_at,
            "limit_rpm": record.limits.rpm,
            "limit_daily": record.limits.daily,
            "limit_monthly": record.limits.monthly,
        }
    )


#: The old key of a rotation: present, not revoked, not rotated (a concurrent rotation loses).
_STILL_ACTIVE = "attribute_exists(key_id) AND revoked = :no AND attribute_not_exists(rotated_to)"


def _count(value: Any) -> int | None:
    return int(value) if value is not None else None


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
        limits=KeyLimits(
            rpm=_count(data.get("limit_rpm")),
            daily=_count(data.get("limit_daily")),
            monthly=_count(data.get("limit_monthly")),
        ),
        rotated_from=str(data.get("rotated_from") or ""),
        rotated_to=str(data.get("rotated_to") or ""),
        revoked_at=_count(data.get("revoked_at")),
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

    def list_tenant(self, tenant_id: str) -> list[KeyRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": KEYS_TENANT_INDEX,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}},
        }
        return [item_to_record(item) for page in self._pages("query", request) for item in page["Items"]]

    def rotate(self, old: KeyRecord, successor: KeyRecord, *, old_expires_at: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": record_to_item(successor),
                            "ConditionExpression": "attribute_not_exists(key_id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"key_id": {"S": old.key_id}},
                            "UpdateExpression": "SET rotated_to = :to, expires_at = :exp",
                            "ConditionExpression": _STILL_ACTIVE,
                            "ExpressionAttributeValues": {
                                ":to": {"S": successor.key_id},
                                ":exp": {"N": str(old_expires_at)},
                                ":no": {"BOOL": False},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

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
