"""Audit records that can't be reversed, and that always describe what the caller received.

* Inputs and outputs appear as a keyed MAC (per-tenant key derived from the pepper), not a plain
  SHA-256 that anyone holding a record can brute-force back to a short input (an SSN).
* A write whose outcome is unknown (timed out, landed later) can never leave a record saying 200
  while the caller got 503: the first write only creates, and a correction replaces it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry
from steward.privacy.guard import PrivacyGuard, tenant_hash_key
from steward.privacy.policies import PolicyBook
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryPolicyStore, InMemoryRegistryStore

from .conftest import MINILM, PEPPER, bearer

SSN = b'{"model": "all-minilm-l6-v2", "input": "078-05-1120"}'


def audit_key(tenant: str) -> bytes:
    """The documented derivation: HMAC-SHA256(pepper, "steward-audit-mac:" + tenant)."""
    return hmac.new(PEPPER, b"steward-audit-mac:" + tenant.encode(), hashlib.sha256).digest()


def mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def post(client: TestClient, token: str, body: bytes = SSN) -> Any:
    headers = {**bearer(token), "content-type": "application/json"}
    return client.post("/v1/embeddings", headers=headers, content=body)


# --- keyed, per-tenant MACs ----------------------------------------------------------------------
def test_input_and_output_are_keyed_macs_per_tenant(
    client: TestClient, make_key: Callable[..., str], audit_store: InMemoryAuditStore
) -> None:
    acme, globex = make_key("acme", (MINILM,)), make_key("globex", (MINILM,))
    responses = [post(client, acme), post(client, globex)]
    first, second = audit_store.records
    # The plain SHA-256 an attacker would brute-force is gone, under any name
    plain = hashlib.sha256(SSN).hexdigest()
    assert plain not in json.dumps(audit_store.records)
    assert "input_sha256" not in first and "output_sha256" not in first
    # Each record carries HMAC(tenant key, bytes) of what came in and what went out
    assert first["input_hmac"] == mac(audit_key("acme"), SSN)
    assert second["input_hmac"] == mac(audit_key("globex"), SSN)
    assert first["output_hmac"] == mac(audit_key("acme"), responses[0].content)
    assert first["input_hmac"] != second["input_hmac"]  # no linking the same text across tenants
    # and callers read the renamed fields
    (view,) = client.get("/v1/audit", headers=bearer(acme)).json()["data"]
    assert view["input_hmac"] == first["input_hmac"] and "input_sha256" not in view


def test_audit_keys_differ_from_the_pii_hash_keys() -> None:
    from steward.audit.record import tenant_audit_key

    assert tenant_audit_key(PEPPER, "acme") == audit_key("acme")
    assert tenant_audit_key(PEPPER, "acme") != tenant_hash_key(PEPPER, "acme")
    anonymous = tenant_audit_key(PEPPER, None)
    assert anonymous not in {tenant_audit_key(PEPPER, t) for t in ("", "_unauthenticated", "anonymous")}


def test_an_unauthenticated_request_is_audited_under_the_anonymous_key(
    settings: ApiSettings, use_cases: Api, audit_store: InMemoryAuditStore
) -> None:
    from steward.audit.record import tenant_audit_key

    with TestClient(create_app(settings, use_cases)) as bare:  # no authorizer context at all
        response = bare.post("/v1/embeddings", headers={"content-type": "application/json"}, content=SSN)
    assert response.status_code == 401
    (record,) = audit_store.records
    assert record["tenant_id"] == "_unauthenticated"
    assert record["output_hmac"] == mac(tenant_audit_key(PEPPER, None), response.content)


def test_an_unresolved_model_name_is_recorded_as_a_keyed_digest(
    client: TestClient, api_key: str, audit_store: InMemoryAuditStore
) -> None:
    name = "078-05-1120"  # a caller pasted an SSN where the model goes
    response = post(client, api_key, json.dumps({"model": name, "input": "x"}).encode())
    assert response.status_code == 404
    assert audit_store.records[0]["model"] == "unresolved:" + mac(audit_key("acme"), name.encode())[:16]


class CountingPepper:
    def __init__(self, value: bytes | None) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> bytes:
        self.calls += 1
        if self.value is None:
            raise ConnectionError("secrets manager unreachable")
        return self.value


@pytest.fixture
def pepper() -> CountingPepper:
    return CountingPepper(PEPPER)


@pytest.fixture
def guarded(
    settings: ApiSettings,
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    authorizer: Authorizer,
    pepper: CountingPepper,
) -> Iterator[TestClient]:
    """The app over a gateway whose privacy guard holds the process's pepper source."""
    privacy = PrivacyGuard(PolicyBook(InMemoryPolicyStore()), pepper=pepper)
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=lambda s: None)
    use_cases = compose_api(Registry(registry_store), router, audit_store, privacy=privacy)
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as test_client:
        yield test_client


