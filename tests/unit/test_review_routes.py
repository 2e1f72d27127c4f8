"""The review queue on the wire: a held request (input never reaches the model, an answer is
withheld), the admin routes (list, show, claim, resolve), the release of an approved text, a
violation revoking the key, tenant isolation (another tenant's item is a 404 like an absent one),
the audit reason codes, and what an item keeps (the redacted text, never the caller's)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.engine import UsageGuard

from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    InMemoryReviewStore,
    InMemoryUsagePolicyStore,
    embedding_response,
)

from .conftest import MINILM, PEPPER, bearer, review_queue

EMAIL = "jane.doe@example.com"
POLICY = {
    "word_lists": [
        {"name": "watch", "words": ["heist"], "action": "flag", "hold": True},
        {"name": "note", "words": ["vault"], "action": "flag"},
    ],
    "apply_to": ["input", "output"],
}
ABSENT = "rv_" + "0" * 24


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    key_store: InMemoryKeyStore,
    review_store: InMemoryReviewStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    keys = KeyLifecycle(key_store, lambda: PEPPER)
    usage = UsageGuard(UsagePolicyBook(InMemoryUsagePolicyStore(), ttl_s=0))
    return compose_api(
        Registry(registry_store),
        router,
        audit_store,
        keys=keys,
        usage=usage,
        reviews=review_queue(review_store, keys),
    )


@pytest.fixture
def authorizer(key_store: InMemoryKeyStore) -> Authorizer:
    return Authorizer(key_store, lambda: PEPPER, ttl_s=0)  # a revoked key is refused at once here


@pytest.fixture
def admin(client: TestClient, make_key: Callable[..., str]) -> dict[str, str]:
    headers = bearer(make_key("acme", ("*",), admin=True))
    assert client.put("/admin/usage-policies/acme", json=POLICY, headers=headers).status_code == 201
    return headers


@pytest.fixture
def user(make_key: Callable[..., str]) -> dict[str, str]:
    return bearer(make_key("acme", ("*",)))


def embed(client: TestClient, headers: dict[str, str], text: str) -> Any:
    return client.post("/v1/embeddings", json={"model": MINILM, "input": text}, headers=headers)


def hold(client: TestClient, user: dict[str, str], text: str = f"plan the heist, mail {EMAIL}") -> str:
    held = embed(client, user, text)
    assert held.status_code == 403, held.text
    body = held.json()
    assert (body["code"], body["rule"]) == ("policy.held_for_review", "watch")
    assert "heist" not in held.text and EMAIL not in held.text
    return str(body["review_id"])


def audit_of(audit_store: InMemoryAuditStore, response: Any) -> dict[str, Any]:
    rid = response.headers["x-request-id"]
    return next(r for r in audit_store.records if r["request_id"] == rid)


def test_a_held_request_waits_for_a_reviewer_and_an_approval_serves_it(
    client: TestClient,
    admin: dict[str, str],
    user: dict[str, str],
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    review_store: InMemoryReviewStore,
) -> None:
    # Given a request a hold rule matches: refused with the item's id, never sent to the model
    review_id = hold(client, user)
    assert transport.calls == []
    assert hold(client, user) == review_id and review_store.creates == 1  # a retry: the same item

    # When a reviewer lists, opens, claims and approves it
    listed = client.get("/admin/reviews", headers=admin)
    assert listed.status_code == 200 and [i["review_id"] for i in listed.json()["data"]] == [review_id]
    shown = client.get(f"/admin/reviews/{review_id}", headers=admin)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    item = shown.json()
    assert item["texts"] == ["plan the heist, mail <EMAIL_ADDRESS_1>"]  # as the privacy policy left it
    assert (item["state"], item["hold"], item["model"], item["direction"]) == ("open", True, MINILM, "input")
    claimed = client.post(f"/admin/reviews/{review_id}/claim", headers=admin)
    assert claimed.status_code == 200 and claimed.json()["state"] == "claimed"
    resolved = client.post(f"/admin/reviews/{review_id}/resolve", json={"decision": "approve"}, headers=admin)
    assert resolved.status_code == 200 and resolved.json()["decision"] == "approve"

    # Then the same request is served, the flag still recorded, no new item
    served = embed(client, user, f"plan the heist, mail {EMAIL}")
    assert served.status_code == 200 and len(transport.calls) == 1
    reasons = audit_of(audit_store, served)["reason_codes"]
    assert {"policy.flagged_word:watch", "policy.released_word:watch"} <= set(reasons)
    assert review_store.creates == 1
    # And each admin action's audit record names it and the item
    assert {"admin.review_resolve", f"review.{review_id}", "review.approve"} <= set(
        audit_of(audit_store, resolved)["reason_codes"]
    )
    assert {"admin.review_show", f"review.{review_id}"} <= set(audit_of(audit_store, shown)["reason_codes"])


def test_a_plain_flag_serves_the_request_and_queues_it(
    client: TestClient, admin: dict[str, str], user: dict[str, str], audit_store: InMemoryAuditStore
) -> None:
    served = embed(client, user, "open the vault")
    assert served.status_code == 200
    [item] = client.get("/admin/reviews", headers=admin).json()["data"]
    assert (item["rule"], item["hold"]) == ("note", False)
    assert f"review.{item['review_id']}" in audit_of(audit_store, served)["reason_codes"]


def test_a_violation_can_revoke_the_key_that_made_the_request(
    client: TestClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    review_id = hold(client, user)
    client.post(f"/admin/reviews/{review_id}/claim", headers=admin)
    bad = client.post(
        f"/admin/reviews/{review_id}/resolve",
        json={"decision": "approve", "suspend_key": True},
        headers=admin,
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "input.invalid")
    decided = client.post(
        f"/admin/reviews/{review_id}/resolve",
        json={"decision": "violation", "suspend_key": True},
        headers=admin,
    )
    assert decided.status_code == 200 and decided.json()["suspend_key"] is True
    refused = embed(client, user, "hello")
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.invalid_key")


def test_claims_and_resolutions_answer_409_with_stable_codes(
    client: TestClient, admin: dict[str, str], user: dict[str, str], make_key: Callable[..., str]
) -> None:
    review_id = hold(client, user)
    other = bearer(make_key("acme", ("*",), admin=True))
    unclaimed = client.post(
        f"/admin/reviews/{review_id}/resolve", json={"decision": "approve"}, headers=admin
    )
    assert (unclaimed.status_code, unclaimed.json()["code"]) == (409, "review.not_claimed")
    assert client.post(f"/admin/reviews/{review_id}/claim", headers=admin).status_code == 200
    taken = client.post(f"/admin/reviews/{review_id}/claim", headers=other)
    assert (taken.status_code, taken.json()["code"]) == (409, "review.claimed")
    client.post(f"/admin/reviews/{review_id}/resolve", json={"decision": "violation"}, headers=admin)
    done = client.post(f"/admin/reviews/{review_id}/claim", headers=other)
    assert (done.status_code, done.json()["code"]) == (409, "review.resolved")
    resolved = client.get("/admin/reviews", params={"state": "resolved"}, headers=admin).json()["data"]
    assert [i["review_id"] for i in resolved] == [review_id]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"decision": "maybe"},
        {"decision": "approve", "note": "x"},
        {"decision": "approve", "suspend_key": 1},
    ],
)
def test_a_resolution_takes_a_decision_and_nothing_else(
    client: TestClient, admin: dict[str, str], user: dict[str, str], body: dict[str, Any]
) -> None:
    review_id = hold(client, user)
    client.post(f"/admin/reviews/{review_id}/claim", headers=admin)
    refused = client.post(f"/admin/reviews/{review_id}/resolve", json=body, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (422, "input.invalid")


def test_another_tenants_item_is_a_404_exactly_like_an_absent_one(
    client: TestClient, admin: dict[str, str], user: dict[str, str], make_key: Callable[..., str]
) -> None:
    review_id = hold(client, user)
    stranger = bearer(make_key("globex", ("*",), admin=True))

    def stable(response: Any) -> str:
        body = dict(response.json())
        body.pop("request_id")
        return json.dumps(body, sort_keys=True)

    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/claim", None),
        ("POST", "/resolve", {"decision": "violation", "suspend_key": True}),
    ):
        answers = [
            client.request(method, f"/admin/reviews/{target}{suffix}", json=body, headers=stranger)
            for target in (review_id, ABSENT)
        ]
        assert [a.status_code for a in answers] == [404, 404]
        assert stable(answers[0]) == stable(answers[1])
        assert answers[0].json()["code"] == "review.not_found"
    assert client.get("/admin/reviews", params={"tenant": "acme"}, headers=stranger).status_code == 403
    assert client.get("/admin/reviews", headers=stranger).json()["data"] == []
    assert client.get(f"/admin/reviews/{review_id}", headers=user).status_code == 403  # not an admin
    # The item is untouched
    assert client.get(f"/admin/reviews/{review_id}", headers=admin).json()["state"] == "open"


def test_a_held_answer_is_withheld_and_queued_with_the_callers_values_masked(
    client: TestClient, admin: dict[str, str], user: dict[str, str], transport: FakeTransport
) -> None:
    # Given a model that answers with its input (the redacted text) in a BYTES output, plus a word
    # of a hold rule: the gateway unmasks the caller's email for the caller, then holds the answer
    def echo(_target: Any, request: BackendRequest) -> BackendResponse:
        body = embedding_response(request)
        texts = [f"{t}: heist?" for t in request.payload["inputs"][0]["data"]]
        body["outputs"].append({"name": "echo", "datatype": "BYTES", "shape": [len(texts)], "data": texts})
        return BackendResponse(200, json.dumps(body).encode())

    transport.respond = echo
    tensor = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [f"{EMAIL} asks"]}]}
    answer = client.post(f"/v2/models/{MINILM}/infer", json=tensor, headers=user)
    assert answer.status_code == 403 and answer.json()["code"] == "policy.held_for_review"
    assert EMAIL not in answer.text and "heist" not in answer.text
    assert len(transport.calls) == 1  # input passed, the answer was withheld
    items = client.get("/admin/reviews", headers=admin).json()["data"]
    output = next(i for i in items if i["direction"] == "output")
    texts = client.get(f"/admin/reviews/{output['review_id']}", headers=admin).json()["texts"]
    assert texts == ["<EMAIL_ADDRESS_1> asks: heist?"]


def test_without_a_review_queue_the_routes_answer_501_after_the_caller_check(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    key_store: InMemoryKeyStore,
    settings: Any,
    make_key: Callable[..., str],
) -> None:
    from functions.api.app import create_app
    from functions.authorizer.handler import authorize_event
    from scripts.local.api_gateway import with_authorizer

    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    app = create_app(settings, compose_api(Registry(registry_store), router, audit_store))
    authorizer = Authorizer(key_store, lambda: PEPPER)
    with TestClient(with_authorizer(app, lambda event: authorize_event(event, authorizer))) as bare:
        admin = bare.get("/admin/reviews", headers=bearer(make_key("acme", ("*",), admin=True)))
        plain = bare.get("/admin/reviews", headers=bearer(make_key("acme", ("*",))))
    assert (admin.status_code, admin.json()["code"]) == (501, "feature.not_configured")
    assert (plain.status_code, plain.json()["code"]) == (403, "auth.forbidden")
