"""Privacy policies in DynamoDB (``ResourceNames.policies_table``): pk tenant, sk scope#version.

Reads are one Query on the tenant's partition (tenant-scoped by construction). Writes are
conditional puts, so a version is written once and never overwritten.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from steward.adapters.aws import DynamoTable
from steward.privacy.policies import PolicyVersionExists, policy_key

if TYPE_CHECKING:
    from steward.privacy.policy import PrivacyPolicy


class DynamoPolicyStore(DynamoTable):
    def list_policies(self, tenant_id: str) -> list[PrivacyPolicy]:
        from steward.privacy.policy import PrivacyPolicy

        policies: list[PrivacyPolicy] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t",
            # Usage policies share the table under their own sort-key prefix (usage_policy_store).
            "FilterExpression": "NOT begins_with(policy_key, :usage)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":usage": {"S": "usage#"}},
            "ConsistentRead": True,
        }
        for page in self._pages("query", kwargs):
            for item in page.get("Items", []):
                policies.append(PrivacyPolicy.model_validate_json(item["document"]["S"]))
        return policies

    def put_policy(self, policy: PrivacyPolicy, *, author: str) -> None:
        assert policy.tenant_id, "stored policies always name their tenant"
        item = {
            "tenant_id": {"S": policy.tenant_id},
            "policy_key": {"S": policy_key(policy.model, policy.version)},
            "scope": {"S": "default" if policy.model is None else "model"},
            "version": {"N": str(policy.version)},
            "document": {"S": json.dumps(policy.model_dump(mode="json"), sort_keys=True)},
            "created_at": {"N": str(int(time.time()))},
            "created_by": {"S": author},
        }
        if policy.model is not None:
            item["model"] = {"S": policy.model}
        try:
            self.client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(policy_key)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise PolicyVersionExists(policy_key(policy.model, policy.version)) from None
