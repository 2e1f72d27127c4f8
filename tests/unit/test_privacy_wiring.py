"""Privacy on the request path: every operator through the API, unmasking, fail closed, admin policies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.bootstrap import Api, compose_api
from steward.catalog.registry import Registry, Target
from steward.privacy.engine import default_engine
from steward.privacy.guard import PrivacyGuard, tenant_hash_key
from steward.privacy.operators import decrypt_tokens
from steward.privacy.policies import PolicyBook
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import FakeEncryptor, FakeTransport, InMemoryAuditStore, InMemoryPolicyStore

from .conftest import MINILM, PEPPER, bearer

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
SSN = "536-22-8714"
SEEDED = (EMAIL, CARD, SSN)


def echo(target: Target, request: BackendRequest) -> BackendResponse:
    """A text model that repeats its BYTES input (so placeholders come back in the output)."""
    text = request.payload["inputs"][0]
    answer = {
        "model_name": request.model,
        "outputs": [{"name": "echo", "datatype": "BYTES", "shape": text["shape"], "data": text["data"]}],
    }
    return BackendResponse(200, json.dumps(answer).encode())


@pytest.fixture
def policy_store() -> InMemoryPolicyStore:
    return InMemoryPolicyStore()


@pytest.fixture
def encryptor() -> FakeEncryptor:
    return FakeEncryptor()


@pytest.fixture
def private_gateway(
    registry_store: Any,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    policy_store: InMemoryPolicyStore,
    encryptor: FakeEncryptor,
) -> Api:
    guard = PrivacyGuard(
        PolicyBook(policy_store, ttl_s=0), pepper=lambda: PEPPER, encryptor_for=lambda t: encryptor
    )
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=lambda s: None)
    return compose_api(Registry(registry_store), router, audit_store, privacy=guard)


@pytest.fixture
def api(settings: ApiSettings, private_gateway: Api, authorizer: Authorizer) -> Iterator[TestClient]:
    app = with_authorizer(create_app(settings, private_gateway), lambda e: authorize_event(e, authorizer))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_key(make_key: Callable[..., str]) -> str:
    return make_key("acme", admin=True)


def infer(api: TestClient, key: str, *texts: str) -> Any:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": list(texts)}]}
    return api.post(f"/v2/models/{MINILM}/infer", headers=bearer(key), json=body)


def sent_texts(transport: FakeTransport) -> list[str]:
    return [t for _, request, _ in transport.calls for t in request.payload["inputs"][0]["data"]]


def set_policy(api: TestClient, admin_key: str, entities: dict[str, Any], tenant: str = "acme") -> Any:
    response = api.put(f"/admin/policies/{tenant}", headers=bearer(admin_key), json={"entities": entities})
    assert response.status_code == 201, response.text
    return response.json()


def assert_no_values(*haystacks: object) -> None:
    text = json.dumps(haystacks, default=str)
    for value in SEEDED:
        assert value not in text


# --- default policy: placeholders, restored in the answer -------------------------------------
def test_placeholders_reach_the_model_and_are_restored_for_the_caller(
    api: TestClient, api_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    # Given a text model that echoes its input, and no stored policy (built-in default)
    transport.respond = echo
    # When a text with an e-mail (twice) and a card number is inferred
    response = infer(api, api_key, f"Mail {EMAIL} or {EMAIL}; card {CARD}")
    # Then the model saw consistent placeholders only
    assert response.status_code == 200, response.text
    assert sent_texts(transport) == ["Mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_1>; card <CREDIT_CARD_1>"]
    # And the caller gets the original values back in the output
    assert response.json()["outputs"][0]["data"] == [f"Mail {EMAIL} or {EMAIL}; card {CARD}"]
    # And the audit record counts by type, names the policy, and holds no value
    record = audit_store.records[-1]
    assert record["pii_counts"] == {"EMAIL_ADDRESS": 2, "CREDIT_CARD": 1}
    assert record["policy_version"] == "builtin@v1"
    assert_no_values(audit_store.records)


def test_embeddings_input_is_redacted_before_the_backend(
    api: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # When embeddings are asked for a text with an SSN
    response = api.post(
        "/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": [f"my ssn is {SSN}", "x"]}
    )
    # Then the backend got the placeholder, never the SSN
    assert response.status_code == 200, response.text
    assert sent_texts(transport) == ["my ssn is <US_SSN_1>", "x"]


def test_placeholder_the_caller_typed_is_never_restored(
    api: TestClient, api_key: str, transport: FakeTransport
) -> None:
    transport.respond = echo
    response = infer(api, api_key, f"<EMAIL_ADDRESS_1> and {EMAIL}")
    assert sent_texts(transport) == ["<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"]
    assert response.json()["outputs"][0]["data"] == [f"<EMAIL_ADDRESS_1> and {EMAIL}"]


def test_output_filter_applies_to_new_pii_written_by_the_model(
    api: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # Given a model that answers with an e-mail the caller never sent
    def leaky(target: Target, request: BackendRequest) -> BackendResponse:
        out = {
            "outputs": [{"name": "o", "datatype": "BYTES", "shape": [1], "data": ["ask bob@corp.example"]}]
        }
        return BackendResponse(200, json.dumps(out).encode())

    transport.respond = leaky
    # When the caller infers
    response = infer(api, api_key, "hello")
    # Then the new address is pseudonymised in the answer (there is nothing of the caller's to restore)
    assert response.json()["outputs"][0]["data"] == ["ask <EMAIL_ADDRESS_1>"]


# --- stored policies: redact, mask, hash, encrypt, block -------------------------------------
def test_redact_operator(api: TestClient, api_key: str, admin_key: str, transport: FakeTransport) -> None:
    set_policy(api, admin_key, {"EMAIL_ADDRESS": {"operator": "redact"}})
    transport.respond = echo
    response = infer(api, api_key, f"write to {EMAIL}")
    assert sent_texts(transport) == ["write to <EMAIL_ADDRESS>"]
    assert response.json()["outputs"][0]["data"] == ["write to <EMAIL_ADDRESS>"]  # gone for good


def test_mask_operator(api: TestClient, api_key: str, admin_key: str, transport: FakeTransport) -> None:
    set_policy(api, admin_key, {"CREDIT_CARD": {"operator": "mask", "mask_keep_last": 4}})
    infer(api, api_key, f"card {CARD}")
    assert sent_texts(transport) == ["card **** **** **** 1111"]


def test_hash_operator_is_stable_per_tenant_and_differs_across_tenants(
    api: TestClient, make_key: Callable[..., str], transport: FakeTransport
) -> None:
    # Given two tenants whose policies hash e-mail addresses
    for tenant in ("acme", "globex"):
        set_policy(api, make_key(tenant, admin=True), {"EMAIL_ADDRESS": {"operator": "hash"}}, tenant)
    acme, globex = make_key("acme"), make_key("globex")
    # When both send the same address, acme twice
    for key in (acme, acme, globex):
        assert infer(api, key, f"id {EMAIL}").status_code == 200
    # Then acme's tokens are equal, globex's differs, and none is the value
    first, second, other = sent_texts(transport)
    assert first == second != other
    assert re.fullmatch(r"id <EMAIL_ADDRESS#[0-9a-f]{16}>", first)
    assert tenant_hash_key(PEPPER, "acme") != tenant_hash_key(PEPPER, "globex")


def test_encrypt_operator_round_trips_with_the_tenant_context(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport, encryptor: FakeEncryptor
) -> None:
    set_policy(api, admin_key, {"US_SSN": {"operator": "encrypt"}})
    infer(api, api_key, f"ssn {SSN}")
    (sent,) = sent_texts(transport)
    assert SSN not in sent and sent.startswith("ssn <ENC:US_SSN:")
    assert decrypt_tokens(sent, encryptor, "acme") == f"ssn {SSN}"


def test_encrypt_with_the_key_service_down_refuses(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport, encryptor: FakeEncryptor
) -> None:
    set_policy(api, admin_key, {"US_SSN": {"operator": "encrypt"}})
    encryptor.fail = True
    response = infer(api, api_key, f"ssn {SSN}")
    assert (response.status_code, response.json()["code"]) == (503, "pii.detector_error")
    assert transport.calls == []


def test_block_refuses_with_types_only_and_no_backend_call(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    # Given a policy that blocks SSNs
    set_policy(api, admin_key, {"US_SSN": {"operator": "block"}, "EMAIL_ADDRESS": {"operator": "redact"}})
    # When an SSN is sent through embeddings
    response = api.post(
        "/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": f"{EMAIL} {SSN}"}
    )
    # Then it is refused with the blocked type, never the value, and the model saw nothing
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["entity_types"]) == ("pii.blocked", ["US_SSN"])
    assert_no_values(response.text, audit_store.records)
    assert transport.calls == []
    assert audit_store.records[-1]["policy_version"] == "tenant@v1"


# --- fail closed --------------------------------------------------------------------------
class Exploding:
    name = "exploding"
    entity_types = frozenset({"EMAIL_ADDRESS"})

    def detect(self, view: Any) -> list[Any]:
        raise RuntimeError(f"detector crashed on {EMAIL}")


def test_detector_error_refuses_and_never_calls_the_backend(
    api: TestClient,
    api_key: str,
    transport: FakeTransport,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a detector that raises
    engine = default_engine()
    monkeypatch.setattr(engine, "detectors", [*engine.detectors, Exploding()])
    # When text is sent through each text route
    for path, body in (
        ("/v1/embeddings", {"model": MINILM, "input": f"hi {EMAIL}"}),
        (
            f"/v2/models/{MINILM}/infer",
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["x"]}]},
        ),
        (
            f"/v1/models/{MINILM}/explain",
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["x"]}]},
        ),
        ("/v1/redact", {"text": "x"}),
    ):
        response = api.post(path, headers=bearer(api_key), json=body)
        # Then each is refused with 503 pii.detector_error
        assert (response.status_code, response.json()["code"]) == (503, "pii.detector_error"), path
    # And the backend was never called, and the failure was logged without the value
    assert transport.calls == []
    assert EMAIL not in capsys.readouterr().out


def test_deep_path_without_a_deep_detector_refuses(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport
) -> None:
    api.put(
        "/admin/policies/acme",
        headers=bearer(admin_key),
        json={"detection_path": "deep", "entities": {"PERSON": {}}},
    )
    response = infer(api, api_key, "Dr. John Smith")
    assert (response.status_code, response.json()["code"]) == (503, "pii.detector_error")
    assert transport.calls == []


def test_policy_store_down_refuses(
    api: TestClient, api_key: str, transport: FakeTransport, policy_store: InMemoryPolicyStore
) -> None:
    policy_store.fail = True
    response = infer(api, api_key, "hello")
    assert (response.status_code, response.json()["code"]) == (503, "pii.policy_unavailable")
    assert transport.calls == []


# --- POST /v1/redact ---------------------------------------------------------------------------
def test_redact_route_returns_text_findings_and_policy_version(
    api: TestClient, api_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    text = f"Mail {EMAIL}"
    response = api.post("/v1/redact", headers=bearer(api_key), json={"text": [text, "nothing here"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == ["Mail <EMAIL_ADDRESS_1>", "nothing here"]
    assert body["findings"] == [
        {
            "index": 0,
            "entity_type": "EMAIL_ADDRESS",
            "start": 5,
            "end": 5 + len(EMAIL),
            "score": pytest.approx(body["findings"][0]["score"]),
        }
    ]
    assert body["policy_version"] == "builtin@v1"
    assert transport.calls == []
    assert audit_store.records[-1]["pii_counts"] == {"EMAIL_ADDRESS": 1}
    assert_no_values(audit_store.records)
    single = api.post("/v1/redact", headers=bearer(api_key), json={"text": text, "direction": "output"})
    assert single.json()["text"] == "Mail <EMAIL_ADDRESS_1>"


def test_redact_route_with_a_model_the_key_may_not_use_is_404(api: TestClient, api_key: str) -> None:
    response = api.post("/v1/redact", headers=bearer(api_key), json={"text": "x", "model": "credit-risk"})
    assert (response.status_code, response.json()["code"]) == (404, "model.not_found")


# --- admin policy routes -----------------------------------------------------------------------
def test_policy_routes_need_the_admin_scope_of_the_tenant(
    api: TestClient, api_key: str, admin_key: str, make_key: Callable[..., str]
) -> None:
    doc = {"entities": {"EMAIL_ADDRESS": {"operator": "redact"}}}
    # A plain key, and an admin of another tenant, are refused
    for key, tenant in ((api_key, "acme"), (admin_key, "globex")):
        for response in (
            api.put(f"/admin/policies/{tenant}", headers=bearer(key), json=doc),
            api.get(f"/admin/policies/{tenant}", headers=bearer(key)),
        ):
            assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden")
    # A platform admin may administer any tenant
    platform = make_key("ops", platform_admin=True)
    assert api.put("/admin/policies/globex", headers=bearer(platform), json=doc).status_code == 201


def test_invalid_policy_is_422_naming_fields_only(api: TestClient, admin_key: str) -> None:
    response = api.put(
        "/admin/policies/acme",
        headers=bearer(admin_key),
        json={"entities": {"EMAIL_ADDRESS": {"operator": "shred"}}},
    )
    assert (response.status_code, response.json()["code"]) == (422, "pii.policy_invalid")
    assert "shred" not in response.text


def test_policies_are_versioned_per_scope_and_the_model_scope_wins(
    api: TestClient, api_key: str, admin_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    # Given two tenant versions and one model version
    assert set_policy(api, admin_key, {"EMAIL_ADDRESS": {"operator": "redact"}})["version"] == 1
    assert set_policy(api, admin_key, {"EMAIL_ADDRESS": {"operator": "mask"}})["version"] == 2
    response = api.put(
        f"/admin/policies/acme?model={MINILM}",
        headers=bearer(admin_key),
        json={"version": 99, "entities": {"EMAIL_ADDRESS": {"operator": "hash"}}},
    )
    assert (response.status_code, response.json()["version"], response.json()["model"]) == (201, 1, MINILM)
    # When the history is read
    history = api.get("/admin/policies/acme", headers=bearer(admin_key)).json()["data"]
    # Then every version is listed, newest first per scope
    assert [(p["model"], p["version"]) for p in history] == [(None, 2), (None, 1), (MINILM, 1)]
    # And a request on the model applies the model's policy and records its version
    infer(api, api_key, f"to {EMAIL}")
    assert "#" in sent_texts(transport)[0]
    assert audit_store.records[-1]["policy_version"] == f"model:{MINILM}@v1"


# --- error bodies -------------------------------------------------------------------------------
def test_validation_errors_never_echo_input_or_caller_chosen_keys(api: TestClient, api_key: str) -> None:
    body = {"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1], "data": [EMAIL]}], EMAIL: CARD}
    response = api.post(f"/v2/models/{MINILM}/infer", headers=bearer(api_key), json=body)
    assert (response.status_code, response.json()["code"]) == (422, "input.invalid")
    assert_no_values(response.text)
    assert response.json()["errors"][0]["loc"] == ["body", "*"]
    bad_type = api.post("/v1/redact", headers=bearer(api_key), json={"text": {"x": EMAIL}})
    assert bad_type.status_code == 422
    assert_no_values(bad_type.text)
