"""Rate limits through the api app: headers on admitted calls, 429 problem+json before the
backend, `GET /v1/usage` and the admin plan routes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.limits.admission import RateLimiter
from steward.limits.plan import parse_plan
from steward.routing.router import Router, RouterPolicy

from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryLimitStore, InMemoryRegistryStore

from .conftest import MINILM, bearer


@pytest.fixture
def limit_store() -> InMemoryLimitStore:
    store = InMemoryLimitStore()
    store.put_plan("acme", parse_plan({"key": {"rpm": 2}}), author="test", now=0)
    return store


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    limit_store: InMemoryLimitStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy())
    return compose_api(Registry(registry_store), router, audit_store, rate_limiter=RateLimiter(limit_store))


def embed(client: TestClient, key: str) -> tuple[int, dict[str, str], dict[str, object]]:
    answer = client.post("/v1/embeddings", json={"model": MINILM, "input": "hello"}, headers=bearer(key))
    return answer.status_code, dict(answer.headers), answer.json()


def test_admitted_calls_carry_headers_and_refusals_never_reach_the_backend(
    client: TestClient, api_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    status, headers, _ = embed(client, api_key)
    assert status == 200
    assert (headers["ratelimit-limit"], headers["ratelimit-remaining"]) == ("2", "1")
    assert int(headers["ratelimit-reset"]) in range(1, 61)
    assert embed(client, api_key)[0] == 200
    calls = len(transport.calls)
    status, headers, body = embed(client, api_key)
    assert status == 429 and headers["content-type"] == "application/problem+json"
    assert body["code"] == "rate.limited" and body["error"]["type"] == "rate_limit_error"
    assert int(headers["retry-after"]) in range(1, 61) and headers["ratelimit-remaining"] == "0"
    assert len(transport.calls) == calls  # never reached the backend
    assert audit_store.records[-1]["status"] == 429


def test_usage_is_the_tenants_own_and_admins_see_every_key(
    client: TestClient, make_key: Callable[..., str]
) -> None:
    user, other, admin_key = make_key("acme"), make_key("acme"), make_key("acme", admin=True)
    embed(client, user)
    embed(client, other)
    mine = client.get("/v1/usage", headers=bearer(user)).json()
    assert mine["tenant"]["m"]["requests"] == 2 and len(mine["keys"]) == 1
    assert mine["models"][MINILM]["d"]["requests"] == 2
    assert len(client.get("/v1/usage", headers=bearer(admin_key)).json()["keys"]) == 2
    assert client.get("/admin/usage/acme", headers=bearer(admin_key)).status_code == 200
    assert client.get("/admin/usage/other", headers=bearer(admin_key)).status_code == 403
    assert client.get("/admin/usage/acme", headers=bearer(user)).status_code == 403


def test_admin_sets_and_shows_the_plan(client: TestClient, make_key: Callable[..., str]) -> None:
    admin_key, user = make_key("acme", admin=True), make_key("acme")
    put = client.put("/admin/limits/acme", json={"tenant": {"rpm": 1}}, headers=bearer(admin_key))
    assert put.status_code == 200 and put.json()["plan"]["tenant"] == {"rpm": 1}
    assert client.get("/admin/limits/acme", headers=bearer(admin_key)).json()["revision"] == 2
    bad = client.put("/admin/limits/acme", json={"tenant": {"rpm": -1}}, headers=bearer(admin_key))
    assert bad.status_code == 422 and bad.json()["code"] == "input.invalid"
    assert client.put("/admin/limits/acme", json={}, headers=bearer(user)).status_code == 403
    assert embed(client, user)[0] == 200
    assert embed(client, user)[2]["code"] == "rate.limited"  # the tenant's 1 a minute, at once


def test_a_refusal_carries_what_the_document_states_for_429(client: TestClient, api_key: str) -> None:
    # Given the documented 429 of the embeddings route
    documented = client.get("/openapi.json").json()["paths"]["/v1/embeddings"]["post"]["responses"]["429"]
    assert all(f"`{code}`" in documented["description"] for code in ("rate.limited", "quota.exceeded"))
    # When the key's per-minute limit refuses a call
    embed(client, api_key)
    embed(client, api_key)
    status, headers, _ = embed(client, api_key)
    # Then every documented header is there, as a whole number of seconds or calls
    assert status == 429
    for name in documented["headers"]:
        assert headers[name.lower()].isdigit(), name
    assert "Retry-After" in documented["headers"] and documented["headers"]["Retry-After"]["required"]
