"""Stored privacy policies layer over the built-in default; secrets can't be weakened; policy
keys name registered models only. Through the real app (authorizer, routes, gateway, audit)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry
from steward.privacy import Direction, EntityRule, Operator, PolicyError, PrivacyPolicy
from steward.privacy.entities import ENTITY_TYPES, SECRET_TYPES
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.privacy.policy import DEFAULT_THRESHOLD, layered, parse_policy
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryPolicyStore

from .conftest import CREDIT, MINILM, PEPPER, bearer

EMAIL = "jane.doe@example.com"
SSN = "536-22-8714"
AWS_KEY = "AKIAQ3EGRVU6QLVZH6DX"
TEXT = f"mail {EMAIL}, ssn {SSN}, key {AWS_KEY}"
SEEDED = (EMAIL, SSN, AWS_KEY)


class QuietDeepDetector:
    """A deep (NER) detector that finds nothing: lets ``detection_path: deep`` run without a backend."""

    name = "deep-test"
    entity_types = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})

    def detect(self, view: Any) -> list[Any]:
        return []


@pytest.fixture
def policy_store() -> InMemoryPolicyStore:
    return InMemoryPolicyStore()


@pytest.fixture
def api(
    settings: ApiSettings,
    registry_store: Any,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    policy_store: InMemoryPolicyStore,
    authorizer: Authorizer,
) -> Iterator[TestClient]:
    guard = PrivacyGuard(
        PolicyBook(policy_store, ttl_s=0), pepper=lambda: PEPPER, deep_detector=QuietDeepDetector()
    )
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=lambda s: None)
    use_cases = compose_api(Registry(registry_store, ttl_s=0), router, audit_store, privacy=guard)
    app = with_authorizer(create_app(settings, use_cases), lambda e: authorize_event(e, authorizer))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_key(make_key: Callable[..., str]) -> str:
    return make_key("acme", admin=True)


def sent_texts(transport: FakeTransport) -> list[str]:
    return [t for _, request, _ in transport.calls for t in request.payload["inputs"][0]["data"]]


def put_policy(api: TestClient, key: str, document: dict[str, Any], query: str = "") -> Any:
    return api.put(f"/admin/policies/acme{query}", headers=bearer(key), json=document)


def embed(api: TestClient, key: str, text: str) -> Any:
    return api.post("/v1/embeddings", headers=bearer(key), json={"model": MINILM, "input": [text]})


def infer(api: TestClient, key: str, text: str) -> Any:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}]}
    return api.post(f"/v2/models/{MINILM}/infer", headers=bearer(key), json=body)


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


# --- 1. a partial policy keeps every protection it does not name --------------------------------
@pytest.mark.parametrize(
    "document",
    [
        {"detection_path": "deep"},
        {"entities": {"PERSON": {"operator": "redact"}, "PHONE_NUMBER": {"operator": "mask"}}},
        {"threshold": 0.3},  # a policy-wide threshold may only be lowered (see section 3)
        {"restore_output": False},
    ],
    ids=["detection_path-only", "two-types", "threshold-only", "restore_output-only"],
)
@pytest.mark.parametrize("route", [embed, infer], ids=["embeddings", "infer"])
def test_a_partial_policy_leaves_emails_ssns_and_aws_keys_redacted(
    api: TestClient,
    api_key: str,
    admin_key: str,
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    document: dict[str, Any],
    route: Callable[[TestClient, str, str], Any],
) -> None:
    # Given a tenant policy that names only some fields
    assert put_policy(api, admin_key, document).status_code == 201
    # When personal data and a secret are sent
    response = route(api, api_key, TEXT)
    # Then the model saw none of them, and the audit record counts each type under the stored policy
    assert response.status_code == 200, response.text
    (sent,) = sent_texts(transport)
    assert not any(value in sent for value in SEEDED), sent
    assert "<CLOUD_ACCESS_KEY>" in sent  # secrets are removed for good, never pseudonymised
    record = audit_store.records[-1]
    assert record["policy_version"] == "tenant@v1"
    assert {"EMAIL_ADDRESS", "US_SSN", "CLOUD_ACCESS_KEY"} <= set(record["pii_counts"])
    assert not any(value in json.dumps(audit_store.records) for value in SEEDED)


def test_a_named_type_follows_the_document_and_keep_is_explicit_and_still_counted(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    # Given a policy that deliberately keeps e-mail addresses (an audited, explicit choice)
    keep = {"entities": {"EMAIL_ADDRESS": {"operator": "keep"}}}
    assert put_policy(api, admin_key, keep).status_code == 201
    # When the text is sent
    assert embed(api, api_key, TEXT).status_code == 200
    # Then the address passes, the unnamed SSN keeps the default placeholder, the key is removed
    assert sent_texts(transport) == [f"mail {EMAIL}, ssn <US_SSN_1>, key <CLOUD_ACCESS_KEY>"]
    # And the kept address is still counted
    assert audit_store.records[-1]["pii_counts"]["EMAIL_ADDRESS"] == 1


@pytest.mark.parametrize(
    "rule",
    [
        {"operator": "keep"},
        {"operator": "placeholder"},
        {"operator": "mask"},
        {"operator": "redact", "apply_to": ["output"]},
        {"operator": "redact", "apply_to": []},
        {"operator": "redact", "threshold": 0.99},
    ],
)
def test_a_document_that_weakens_a_secret_is_refused_and_not_stored(
    api: TestClient, admin_key: str, policy_store: InMemoryPolicyStore, rule: dict[str, Any]
) -> None:
    response = put_policy(api, admin_key, {"entities": {"CLOUD_ACCESS_KEY": rule}})
    assert (response.status_code, response.json()["code"]) == (422, "pii.policy_invalid")
    assert "entities.CLOUD_ACCESS_KEY" in response.json()["detail"]
    assert policy_store.items == {}


@pytest.mark.parametrize("operator", ["redact", "hash", "encrypt", "block"])
def test_secrets_accept_operators_at_least_as_strong_as_redact(operator: str) -> None:
    policy = parse_policy({"entities": {"API_TOKEN": {"operator": operator}}})
    assert policy.entities["API_TOKEN"].operator == operator


def test_a_rule_without_an_operator_keeps_the_built_in_operator_of_its_type() -> None:
    policy = parse_policy({"entities": {"API_TOKEN": {"threshold": 0.3}, "PERSON": {"threshold": 0.8}}})
    assert policy.entities["API_TOKEN"].operator is Operator.REDACT
    assert policy.entities["PERSON"].operator is Operator.PLACEHOLDER


def test_layering_fills_unnamed_types_and_never_weakens_a_secret_even_from_old_documents() -> None:
    # A document stored before these checks existed (built directly, not through parse_policy)
    old = PrivacyPolicy(
        tenant_id="acme",
        threshold=0.99,
        entities={
            "CLOUD_ACCESS_KEY": EntityRule(operator=Operator.KEEP),
            "JWT": EntityRule(operator=Operator.HASH, apply_to=frozenset({Direction.OUTPUT})),
            "EMAIL_ADDRESS": EntityRule(operator=Operator.KEEP),
        },
    )
    effective = layered(old)
    assert set(effective.entities) == ENTITY_TYPES
    assert effective.entities["EMAIL_ADDRESS"].operator is Operator.KEEP  # explicit PII choice stands
    assert effective.entities["US_SSN"].operator is Operator.PLACEHOLDER  # unnamed: built-in rule
    assert effective.entities["CLOUD_ACCESS_KEY"].operator is Operator.REDACT  # weak secret: built-in
    assert effective.entities["JWT"].apply_to == frozenset(Direction)
    for secret in SECRET_TYPES:
        assert effective.threshold_for(secret) <= DEFAULT_THRESHOLD
        assert effective.rule_for(secret, Direction.INPUT) is not None


def test_policy_book_applies_layering_to_documents_already_in_the_store(
    policy_store: InMemoryPolicyStore,
) -> None:
    policy_store.put_policy(PrivacyPolicy(tenant_id="acme", entities={}), author="old")
    chosen = PolicyBook(policy_store, ttl_s=0).in_force("acme", MINILM)
    assert chosen.label == "tenant@v1"
    assert set(chosen.policy.entities) == ENTITY_TYPES


def test_policy_error_names_fields_never_values() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"entities": {"PASSWORD": {"operator": "keep"}}})
    assert err.value.code == "pii.policy_invalid" and "entities.PASSWORD.operator" in err.value.detail


# --- 2. policy keys name registered models only -------------------------------------------------
def test_a_policy_for_an_unknown_model_is_404_and_never_stored(
    api: TestClient, admin_key: str, policy_store: InMemoryPolicyStore
) -> None:
    response = put_policy(api, admin_key, {}, query=f"?model={EMAIL}")
    assert (response.status_code, response.json()["code"]) == (404, "model.not_found")
    assert EMAIL not in response.text
    assert policy_store.items == {}
    assert api.get("/admin/policies/acme", headers=bearer(admin_key)).json()["data"] == []


def test_a_tenant_admin_may_key_policies_only_by_models_its_key_may_use(
    api: TestClient, make_key: Callable[..., str], policy_store: InMemoryPolicyStore
) -> None:
    # Given a tenant admin entitled to MiniLM only
    scoped = make_key("acme", (MINILM,), admin=True)
    # Then a policy for MiniLM is stored under the registered name
    ok = put_policy(api, scoped, {}, query=f"?model={MINILM}")
    assert (ok.status_code, ok.json()["model"]) == (201, MINILM)
    # And one for a registered model it may not use looks exactly like an unknown model
    hidden = put_policy(api, scoped, {}, query=f"?model={CREDIT}")
    unknown = put_policy(api, scoped, {}, query="?model=no-such-model")
    assert hidden.status_code == unknown.status_code == 404
    assert without_request_id(hidden.json()) == without_request_id(unknown.json())
    assert [p.model for p in policy_store.items.values()] == [MINILM]
    # And a platform admin may key a policy by any registered model
    platform = make_key("ops", platform_admin=True)
    assert put_policy(api, platform, {}, query=f"?model={CREDIT}").status_code == 201


# --- 3. nothing stored switches detection off for types it does not name, or silently -----------
PHONE = "(415) 555-0134"
PERSON = "John Smith"
QUIET_TEXT = f"Call {PERSON} at {PHONE}"


@pytest.mark.parametrize(
    "document, field",
    [
        ({"threshold": 1.0}, "threshold"),
        ({"threshold": 0.9, "entities": {"PERSON": {"operator": "mask"}}}, "threshold"),
        ({"entities": {"PHONE_NUMBER": {"apply_to": []}}}, "entities.PHONE_NUMBER.apply_to"),
    ],
    ids=["policy-wide-threshold-1.0", "policy-wide-threshold-0.9", "apply_to-nothing"],
)
def test_a_document_that_quietly_switches_pii_detection_off_is_refused(
    api: TestClient, admin_key: str, policy_store: InMemoryPolicyStore, document: dict[str, Any], field: str
) -> None:
    # A policy-wide threshold of 1.0 let names, phone numbers and addresses through uncounted for
    # every type the document did not even name; an empty apply_to skipped the type uncounted.
    response = put_policy(api, admin_key, document)
    assert (response.status_code, response.json()["code"]) == (422, "pii.policy_invalid")
    assert field in response.json()["detail"]
    assert policy_store.items == {}


def test_a_higher_threshold_and_keep_remain_available_by_naming_the_type(
    api: TestClient, admin_key: str
) -> None:
    named = {
        "threshold": 0.3,
        "entities": {"PERSON": {"threshold": 0.95}, "PHONE_NUMBER": {"operator": "keep"}},
    }
    assert put_policy(api, admin_key, named).status_code == 201


def test_an_old_document_that_switched_detection_off_is_read_back_detecting_and_counting(
    api: TestClient,
    api_key: str,
    policy_store: InMemoryPolicyStore,
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
) -> None:
    # Given documents stored before these checks (written to the store directly)
    old = PrivacyPolicy(
        tenant_id="acme", threshold=1.0, entities={"PERSON": EntityRule(apply_to=frozenset())}
    )
    policy_store.put_policy(old, author="old")
    # When a phone number and a name are sent
    assert embed(api, api_key, QUIET_TEXT).status_code == 200
    # Then the unnamed phone number is pseudonymised at the built-in threshold
    (sent,) = sent_texts(transport)
    assert PHONE not in sent and "<PHONE_NUMBER_1>" in sent
    # And the name the document let through is still let through, but now counted
    assert PERSON in sent
    assert {"PHONE_NUMBER", "PERSON"} <= set(audit_store.records[-1]["pii_counts"])
