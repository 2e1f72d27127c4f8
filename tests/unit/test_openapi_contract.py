"""The OpenAPI document is a contract a client can generate code from, and the API keeps it.

The document names both ways to send the key, every status a route can answer with (each an
RFC 9457 problem document), and the request constraints validation really enforces. The slow test
runs Schemathesis over every operation with every check (what ``--checks all`` runs), positive and
negative data, against the app wired to in-memory stores: it must find nothing, and no check or
status is excluded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation import GenerationMode
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from steward import admin
from steward.audit.reader import CURSOR_PATTERN
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.batches.sealing import Seals
from steward.bootstrap import BatchPorts, compose_api
from steward.catalog.registry import Registry
from steward.controls.service import ControlService
from steward.fairness.monitor import FairnessMonitor
from steward.inference.limits import Limits
from steward.limits.admission import RateLimiter
from steward.limits.plan import Plan
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.engine import UsageGuard

from functions.api.app import create_app
from functions.api.schemas import Problem
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeEncryptor,
    FakeTransport,
    InMemoryAuditStore,
    InMemoryBatchStore,
    InMemoryControlStore,
    InMemoryFairnessStore,
    InMemoryJobQueue,
    InMemoryKeyStore,
    InMemoryLimitStore,
    InMemoryObjectStore,
    InMemoryPolicyStore,
    InMemoryRegistryStore,
    InMemoryReviewStore,
    InMemoryUsagePolicyStore,
    demo_model,
)

from .conftest import CREDIT, MINILM, PEPPER, bearer, review_queue

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
#: Statuses every operation behind the authorizer can answer with: no or bad key (401), a key
#: not allowed here (403), throttled by API Gateway (429), audit trail down, fail closed (503).
EVERY_OPERATION = (401, 403, 429, 503)
#: Known exclusions from the Schemathesis run: none. A finding is fixed, never listed here.
EXCLUDED_CHECKS: tuple[str, ...] = ()
MAX_EXAMPLES = 25


class Contract:
    """The app as a deployment wires it, with in-memory stores, and the keys to call it with."""

    def __init__(self, *, fairness: bool = True, settings: ApiSettings | None = None) -> None:
        self.settings = settings or ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()))
        keys, registry = InMemoryKeyStore(), InMemoryRegistryStore()
        for entry, version in (demo_model(MINILM), demo_model(CREDIT, task="tabular-classification")):
            registry.put_entry(entry)
            registry.put_version(version)
        use_cases = compose_api(
            Registry(registry),
            # A fuzzer's requests are the caller's mistakes, never backend faults: no breaker trips.
            Router({"http": FakeTransport()}, RouterPolicy(breaker_threshold=10**6), sleep=lambda _s: None),
            InMemoryAuditStore(),
            # As the deployment wires it: the gateway enforces the limits the document states.
            Limits(
                max_embedding_inputs=self.settings.max_embedding_inputs,
                max_input_chars=self.settings.max_input_chars,
            ),
            fairness=FairnessMonitor(InMemoryFairnessStore(), pepper=lambda: PEPPER, labels_ttl_s=0)
            if fairness
            else None,
            privacy=PrivacyGuard(PolicyBook(InMemoryPolicyStore()), pepper=lambda: PEPPER),
            rate_limiter=RateLimiter(InMemoryLimitStore(), default_plan=Plan()),  # nothing limited
            keys=KeyLifecycle(keys, lambda: PEPPER),
            usage=UsageGuard(UsagePolicyBook(InMemoryUsagePolicyStore(), ttl_s=0)),
            batches=BatchPorts(
                InMemoryBatchStore(),
                InMemoryObjectStore(),
                Seals(lambda t: FakeEncryptor()),
                InMemoryJobQueue(),
            ),
            reviews=review_queue(InMemoryReviewStore(), KeyLifecycle(keys, lambda: PEPPER)),
        )
        # Tenants and kill switches the fuzzer writes go to a store the gate never reads: a fuzzed
        # global switch or suspension must not turn the other operations' answers into 503/403.
        use_cases = dataclasses.replace(use_cases, controls=ControlService(InMemoryControlStore()))

        def key(tenant: str, *, platform_admin: bool = False) -> str:
            token, _ = admin.create_api_key(
                tenant,
                models=("*",),
                admin=True,
                platform_admin=platform_admin,
                settings=self.settings,
                store=keys,
                pepper=lambda: PEPPER,
            )
            return token

        # The data plane's key administers "acme"; the admin routes are called by another tenant's
        # platform admin, so policies stored under fuzzed tenant names never apply to "acme".
        self.tenant_admin = key("acme")
        self.platform_admin = key("ops", platform_admin=True)
        authorizer = Authorizer(keys, lambda: PEPPER)
        self.app: ASGIApp = with_authorizer(
            create_app(self.settings, use_cases), lambda event: authorize_event(event, authorizer)
        )

    def key_for(self, path: str) -> str:
        return self.platform_admin if path.startswith("/admin/") else self.tenant_admin


def _document(settings: ApiSettings | None = None) -> dict[str, Any]:
    app = create_app(settings or ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode())), api=None)
    assert isinstance(app, FastAPI)
    return app.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _document()


# --- the document --------------------------------------------------------------------------


def test_the_document_names_both_ways_to_send_the_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    by_kind = {(s["type"], s.get("scheme") or s.get("name")): name for name, s in schemes.items()}
    bearer_name = by_kind[("http", "bearer")]
    header_name = by_kind[("apiKey", "x-api-key")]
    assert schemes[header_name]["in"] == "header"
    # Either one is enough (alternatives, not both at once), on every operation.
    assert document["security"] == [{bearer_name: []}, {header_name: []}]
    for path, method, operation in _operations(document):
        assert operation.get("security", document["security"]) == document["security"], (method, path)


def test_every_error_answer_is_a_problem_document(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code", "request_id"}
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (method, path, status)


def test_every_operation_documents_what_it_can_answer(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        statuses = {int(s) for s in operation["responses"]}
        where = f"{method.upper()} {path}"
        assert statuses >= set(EVERY_OPERATION), where
        takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
        # 422 exactly where there is something to validate; FastAPI's own 422 schema never appears.
        assert (422 in statuses) == takes_input, where
        if "{model}" in path:
            assert 404 in statuses, where
        if operation.get("requestBody"):
            assert {400, 413} <= statuses, where  # malformed JSON, body over the limit
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_documented_constraints_are_the_ones_enforced(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    embeddings = schemas["EmbeddingsRequest"]["properties"]["input"]
    one, many = embeddings["anyOf"]
    assert (one["type"], one["minLength"], one["maxLength"]) == ("string", 1, 32_768)
    assert (many["minItems"], many["maxItems"], many["items"]["minLength"]) == (1, 128, 1)
    text = schemas["RedactRequest"]["properties"]["text"]
    assert [variant.get("minLength", variant.get("minItems")) for variant in text["anyOf"]] == [1, 1]
    feedback = schemas["FeedbackRequest"]["properties"]["request_id"]
    assert feedback["pattern"] == "^[A-Za-z0-9-]{1,128}$"
    audit = {p["name"]: p["schema"] for p in document["paths"]["/v1/audit"]["get"]["parameters"]}
    cursor = audit["cursor"]
    assert (cursor["type"], cursor["pattern"]) == ("string", CURSOR_PATTERN)


def test_the_documented_limits_follow_the_settings() -> None:
    settings = ApiSettings(
        stage="test", pepper=SecretStr(PEPPER.decode()), max_embedding_inputs=16, max_input_chars=1000
    )
    schemas = _document(settings)["components"]["schemas"]
    one, many = schemas["EmbeddingsRequest"]["properties"]["input"]["anyOf"]
    assert (one["maxLength"], many["maxItems"], many["items"]["maxLength"]) == (1000, 16, 1000)
    one, many = schemas["RedactRequest"]["properties"]["text"]["anyOf"]
    assert (one["maxLength"], many["maxItems"], many["items"]["maxLength"]) == (1000, 16, 1000)


def test_a_text_over_the_documented_max_length_is_a_422() -> None:
    """maxLength is part of the schema: breaking it is a validation error, like any other."""
    contract = Contract(
        settings=ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()), max_input_chars=8)
    )
    with TestClient(contract.app) as client:
        for path, body in (
            ("/v1/embeddings", {"model": MINILM, "input": ["ok", "x" * 9]}),
            ("/v1/redact", {"text": "x" * 9}),
        ):
            answer = client.post(path, json=body, headers=bearer(contract.tenant_admin))
            assert (answer.status_code, answer.json()["code"]) == (422, "input.invalid"), path


def test_integers_written_with_a_fraction_of_zero_are_integers() -> None:
    """JSON Schema reads 1.0 as the integer 1, so validation does too (never "1" or true)."""
    contract = Contract()
    with TestClient(contract.app) as client:

        def post(path: str, body: dict[str, Any]) -> int:
            return client.post(path, json=body, headers=bearer(contract.tenant_admin)).status_code

        assert post("/v1/feedback", {"request_id": "r-1", "labels": [1.0, 0.0, True]}) == 404  # unknown id
        assert post("/v1/embeddings", {"model": MINILM, "input": "hi", "dimensions": 384.0}) == 200
        assert post("/v1/embeddings", {"model": MINILM, "input": "hi", "dimensions": "384"}) == 422
        assert post("/v1/feedback", {"request_id": "r-1", "label": "1"}) == 422


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({"threshold": True}, 422),  # not 1.0
        ({"restore_output": "false"}, 422),  # not False
        ({"schema_version": True}, 422),
        ({"entities": {"EMAIL_ADDRESS": {"threshold": False}}}, 422),
        ({"entities": {"EMAIL_ADDRESS": {"operator": "mask", "mask_keep_last": 4.0}}}, 201),
    ],
)
def test_a_policy_document_keeps_its_json_types(document: dict[str, Any], status: int) -> None:
    """A guardrail setting is never read from a value of another type (``true`` as threshold 1.0)."""
    contract = Contract()
    with TestClient(contract.app) as client:
        answer = client.put("/admin/policies/acme", json=document, headers=bearer(contract.tenant_admin))
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["code"] == "pii.policy_invalid"


@pytest.mark.parametrize(
    "path", ["/v1/models/nope", "/v2/models/nope", "/admin/policies/acme?model=nope", "/v1/nothing"]
)
def test_error_bodies_match_the_documented_problem_schema(path: str) -> None:
    contract = Contract()
    with TestClient(contract.app) as client:
        method = "PUT" if path.startswith("/admin") else "GET"
        answer = client.request(method, path, json={}, headers=bearer(contract.tenant_admin))
    assert answer.status_code == 404
    Problem.model_validate(answer.json(), strict=True)


@pytest.mark.parametrize("cursor", ["00", "AAAA", "_-_-_-", "MjAyMy0xMS0xNFQyMjoxMzoyMC4yNTBaI3JlcS0x"])
def test_every_cursor_the_document_allows_is_a_position(cursor: str) -> None:
    contract = Contract()
    with TestClient(contract.app) as client:
        answer = client.get("/v1/audit", params={"cursor": cursor}, headers=bearer(contract.tenant_admin))
    assert (answer.status_code, answer.json()["object"]) == (200, "list")


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/admin/policies/acme", "GET, PUT"),
        ("/admin/fairness/acme/groups", "GET, PUT"),
        ("/v1/embeddings", "POST"),
    ],
)
def test_a_405_names_every_method_of_the_path(path: str, allow: str) -> None:
    """One route per method in FastAPI: ``Allow`` must still list them all (RFC 9110)."""
    contract = Contract()
    with TestClient(contract.app) as client:
        answer = client.request("DELETE", path, headers=bearer(contract.platform_admin))
    assert (answer.status_code, answer.headers["allow"]) == (405, allow)


def test_a_deployment_without_fairness_monitoring_answers_501(document: dict[str, Any]) -> None:
    """Not the caller's fault (so not a 4xx) and not transient (so not a 503): documented 501."""
    contract = Contract(fairness=False)
    with TestClient(contract.app) as client:
        answers = [
            client.post(
                "/v1/feedback", headers=bearer(contract.tenant_admin), json={"request_id": "r-1", "label": 1}
            ),
            client.get("/admin/fairness/acme/groups", headers=bearer(contract.tenant_admin)),
        ]
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (501, "feature.not_configured")
        assert answer.headers["content-type"] == PROBLEM_JSON
    assert "501" in document["paths"]["/v1/feedback"]["post"]["responses"]
    assert "501" in document["paths"]["/admin/fairness/{tenant}/groups"]["get"]["responses"]


def test_the_run_below_uses_every_schemathesis_check() -> None:
    """``call_and_validate`` runs each check the configuration enables; all of them are."""
    load_all_checks()
    schema = schemathesis.openapi.from_dict(_document())
    operation = schema["/v1/embeddings"]["POST"]
    config = schema.config.checks_config_for(operation=operation, phase=None)
    names = CHECKS.get_all_names()
    assert len(names) >= 14 and not EXCLUDED_CHECKS
    assert [n for n in names if not config.get_by_name(name=n).enabled] == []
    modes = schema.config.generation_for(operation=operation).modes
    assert set(modes) == {GenerationMode.POSITIVE, GenerationMode.NEGATIVE}


# --- the API keeps it ----------------------------------------------------------------------


#: Built at import: Schemathesis makes one test per operation from the served document.
CONTRACT = Contract()
schema = schemathesis.openapi.from_asgi("/openapi.json", CONTRACT.app)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_openapi_contract(case: Any) -> None:
    case.call_and_validate(
        headers=bearer(CONTRACT.key_for(case.path)),
        excluded_checks=[CHECKS.get_one(name) for name in EXCLUDED_CHECKS],
    )