def test_the_pepper_is_read_once_per_process(
    guarded: TestClient, make_key: Callable[..., str], pepper: CountingPepper, audit_store: InMemoryAuditStore
) -> None:
    tokens = [make_key("acme", (MINILM,)), make_key("globex", (MINILM,))]
    for _ in range(3):
        for token in tokens:
            assert post(guarded, token).status_code == 200
    assert pepper.calls == 1
    assert audit_store.records[-1]["input_hmac"] == mac(audit_key("globex"), SSN)


def test_no_pepper_fails_closed_before_inference(
    guarded: TestClient,
    api_key: str,
    pepper: CountingPepper,
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
) -> None:
    pepper.value = None
    response = post(guarded, api_key)
    assert (response.status_code, response.json()["code"]) == (503, "audit.unavailable")
    assert transport.calls == []  # no record can be keyed, so nothing runs
    assert audit_store.records == []
    # and it recovers by itself once the secret is readable again
    pepper.value = PEPPER
    assert post(guarded, api_key).status_code == 200
    assert len(audit_store.records) == 1


# --- the record describes what the caller received -----------------------------------------------
class UnreliableAuditStore(InMemoryAuditStore):
    """``put`` outcomes a slow DynamoDB produces; ``correct`` may fail too."""

    def __init__(self) -> None:
        super().__init__()
        self.put_mode = "ok"  # "ok" | "lost_ack" (landed, caller saw a timeout) | "late" (lands later)
        self.correct_fails = False
        self.in_flight: list[dict[str, Any]] = []

    def put(self, record: Mapping[str, Any]) -> None:
        if self.put_mode == "lost_ack":
            super().put(record)
            raise TimeoutError("read timeout")
        if self.put_mode == "late":
            self.in_flight.append(dict(record))
            raise TimeoutError("read timeout")
        super().put(record)

    def correct(self, record: Mapping[str, Any]) -> None:
        if self.correct_fails:
            raise TimeoutError("read timeout")
        super().correct(record)

    def land_late_writes(self) -> None:
        for record in self.in_flight:
            InMemoryAuditStore.put(self, record)  # the same conditional write, arriving late
        self.in_flight.clear()


@pytest.fixture
def unreliable() -> UnreliableAuditStore:
    return UnreliableAuditStore()


@pytest.fixture
def audit_store(unreliable: UnreliableAuditStore) -> InMemoryAuditStore:
    return unreliable


def _the_one_record(store: InMemoryAuditStore, response: Any) -> dict[str, Any]:
    mine = [r for r in store.records if r["request_id"] == response.headers["x-request-id"]]
    assert len(mine) == 1
    return mine[0]


def _says_what_the_caller_got(record: dict[str, Any], response: Any) -> None:
    assert response.status_code == 503 and response.json()["code"] == "audit.unavailable"
    assert (record["status"], record["decision"]) == (503, "error")
    assert "audit.unavailable" in record["reason_codes"]
    assert record["output_hmac"] == mac(audit_key("acme"), response.content)


def test_a_write_that_landed_but_timed_out_is_corrected(
    client: TestClient, api_key: str, unreliable: UnreliableAuditStore
) -> None:
    unreliable.put_mode = "lost_ack"
    response = post(client, api_key)
    _says_what_the_caller_got(_the_one_record(unreliable, response), response)


def test_a_write_landing_after_the_correction_cannot_say_200(
    client: TestClient, api_key: str, unreliable: UnreliableAuditStore
) -> None:
    unreliable.put_mode = "late"
    response = post(client, api_key)
    unreliable.land_late_writes()  # the timed-out write arrives at the table after all
    _says_what_the_caller_got(_the_one_record(unreliable, response), response)


def test_a_correction_that_fails_is_written_by_the_next_request(
    client: TestClient, api_key: str, unreliable: UnreliableAuditStore
) -> None:
    unreliable.put_mode, unreliable.correct_fails = "late", True
    failed = post(client, api_key)
    unreliable.land_late_writes()  # says 200 for now: the store never acknowledged anything
    unreliable.put_mode, unreliable.correct_fails = "ok", False
    assert post(client, api_key).status_code == 200
    _says_what_the_caller_got(_the_one_record(unreliable, failed), failed)


def test_a_retried_write_that_finds_itself_counts_as_written(
    client: TestClient, api_key: str, unreliable: UnreliableAuditStore
) -> None:
    response = post(client, api_key)
    (record,) = unreliable.records
    unreliable.put(dict(record, status=503))  # a retry of the same key: creates nothing, replaces nothing
    assert response.status_code == 200 and [r["status"] for r in unreliable.records] == [200]
