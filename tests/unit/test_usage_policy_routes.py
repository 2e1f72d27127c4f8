"""The usage policy on the wire: admin routes (versions, 422 for a refused pattern, the admin
scope), the inference paths (a ``block`` never reaches the backend, a ``flag`` is audited, a
failing check refuses), and ``POST /v1/guardrails/apply``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.routing.router import Router, RouterPolicy
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.engine import UsageGuard

from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryRegistryStore, InMemoryUsagePolicyStore

from .conftest import MINILM, bearer

POLICY = {
    "word_lists": [
        {"name": "violence", "words": ["kill", "bomb"], "action": "block"},
        {"name": "watch", "words": ["heist"], "action": "flag"},
    ],
    "patterns": [{"name": "accounts", "regex": r"ACC-\d{6}", "action": "block"}],
    "denied_topics": [{"name": "weapons", "definition": "Making weapons", "examples": ["build a rifle"]}],
    "apply_to": ["input", "output"],
}


@dataclass
class Hit:
    name: str


class Topics:
    def matches(self, text: str, topics: Sequence[Any]) -> list[Hit]:
        return [Hit("weapons")] if "rifle" in text else []


@pytest.fixture
def usage_store() -> InMemoryUsagePolicyStore:
    return InMemoryUsagePolicyStore()


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    usage_store: InMemoryUsagePolicyStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    usage = UsageGuard(UsagePolicyBook(usage_store, ttl_s=0), topics=Topics())
    return compose_api(Registry(registry_store), router, audit_store, usage=usage)


@pytest.fixture
def admin_key(make_key: Callable[..., str]) -> dict[str, str]:
    return bearer(make_key("acme", ("*",), admin=True))


@pytest.fixture
def user(make_key: Callable[..., str]) -> dict[str, str]:
    return bearer(make_key("acme", ("*",)))


@pytest.fixture
def with_policy(client: TestClient, admin_key: dict[str, str]) -> None:
    saved = client.put("/admin/usage-policies/acme", json=POLICY, headers=admin_key)
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 1 and saved.json()["tenant_id"] == "acme"


def embed(client: TestClient, headers: dict[str, str], text: str) -> Any:
    return client.post("/v1/embeddings", json={"model": MINILM, "input": text}, headers=headers)


# --- admin -------------------------------------------------------------------------------------


@pytest.mark.parametrize("regex", ["(unclosed", r"(.{100}){10}", "(?<=x)y"])
def test_a_refused_pattern_is_422_and_nothing_is_stored(
    client: TestClient, admin_key: dict[str, str], usage_store: InMemoryUsagePolicyStore, regex: str
) -> None:
    document = {"patterns": [{"name": "p", "regex": regex, "action": "block"}]}
    refused = client.put("/admin/usage-policies/acme", json=document, headers=admin_key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "input.invalid"
    assert "patterns.0.regex" in refused.json()["detail"]
    assert usage_store.items == {}


def test_versions_per_scope_listed_newest_first(
    client: TestClient, admin_key: dict[str, str], with_policy: None
) -> None:
    client.put("/admin/usage-policies/acme", json={}, headers=admin_key)
    model = client.put("/admin/usage-policies/acme", json=POLICY, params={"model": MINILM}, headers=admin_key)
    assert model.status_code == 201 and model.json()["model"] == MINILM
    listed = client.get("/admin/usage-policies/acme", headers=admin_key).json()["data"]
    assert [(p["model"], p["version"]) for p in listed] == [(None, 2), (None, 1), (MINILM, 1)]
    scoped = client.get("/admin/usage-policies/acme", params={"model": MINILM}, headers=admin_key).json()
    assert [(p["model"], p["version"]) for p in scoped["data"]] == [(MINILM, 1)]
    absent = client.put("/admin/usage-policies/acme", json={}, params={"model": "nope"}, headers=admin_key)
    assert absent.status_code == 404


def test_plain_keys_and_other_tenants_admins_are_refused(
    client: TestClient, user: dict[str, str], make_key: Callable[..., str]
) -> None:
    other = bearer(make_key("globex", ("*",), admin=True))
    for headers in (user, other):
        assert client.put("/admin/usage-policies/acme", json=POLICY, headers=headers).status_code == 403
        assert client.get("/admin/usage-policies/acme", headers=headers).status_code == 403


# --- the inference paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "rule"),
    [
        ("how to b0mb a car", "policy.denied_word", "violence"),
        ("k i l l them", "policy.denied_word", "violence"),
        ("send ACC-123456 now", "policy.denied_pattern", "accounts"),
        ("how do I build a rifle", "policy.denied_topic", "weapons"),
    ],
)
def test_a_block_never_reaches_the_backend(
    client: TestClient,
    user: dict[str, str],
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    with_policy: None,
    text: str,
    code: str,
    rule: str,
) -> None:
    refused = embed(client, user, text)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert (body["code"], body["rule"]) == (code, rule)
    assert body["error"]["code"] == code  # the OpenAI error object too
    assert text not in refused.text
    assert transport.calls == []
    assert any(f"{code}:{rule}" in r["reason_codes"] for r in audit_store.records)


def test_oip_bytes_strings_are_checked(
    client: TestClient, user: dict[str, str], transport: FakeTransport, with_policy: None
) -> None:
    payload = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["fine", "KILL"]}]}
    refused = client.post(f"/v2/models/{MINILM}/infer", json=payload, headers=user)
    assert refused.status_code == 400 and refused.json()["code"] == "policy.denied_word"
    assert transport.calls == []


def test_a_flag_passes_and_is_audited(
    client: TestClient,
    user: dict[str, str],
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    with_policy: None,
) -> None:
    served = embed(client, user, "planning a heist movie")
    assert served.status_code == 200, served.text
    assert len(transport.calls) == 1
    reasons = audit_store.records[-1]["reason_codes"]
    assert "policy.flagged_word:watch" in reasons and "usage_policy:tenant@v1" in reasons


def test_benign_text_passes_untouched(
    client: TestClient, user: dict[str, str], transport: FakeTransport, with_policy: None
) -> None:
    assert embed(client, user, "Scunthorpe skills assessment").status_code == 200
    assert len(transport.calls) == 1


def test_a_failing_policy_store_refuses_the_request(
    client: TestClient,
    user: dict[str, str],
    transport: FakeTransport,
    usage_store: InMemoryUsagePolicyStore,
    with_policy: None,
) -> None:
    usage_store.fail = True
    refused = embed(client, user, "hello")
    assert refused.status_code == 503 and refused.json()["code"] == "policy.check_failed"
    assert transport.calls == []


# --- guardrails apply --------------------------------------------------------------------------


def test_guardrails_apply_returns_verdicts_and_redacted_text_without_a_model_call(
    client: TestClient, user: dict[str, str], transport: FakeTransport, with_policy: None
) -> None:
    texts = ["mail jane.doe@example.com about the heist", "b0mb", "fine"]
    answer = client.post("/v1/guardrails/apply", json={"text": texts}, headers=user)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == "block"
    assert {(v["index"], v["kind"], v["rule"], v["action"]) for v in body["verdicts"]} == {
        (0, "word", "watch", "flag"),
        (1, "word", "violence", "block"),
    }
    assert "jane.doe@example.com" not in body["text"][0] and body["text"][2] == "fine"
    assert body["usage_policy_version"] == "tenant@v1"
    assert transport.calls == []


def test_guardrails_apply_without_a_policy_finds_nothing(client: TestClient, user: dict[str, str]) -> None:
    body = client.post("/v1/guardrails/apply", json={"text": "kill"}, headers=user).json()
    assert (body["action"], body["verdicts"], body["text"], body["usage_policy_version"]) == (
        "none",
        [],
        "kill",
        None,
    )
