"""Usage policies in the policies table (``ResourceNames.policies_table``), next to the privacy
policies of the same tenant: pk ``tenant_id``, sk ``usage#default#v<n>`` / ``usage#model#<m>#v<n>``.

Reads are one Query on the tenant's partition limited to the ``usage#`` prefix; writes are
conditional puts, so a version is written once and never overwritten.
"""

from __future__ import annotations

import json
import time
from typing import Any

from steward.adapters.aws import DynamoTable
from steward.usage_policy.book import USAGE_KEY_PREFIX, usage_policy_key
from steward.usage_policy.document import UsagePolicy
from steward.usage_policy.ports import UsagePolicyVersionExists


class DynamoUsagePolicyStore(DynamoTable):
    def list_usage_policies(self, tenant_id: str) -> list[UsagePolicy]:
        policies: list[UsagePolicy] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(policy_key, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":p": {"S": USAGE_KEY_PREFIX}},
            "ConsistentRead": True,
        }
        for page in self._pages("query", kwargs):
            for item in page.get("Items", []):
                policies.append(UsagePolicy.model_validate_json(item["document"]["S"]))
        return policies

    def put_usage_policy(self, policy: UsagePolicy, *, author: str) -> None:
        assert policy.tenant_id, "stored policies always name their tenant"
        key = usage_policy_key(policy.model, policy.version)
        item = {
            "tenant_id": {"S": policy.tenant_id},
            "policy_key": {"S": key},
            "kind": {"S": "usage"},
            "version": {"N": str(policy.version)},
            "document": {"S": json.dumps(policy.model_dump(mode="json"), sort_keys=True)},
            "created_at": {"N": str(int(time.time()))},
            "created_by": {"S": author},
        }
        if policy.model is not None:
            item["model"] = {"S": policy.model}
        try:
            self.client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(policy_key)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise UsagePolicyVersionExists(key) from None
