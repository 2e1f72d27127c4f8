"""Tenants and kill switches in DynamoDB (``ResourceNames.control_table``).

Two partitions: ``pk = "tenants"`` (sort key: the tenant id) and ``pk = "switches"`` (sort key:
the scope, ``global``, ``tenant:T``, ``model:M``, ``version:M@V``). The api function reads all
switches with one Query (a handful of items) and a tenant with one GetItem, both strongly
consistent, so a change is visible to the next read; writes are conditional where they must be
(a tenant is created once; suspend/resume only an existing one).
"""

from __future__ import annotations

from typing import Any

from steward.adapters.aws import DynamoTable
from steward.adapters.ddb_codec import from_item, to_item
from steward.controls.model import (
    KillSwitch,
    Scope,
    Tenant,
    TenantExistsError,
    TenantMissingError,
    TenantStatus,
)

TENANTS, SWITCHES = "tenants", "switches"


def tenant_to_item(tenant: Tenant) -> dict[str, Any]:
    return to_item(
        {
            "pk": TENANTS,
            "sk": tenant.tenant_id,
            "status": tenant.status.value,
            "allowed_models": list(tenant.allowed_models),
            "audit_retention_days": tenant.audit_retention_days,
            "reason": tenant.reason,
            "note": tenant.note,
            "created_at": tenant.created_at,
            "updated_at": tenant.updated_at,
            "updated_by": tenant.updated_by,
        }
    )


def item_to_tenant(item: dict[str, Any]) -> Tenant:
    data = from_item(item)
    return Tenant(
        tenant_id=str(data["sk"]),
        status=TenantStatus(str(data.get("status") or TenantStatus.ACTIVE.value)),
        allowed_models=tuple(str(m) for m in data.get("allowed_models") or ()),
        audit_retention_days=int(data.get("audit_retention_days") or 0),
        reason=str(data.get("reason") or ""),
        note=str(data.get("note") or ""),
        created_at=int(data.get("created_at") or 0),
        updated_at=int(data.get("updated_at") or 0),
        updated_by=str(data.get("updated_by") or ""),
    )


def item_to_switch(item: dict[str, Any]) -> KillSwitch:
    data = from_item(item)
    return KillSwitch(
        scope=Scope.parse(str(data["sk"])),
        reason=str(data.get("reason") or "other"),
        set_at=int(data.get("set_at") or 0),
        set_by=str(data.get("set_by") or ""),
        note=str(data.get("note") or ""),
    )


class DynamoControlStore(DynamoTable):
    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _partition(self, pk: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        return [item for page in self._pages("query", request) for item in page.get("Items", [])]

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        response = self.client.get_item(
            TableName=self._table, Key=self._key(TENANTS, tenant_id), ConsistentRead=True
        )
        item = response.get("Item")
        return item_to_tenant(item) if item else None

    def list_tenants(self) -> list[Tenant]:
        return [item_to_tenant(item) for item in self._partition(TENANTS)]

    def create_tenant(self, tenant: Tenant) -> None:
        try:
            self.client.put_item(
                TableName=self._table,
                Item=tenant_to_item(tenant),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise TenantExistsError(tenant.tenant_id) from None

    def set_tenant_status(
        self, tenant_id: str, status: TenantStatus, *, reason: str, note: str, at: int, by: str
    ) -> Tenant:
        try:
            response = self.client.update_item(
                TableName=self._table,
                Key=self._key(TENANTS, tenant_id),
                UpdateExpression="SET #s = :s, #r = :r, #n = :n, #t = :t, #b = :b",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={  # all named: some are reserved words
                    "#s": "status",
                    "#r": "reason",
                    "#n": "note",
                    "#t": "updated_at",
                    "#b": "updated_by",
                },
                ExpressionAttributeValues={
                    ":s": {"S": status.value},
                    ":r": {"S": reason},
                    ":n": {"S": note},
                    ":t": {"N": str(at)},
                    ":b": {"S": by},
                },
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise TenantMissingError(tenant_id) from None
        return item_to_tenant(response["Attributes"])

    def list_switches(self) -> list[KillSwitch]:
        return [item_to_switch(item) for item in self._partition(SWITCHES)]

    def put_switch(self, switch: KillSwitch) -> None:
        item = {
            "pk": SWITCHES,
            "sk": str(switch.scope),
            "reason": switch.reason,
            "note": switch.note,
            "set_at": switch.set_at,
            "set_by": switch.set_by,
        }
        self.client.put_item(TableName=self._table, Item=to_item(item))

    def delete_switch(self, scope: Scope) -> bool:
        response = self.client.delete_item(
            TableName=self._table, Key=self._key(SWITCHES, str(scope)), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))
