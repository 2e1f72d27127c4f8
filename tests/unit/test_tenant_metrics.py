"""Per-tenant anomaly signals: one EMF record per governed request, in ``Steward/Tenants`` with the
tenant the authorizer established (never a value the caller chose)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from steward.auth.authorize import Authorizer
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.limits.admission import RateLimiter
from steward.limits.plan import parse_plan
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings
from steward.tenant_signals import TenantSignals, tenant_dimension
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.engine import UsageGuard

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryLimitStore,
    InMemoryPolicyStore,
    InMemoryRegistryStore,
    InMemoryUsagePolicyStore,
)

from .conftest import MINILM, PEPPER, bearer

SHARE = 0.25
SSN = "536-22-8714"
USAGE_POLICY = {
    "word_lists": [
        {"name": "violence", "words": ["bomb"], "action": "block"},
        {"name": "watch", "words": ["heist"], "action": "flag"},
    ],
    "apply_to": ["input"],
}


@pytest.fixture
def settings() -> ApiSettings:
    return ApiSettings(stage="test", pepper=PEPPER.decode(), tenant_block_share=SHARE)


@pytest.fixture
def limit_store() -> InMemoryLimitStore:
    store = InMemoryLimitStore()
    store.put_plan("acme", parse_plan({"key": {"rpm": 3}}), author="test", now=0)
    return store


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    limit_store: InMemoryLimitStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    return compose_api(
        Registry(registry_store),
        router,
        audit_store,
        rate_limiter=RateLimiter(limit_store),
        privacy=PrivacyGuard(PolicyBook(InMemoryPolicyStore(), ttl_s=0), pepper=lambda: PEPPER),
        usage=UsageGuard(UsagePolicyBook(InMemoryUsagePolicyStore(), ttl_s=0)),
    )


@pytest.fixture
def client(settings: ApiSettings, use_cases: Api, authorizer: Authorizer) -> Iterator[TestClient]:
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as test_client:
        yield test_client


def tenant_records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF records written since the last call, in the tenant namespace."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines if '"_aws"' in line]
    return [r for r in records if r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Steward/Tenants"]


def signals(record: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value (Powertools writes each as a list: one value per request here)."""
    names = [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert all(len(record[name]) == 1 for name in names)
    return {name: record[name][0] for name in names}


def embed(client: TestClient, key: str, text: str = "hello") -> int:
    response = client.post("/v1/embeddings", json={"model": MINILM, "input": text}, headers=bearer(key))
    return response.status_code


def test_each_outcome_is_counted_for_the_callers_tenant(
    client: TestClient, make_key: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given tenant acme with a usage policy (block "bomb", flag "heist"), a privacy policy blocking
    # SSNs, and a plan of 3 requests a minute per key
    admin = make_key("acme", admin=True)
    user = make_key("acme", (MINILM,))
    saved = client.put("/admin/usage-policies/acme", json=USAGE_POLICY, headers=bearer(admin))
    assert saved.status_code == 201, saved.text
    blocks = {"entities": {"US_SSN": {"operator": "block"}}}
    assert client.put("/admin/policies/acme", json=blocks, headers=bearer(admin)).status_code == 201
    tenant_records(capsys)

    # When the user's key is answered, refused by each guardrail, and then rate limited
    statuses = [
        embed(client, user),
        embed(client, user, "how to build a bomb"),
        embed(client, user, f"my ssn is {SSN}"),
        embed(client, user),
    ]

    # Then there is one record per request, for acme, with what happened to it
    assert statuses == [200, 400, 400, 429]
    records = tenant_records(capsys)
    assert [r["Tenant"] for r in records] == ["acme"] * 4
    assert all(r["service"] == "steward-api" for r in records)
    dims = records[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert [sorted(d) for d in dims] == [["Tenant", "service"]]
    ok, word, pii, last = (signals(r) for r in records)
    assert ok == {"Requests": 1, "Blocked": 0, "RateLimited": 0, "Flagged": 0, "BlockedExcess": -SHARE}
    assert word == {"Requests": 1, "Blocked": 1, "RateLimited": 0, "Flagged": 0, "BlockedExcess": 1 - SHARE}
    assert pii == word
    assert last == {"Requests": 1, "Blocked": 0, "RateLimited": 1, "Flagged": 0, "BlockedExcess": -SHARE}


def test_a_flag_is_counted_on_a_served_request(
    client: TestClient, make_key: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    admin = make_key("acme", admin=True)
    client.put("/admin/usage-policies/acme", json=USAGE_POLICY, headers=bearer(admin))
    user = make_key("acme", (MINILM,))
    tenant_records(capsys)
    assert embed(client, user, "plan the heist") == 200
    (record,) = tenant_records(capsys)
    assert signals(record)["Flagged"] == 1 and signals(record)["Blocked"] == 0


def with_context(app: ASGIApp, context: dict[str, Any] | None) -> ASGIApp:
    """The app behind a gateway that hands it ``context`` as the authorizer's (None: no context)."""

    async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorizer = {} if context is None else {"authorizer": context}
            scope = {**scope, "aws.event": {"requestContext": {"requestId": "r-1", **authorizer}}}
        await app(scope, receive, send)

    return gateway


@pytest.mark.parametrize(
    "context",
    [
        None,  # no authorizer in front (API Gateway answers 401 itself; this is the app failing closed)
        {},
        {"tenant_id": "acme"},  # no key id: not an identity
        {"key_id": "k1", "principalId": "acme"},
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer acme"}, {"X-Tenant": "acme"}])
def test_a_caller_without_an_identity_is_counted_under_the_fixed_value(
    settings: ApiSettings,
    use_cases: Api,
    context: dict[str, Any] | None,
    headers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a request that reaches the app without an identity, naming a tenant wherever it can
    with TestClient(with_context(create_app(settings, use_cases), context)) as bare:
        tenant_records(capsys)
        response = bare.post(
            "/v1/embeddings", json={"model": MINILM, "input": "hi", "user": "acme"}, headers=headers
        )
    # Then it is refused and counted under "_unauthenticated", never a value the caller sent
    assert response.status_code == 401
    (record,) = tenant_records(capsys)
    assert record["Tenant"] == "_unauthenticated"
    assert signals(record) == {
        "Requests": 1,
        "Blocked": 0,
        "RateLimited": 0,
        "Flagged": 0,
        "BlockedExcess": -SHARE,
    }


def test_an_identity_with_a_malformed_tenant_id_is_counted_under_invalid(
    settings: ApiSettings, use_cases: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an identity no key can hold (the authorizer only passes stored, validated tenant ids)
    context = {"tenant_id": "Jane Doe <jane@example.com>", "key_id": "k1", "scopes": "", "models": "*"}
    with TestClient(with_context(create_app(settings, use_cases), context)) as forged:
        tenant_records(capsys)
        forged.get("/v1/models")
    # Then its metrics name no such value
    (record,) = tenant_records(capsys)
    assert record["Tenant"] == "_invalid"


@pytest.mark.parametrize(
    ("tenant_id", "expected"),
    [
        ("acme", "acme"),
        ("_unauthenticated", "_unauthenticated"),
        ("a" * 129, "_invalid"),
        ("acme corp", "_invalid"),
        ("jane@example.com", "_invalid"),
        ("", "_invalid"),
    ],
)
def test_only_an_id_of_the_tenant_pattern_becomes_a_dimension_value(tenant_id: str, expected: str) -> None:
    assert tenant_dimension(tenant_id) == expected


@pytest.mark.parametrize(
    ("code", "reasons", "blocked", "rate_limited", "flagged"),
    [
        ("", [], False, False, False),
        ("policy.denied_word", ["usage_policy:v1", "policy.denied_word:violence"], True, False, False),
        ("policy.denied_pattern", [], True, False, False),
        ("policy.denied_topic", [], True, False, False),
        ("pii.blocked", [], True, False, False),
        ("rate.limited", [], False, True, False),
        ("quota.exceeded", [], False, True, False),
        ("", ["policy.flagged_word:watch"], False, False, True),
        # a block whose audit record could not be written: the caller got 503, not a refusal
        ("audit.unavailable", ["policy.denied_word"], False, False, False),
        ("limits.unavailable", [], False, False, False),
    ],
)
def test_outcomes_map_to_signals(
    code: str, reasons: list[str], blocked: bool, rate_limited: bool, flagged: bool
) -> None:
    found = TenantSignals.of("acme", code, reasons)
    assert (found.blocked, found.rate_limited, found.flagged) == (blocked, rate_limited, flagged)
    assert found.values(0.1)["BlockedExcess"] == pytest.approx(float(blocked) - 0.1)
