"""The usage policy store against moto: versions in the policies table under ``usage#``, never
overwritten, and invisible to the privacy policy store of the same tenant (and the reverse)."""

from __future__ import annotations

import pytest
from steward.adapters.policy_store import DynamoPolicyStore
from steward.adapters.usage_policy_store import DynamoUsagePolicyStore
from steward.privacy.policies import PolicyBook
from steward.resources import ResourceNames
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.ports import UsagePolicyVersionExists

REGION = "us-east-1"
DOCUMENT = {"word_lists": [{"name": "w", "words": ["kill"], "action": "block"}], "apply_to": ["input"]}


def test_usage_policies_share_the_table_without_mixing_with_privacy_policies(names: ResourceNames) -> None:
    table = names.policies_table.name
    usage = UsagePolicyBook(DynamoUsagePolicyStore(table, region=REGION), ttl_s=0)
    privacy = PolicyBook(DynamoPolicyStore(table, region=REGION), ttl_s=0)
    privacy.save("t-usage", None, {"entities": {"EMAIL_ADDRESS": {"operator": "redact"}}}, author="k1")
    first = usage.save("t-usage", None, DOCUMENT, author="k1")
    usage.save("t-usage", "m", {"patterns": [{"name": "p", "regex": "x+", "action": "flag"}]}, author="k1")
    second = usage.save("t-usage", None, {}, author="k1")
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(UsagePolicyVersionExists):
        DynamoUsagePolicyStore(table, region=REGION).put_usage_policy(first, author="k2")
    assert [(p.model, p.version) for p in usage.history("t-usage")] == [(None, 2), (None, 1), ("m", 1)]
    chosen = usage.in_force("t-usage", "m")
    assert chosen is not None and chosen.label == "model:m@v1"
    assert [p.version for p in privacy.history("t-usage")] == [1]
    assert privacy.in_force("t-usage", None).label == "tenant@v1"
