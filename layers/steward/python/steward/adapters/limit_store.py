"""Rate-limit counters and tenant plans in DynamoDB (``ResourceNames.limits_table``).

Items (pk / sk, all strings):

* ``usage#<tenant>`` / ``<kind>#<window id>#<scope>``: one counter (`steward.limits.counters`),
  numbers ``requests`` and ``units``, ``expires_at`` (TTL) a while after its window ends.
* ``plan#<tenant>`` / ``plan``: the tenant's plan (``document``, JSON), ``revision``,
  ``updated_at``, ``updated_by``.

A charge is one ``UpdateItem``: ``ADD`` under a ``ConditionExpression`` that the counter stays
within its limit, so DynamoDB serialises concurrent charges of one item and never lets one past.
The charges of one call go out in parallel (one round trip, not nine); if any write fails, the
ones that landed are taken back before the error is raised (the port's contract).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.limits.counters import Charge, Counted, CounterValue, StoredPlan
from steward.limits.plan import Plan
from steward.limits.windows import KINDS, Kind, Window

logger = logging.getLogger("steward.limits")
PLAN_SK = "plan"
#: Enough threads for every charge of one call (3 scopes x 3 windows) at once.
MAX_PARALLEL = 9


def usage_pk(tenant_id: str) -> str:
    return f"usage#{tenant_id}"


def plan_key(tenant_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"plan#{tenant_id}"}, "sk": {"S": PLAN_SK}}


class DynamoLimitStore(DynamoTable):
    def __init__(self, table: str, *, region: str, client: Any = None) -> None:
        super().__init__(table, region=region, client=client)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # ------------------------------------------------------------------------ counters
    def charge(self, charges: Sequence[Charge]) -> list[Counted | None]:
        outcomes = list(self._executor().map(self._try_charge, charges))
        failures = [o for o in outcomes if isinstance(o, Exception)]
        if failures:
            landed = [c for c, o in zip(charges, outcomes, strict=True) if isinstance(o, Counted)]
            self.refund(landed)
            raise failures[0]
        return [o if isinstance(o, Counted) else None for o in outcomes]

    def _try_charge(self, charge: Charge) -> Counted | Exception | None:
        try:
            return self._charge_one(charge)
        except Exception as error:  # handed back: the caller takes back what landed
            return error

    def _charge_one(self, charge: Charge) -> Counted | None:
        if not charge.admits(0, 0):
            return None  # a limit below one call: refused without a write
        conditions, values = (
            [],
            {
                ":r": {"N": str(charge.requests)},
                ":u": {"N": str(charge.units)},
                ":e": {"N": str(charge.window.expires_at)},
            },
        )
        if charge.max_requests is not None:
            conditions.append("(attribute_not_exists(requests) OR requests <= :rmax)")
            values[":rmax"] = {"N": str(charge.max_requests - charge.requests)}
        if charge.max_units is not None:
            conditions.append("(attribute_not_exists(units) OR units <= :umax)")
            values[":umax"] = {"N": str(charge.max_units - charge.units)}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": usage_pk(charge.tenant_id)}, "sk": {"S": charge.sort_key}},
            "UpdateExpression": "SET expires_at = :e ADD requests :r, units :u",
            "ExpressionAttributeValues": values,
            "ReturnValues": "UPDATED_NEW",
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
        try:
            attributes = self.client.update_item(**request)["Attributes"]
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return Counted(int(attributes["requests"]["N"]), int(attributes["units"]["N"]))

    def refund(self, charges: Sequence[Charge]) -> None:
        for charge in charges:
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": usage_pk(charge.tenant_id)}, "sk": {"S": charge.sort_key}},
                    UpdateExpression="ADD requests :r, units :u",
                    ConditionExpression="attribute_exists(sk)",
                    ExpressionAttributeValues={
                        ":r": {"N": str(-charge.requests)},
                        ":u": {"N": str(-charge.units)},
                    },
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # expired meanwhile: nothing to take back

    def counters(self, tenant_id: str, windows: Sequence[Window]) -> list[CounterValue]:
        out: list[CounterValue] = []
        for win in windows:
            request: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :w)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": usage_pk(tenant_id)},
                    ":w": {"S": f"{win.kind}#{win.id}#"},
                },
                "ConsistentRead": True,
            }
            for page in self._pages("query", request):
                for item in page.get("Items", []):
                    kind, window_id, scope = item["sk"]["S"].split("#", 2)
                    out.append(
                        CounterValue(
                            _kind(kind),
                            window_id,
                            scope,
                            int(item.get("requests", {}).get("N", "0")),
                            int(item.get("units", {}).get("N", "0")),
                        )
                    )
        return out

    # ------------------------------------------------------------------------ plans
    def get_plan(self, tenant_id: str) -> StoredPlan | None:
        item = self.client.get_item(TableName=self._table, Key=plan_key(tenant_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _stored(item)

    def put_plan(self, tenant_id: str, plan: Plan, *, author: str, now: int) -> StoredPlan:
        attributes = self.client.update_item(
            TableName=self._table,
            Key=plan_key(tenant_id),
            UpdateExpression="SET #d = :d, updated_at = :t, updated_by = :a ADD revision :one",
            ExpressionAttributeNames={"#d": "document"},
            ExpressionAttributeValues={
                ":d": {"S": json.dumps(plan.model_dump(mode="json", exclude_none=True), sort_keys=True)},
                ":t": {"N": str(now)},
                ":a": {"S": author},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return _stored(attributes)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="limits")
        return self._pool


def _stored(item: dict[str, Any]) -> StoredPlan:
    return StoredPlan(
        plan=Plan.model_validate_json(item["document"]["S"]),
        revision=int(item.get("revision", {}).get("N", "0")),
        updated_at=int(item.get("updated_at", {}).get("N", "0")),
        updated_by=str(item.get("updated_by", {}).get("S", "")),
    )


def _kind(text: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    raise ValueError("unknown counter window kind")
