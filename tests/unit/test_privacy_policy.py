"""Privacy policy documents: validation, defaults, selection by tenant and model, versions."""

from __future__ import annotations

import pytest
from steward.privacy import (
    Direction,
    Operator,
    PolicyError,
    PrivacyPolicy,
    default_policy,
    parse_policy,
    select_policy,
)
from steward.privacy.entities import ENTITY_TYPES, SECRET_TYPES


def test_default_policy_covers_every_type_and_redacts_secrets() -> None:
    policy = default_policy("t1")
    assert set(policy.entities) == ENTITY_TYPES
    assert all(policy.entities[t].operator is Operator.REDACT for t in SECRET_TYPES)
    assert policy.rule_for("PERSON", Direction.OUTPUT) is not None


def test_parse_rejects_unknown_types_and_operators_naming_fields_only() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"entities": {"SHOE_SIZE": {"operator": "redact"}}})
    assert err.value.code == "pii.policy_invalid" and "entities" in err.value.detail
    with pytest.raises(PolicyError):
        parse_policy({"entities": {"PERSON": {"operator": "shred"}}})
    with pytest.raises(PolicyError):
        parse_policy({"threshold": 2})


def test_parse_round_trips_a_document() -> None:
    doc = {"version": 4, "tenant_id": "t1", "model": "m", "entities": {"US_SSN": {"operator": "block"}}}
    policy = parse_policy(doc)
    assert (policy.tenant_id, policy.model, policy.version) == ("t1", "m", 4)
    assert parse_policy(policy.model_dump(mode="json")) == policy


def test_most_specific_then_newest_policy_wins() -> None:
    glob = PrivacyPolicy(version=9)
    tenant_v1 = PrivacyPolicy(version=1, tenant_id="t1")
    tenant_v2 = PrivacyPolicy(version=2, tenant_id="t1")
    model = PrivacyPolicy(version=1, tenant_id="t1", model="m")
    other = PrivacyPolicy(version=5, tenant_id="t2", model="m")
    policies = [glob, tenant_v1, tenant_v2, model, other]
    assert select_policy(policies, "t1", "m") is model
    assert select_policy(policies, "t1", "x") is tenant_v2
    assert select_policy(policies, "t3", "m") is glob
    assert select_policy([], "t3", "m").entities == default_policy().entities


@pytest.mark.parametrize(
    "document",
    [
        {"maria.garcia@example.org": "536-22-8714"},
        {"entities": {"Maria Garcia": "4111 1111 1111 1111"}},
        {"entities": {"PERSON": {"maria.garcia@example.org": 1}}},
    ],
)
def test_an_invalid_document_never_echoes_a_caller_chosen_key(document: dict[str, object]) -> None:
    # Keys the caller invented are caller text (the admin route answers the detail verbatim)
    with pytest.raises(PolicyError) as err:
        parse_policy(document)
    assert err.value.code == "pii.policy_invalid"
    for value in ("maria", "garcia", "536-22", "4111"):
        assert value not in err.value.detail.lower()
    assert "*" in err.value.detail  # the location is still given, with the invented key masked


def test_an_invalid_document_still_names_known_fields() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"entities": {"PERSON": {"operator": "shred"}}, "threshold": 2})
    assert "entities.PERSON.operator" in err.value.detail and "threshold" in err.value.detail
