"""Every route's JSON answer is what `functions.api.schemas` says it is.

Routes return ready-made ``Response``s (orjson, no re-validation on the hot path), so FastAPI
never holds a body to the route's ``response_model``: this test does. It calls every route of the
app with valid input, against in-memory stores and a fake backend, and validates each 2xx JSON
body against the route's declared model, strictly (JSON types as the schema states them, no
member the schema doesn't declare, unless the model allows extras). A new route without a case
here fails the first test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import SecretStr, TypeAdapter
from starlette.testclient import TestClient
from steward import admin
from steward.audit.record import AuditDraft
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.auth.principal import Principal
from steward.batches.sealing import Seals
from steward.bootstrap import BatchPorts, compose_api
from steward.catalog.registry import Registry
from steward.context import RequestContext
from steward.fairness.monitor import FairnessMonitor
from steward.limits.admission import RateLimiter
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.review.service import ReviewService
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.document import Direction
from steward.usage_policy.engine import UsageGuard
from steward.usage_policy.ports import Flagged

from functions.api.app import create_app
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
    embedding_response,
)

from .conftest import CREDIT, MINILM, PEPPER, bearer, review_queue

#: A card that makes the credit model a decision-maker (threshold), so its predictions are monitored.
CARD = {
    "description": "Credit risk demo",
    "intended_use": "Demos",
    "out_of_scope_uses": "Real decisions",
    "training_data": "Synthetic",
    "evaluation": {"accuracy": 0.75, "threshold": 0.6},
    "fairness": {"demographic_parity_difference": 0.24},
    "limitations": "Synthetic bias",
    "owner": "ml-team",
}
ROWS = [[0.7, 1.0, 0.0]]
STEERED = "steered-model"


def backend(target: Any, request: BackendRequest) -> BackendResponse:
    """Embeddings for the text model; probabilities and attributions for the credit model."""
    if request.model != CREDIT:
        return BackendResponse(200, json.dumps(embedding_response(request)).encode())
    rows = request.payload["inputs"][0]["data"]
    outputs: list[dict[str, Any]]
    parameters: dict[str, Any] = {}
    if request.operation == "explain":
        outputs = [
            {"name": "attributions", "datatype": "FP64", "shape": [len(rows), 3], "data": [0.2, -0.1, 0.05]},
            {"name": "base_value", "datatype": "FP64", "shape": [len(rows)], "data": [0.5]},
        ]
        parameters = {"method": "exact", "target": 1, "feature_names": ["a", "b", "c"]}
    else:
        data = [p for row in rows for p in (1 - row[0], row[0])]
        outputs = [{"name": "probabilities", "datatype": "FP32", "shape": [len(rows), 2], "data": data}]
    body: dict[str, Any] = {"model_name": request.model, "model_version": request.version, "outputs": outputs}
    if parameters:
        body["parameters"] = parameters
    return BackendResponse(200, json.dumps(body).encode())


@dataclass
class Stack:
    """The app as a deployment wires it (fairness and privacy on), and a key per role."""

    client: TestClient
    app: FastAPI
    user: str
    tenant_admin: str
    platform_admin: str = ""
    reviews: ReviewService | None = None


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    settings = ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()))
    keys, registry = InMemoryKeyStore(), InMemoryRegistryStore()
    for entry, version in (demo_model(MINILM), demo_model(CREDIT, task="tabular-classification")):
        registry.put_entry(entry)
        registry.put_version(replace(version, card=CARD) if version.model == CREDIT else version)
    for n in ("1", "2", "3"):  # a model to steer (routing, promote, rollback, retire)
        entry, version = demo_model(STEERED, n, task="tabular-classification")
        registry.put_version(version)
    registry.put_entry(entry)
    registry.entries[STEERED] = replace(entry, default_version="1")
    reviews = review_queue(InMemoryReviewStore(), KeyLifecycle(keys, lambda: PEPPER))
    use_cases = compose_api(
        Registry(registry),
        Router({"http": FakeTransport(respond=backend)}, RouterPolicy(), sleep=lambda _s: None),
        InMemoryAuditStore(),
        fairness=FairnessMonitor(InMemoryFairnessStore(), pepper=lambda: PEPPER, labels_ttl_s=0),
        privacy=PrivacyGuard(PolicyBook(InMemoryPolicyStore()), pepper=lambda: PEPPER),
        keys=KeyLifecycle(keys, lambda: PEPPER),
        controls=InMemoryControlStore(),
        rate_limiter=RateLimiter(InMemoryLimitStore()),
        usage=UsageGuard(UsagePolicyBook(InMemoryUsagePolicyStore(), ttl_s=0)),
        batches=BatchPorts(
            InMemoryBatchStore(), InMemoryObjectStore(), Seals(lambda t: FakeEncryptor()), InMemoryJobQueue()
        ),
        reviews=reviews,
    )

    def key(*, is_admin: bool, platform: bool = False) -> str:
        token, _ = admin.create_api_key(
            "acme",
            models=("*",),
            admin=is_admin,
            platform_admin=platform,
            settings=settings,
            store=keys,
            pepper=lambda: PEPPER,
        )
        return token

    app = create_app(settings, use_cases)
    authorizer = Authorizer(keys, lambda: PEPPER)
    wrapped = with_authorizer(app, lambda event: authorize_event(event, authorizer))
    with TestClient(wrapped) as client:
        users = (key(is_admin=False), key(is_admin=True), key(is_admin=True, platform=True))
        yield Stack(client, app, *users, reviews=reviews)


@dataclass(frozen=True)
class Call:
    """One request: what a client sends to the route."""

    path: str
    json: Any = None
    params: dict[str, str] | None = None
    admin: bool = False
    platform: bool = False  # a platform-admin key (tenants, kill switches)
    files: dict[str, Any] | None = None  # a multipart upload (with ``data``)
    data: dict[str, str] | None = None


def _declare_and_predict(stack: Stack) -> str:
    """A monitored prediction (declared group): its request id is what feedback names."""
    declared = stack.client.put(
        "/admin/fairness/acme/groups", headers=bearer(stack.tenant_admin), json={"labels": ["A", "B"]}
    )
    assert declared.status_code == 200, declared.text
    made = stack.client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(stack.user), json=_rows(group="A"))
    assert made.status_code == 200, made.text
    return made.headers["x-request-id"]


def _after(stack: Stack, method: str, path: str, body: Any, call: Call) -> Call:
    """``call``, once ``method path`` succeeded: a listing then has an item to check."""
    key = _key(stack, call)
    done = stack.client.request(method, path, json=body, headers=bearer(key))
    assert done.status_code < 300, done.text
    return call


def _key(stack: Stack, call: Call) -> str:
    return stack.platform_admin if call.platform else stack.tenant_admin if call.admin else stack.user


def _rows(**parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 3], "data": ROWS}]
    }
    if parameters:
        body["parameters"] = parameters
    return body


BATCH_LINE = {
    "custom_id": "a",
    "method": "POST",
    "url": "/v1/embeddings",
    "body": {"model": MINILM, "input": "x"},
}
UPLOAD: dict[str, Any] = {"file": ("requests.jsonl", json.dumps(BATCH_LINE).encode() + b"\n")}


def _file(stack: Stack) -> str:
    """An uploaded batch file of the caller's tenant: its id."""
    made = stack.client.post("/v1/files", headers=bearer(stack.user), files=UPLOAD, data={"purpose": "batch"})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def _batch(stack: Stack) -> str:
    """A batch of the caller's tenant (left validating: no worker runs here): its id."""
    body = {"input_file_id": _file(stack), "endpoint": "/v1/embeddings", "completion_window": "24h"}
    made = stack.client.post("/v1/batches", headers=bearer(stack.user), json=body)
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def _listing(stack: Stack) -> Call:
    """The batch listing, once there is a batch to list."""
    _batch(stack)
    return Call("/v1/batches", params={"limit": "2"})


def _new_key(stack: Stack) -> str:
    """A key of the tenant, created through the API: the id to rotate or revoke."""
    created = stack.client.post(
        "/admin/keys", json={"tenant_id": "acme", "models": [MINILM]}, headers=bearer(stack.tenant_admin)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["key_id"])


def _review(stack: Stack) -> str:
    """A review item of the tenant (a flag recorded as the request path records it), the request
    made by a key of its own (a violation's case revokes it)."""
    assert stack.reviews is not None
    caller = Principal("acme", _new_key(stack), frozenset(), frozenset({"*"}))
    ctx = RequestContext(caller, AuditDraft(f"r-{uuid.uuid4()}", "POST", "/v1/embeddings", 0.0, "acme"))
    flag = Flagged("word", "w", Direction.INPUT, True, (f"text {uuid.uuid4()}",), MINILM, "tenant@v1")
    [outcome] = stack.reviews.flagged(ctx, [flag])
    assert outcome.review_id is not None
    return outcome.review_id


def _reviews_listed(stack: Stack) -> Call:
    """A listing with a next page (two items, one per page)."""
    _review(stack), _review(stack)
    return Call("/admin/reviews", params={"tenant": "acme", "limit": "1"}, admin=True)


Case = Callable[[Stack], Call]
#: (method, route template) -> a valid request. Every route of the app has one.
CASES: dict[tuple[str, str], Case] = {
    ("GET", "/health"): lambda s: Call("/health"),
    ("POST", "/v1/files"): lambda s: Call("/v1/files", files=UPLOAD, data={"purpose": "batch"}),
    ("GET", "/v1/files"): lambda s: (_file(s), _file(s), Call("/v1/files", params={"limit": "1"}))[-1],
    ("GET", "/v1/files/{file_id}"): lambda s: Call(f"/v1/files/{_file(s)}"),
    ("GET", "/v1/files/{file_id}/content"): lambda s: Call(f"/v1/files/{_file(s)}/content"),
    ("DELETE", "/v1/files/{file_id}"): lambda s: Call(f"/v1/files/{_file(s)}"),
    ("POST", "/v1/batches"): lambda s: Call(
        "/v1/batches",
        {
            "input_file_id": _file(s),
            "endpoint": "/v1/embeddings",
            "completion_window": "24h",
            "metadata": {"run": "ci"},
        },
    ),
    ("GET", "/v1/batches"): lambda s: _listing(s),
    ("GET", "/v1/batches/{batch_id}"): lambda s: Call(f"/v1/batches/{_batch(s)}"),
    ("POST", "/v1/batches/{batch_id}/cancel"): lambda s: Call(f"/v1/batches/{_batch(s)}/cancel"),
    ("GET", "/v1/models"): lambda s: Call("/v1/models"),
    ("GET", "/v1/models/{model}"): lambda s: Call(f"/v1/models/{MINILM}"),
    ("POST", "/v1/embeddings"): lambda s: Call("/v1/embeddings", {"model": MINILM, "input": ["a", "b"]}),
    ("GET", "/v1/audit"): lambda s: _after(
        s, "GET", "/v1/models", None, Call("/v1/audit", params={"limit": "5"})
    ),
    ("POST", "/v1/models/{model}/explain"): lambda s: Call(f"/v1/models/{CREDIT}/explain", _rows()),
    ("GET", "/v1/models/{model}/card"): lambda s: Call(f"/v1/models/{CREDIT}/card"),
    ("GET", "/v1/models/{model}/compare"): lambda s: _after(
        s, "POST", f"/v2/models/{CREDIT}/infer", _rows(), Call(f"/v1/models/{CREDIT}/compare")
    ),
    ("GET", "/admin/models/{model}/routing"): lambda s: Call(
        f"/admin/models/{STEERED}/routing", params={"history": "true"}, platform=True
    ),
    ("PUT", "/admin/models/{model}/routing"): lambda s: Call(
        f"/admin/models/{STEERED}/routing", {"weights": {"1": 90, "2": 10}, "sticky": True}, platform=True
    ),
    ("POST", "/admin/models/{model}/versions/{version}/promote"): lambda s: Call(
        f"/admin/models/{STEERED}/versions/2/promote", {"reason": "release"}, platform=True
    ),
    ("POST", "/admin/models/{model}/rollback"): lambda s: _after(
        s,
        "POST",
        f"/admin/models/{STEERED}/versions/2/promote",
        {},
        Call(f"/admin/models/{STEERED}/rollback", {"version": "1"}, platform=True),
    ),
    ("POST", "/admin/models/{model}/versions/{version}/retire"): lambda s: Call(
        f"/admin/models/{STEERED}/versions/3/retire", {}, platform=True
    ),
    ("GET", "/v1/models/{model}/quality"): lambda s: Call(
        f"/v1/models/{CREDIT}/quality", params={"days": "7"}
    ),
    ("GET", "/v1/models/{model}/drift"): lambda s: Call(f"/v1/models/{CREDIT}/drift", params={"days": "3"}),
    ("POST", "/v1/feedback"): lambda s: Call(
        "/v1/feedback", {"request_id": _declare_and_predict(s), "label": 1}
    ),
    ("POST", "/v1/redact"): lambda s: Call("/v1/redact", {"text": "mail jane.doe@example.com today"}),
    ("GET", "/v2/health/live"): lambda s: Call("/v2/health/live"),
    ("GET", "/v2/health/ready"): lambda s: Call("/v2/health/ready"),
    ("GET", "/v2"): lambda s: Call("/v2"),
    ("GET", "/v2/models/{model}"): lambda s: Call(f"/v2/models/{CREDIT}"),
    ("GET", "/v2/models/{model}/versions/{version}"): lambda s: Call(f"/v2/models/{CREDIT}/versions/1"),
    ("GET", "/v2/models/{model}/ready"): lambda s: Call(f"/v2/models/{MINILM}/ready"),
    ("GET", "/v2/models/{model}/versions/{version}/ready"): lambda s: Call(
        f"/v2/models/{MINILM}/versions/1/ready"
    ),
    ("POST", "/v2/repository/index"): lambda s: Call("/v2/repository/index", {"ready": True}),
    ("POST", "/v2/models/{model}/infer"): lambda s: Call(f"/v2/models/{CREDIT}/infer", _rows()),
    ("POST", "/v2/models/{model}/versions/{version}/infer"): lambda s: Call(
        f"/v2/models/{CREDIT}/versions/1/infer", _rows(group="B")
    ),
    ("PUT", "/admin/policies/{tenant}"): lambda s: Call(
        "/admin/policies/acme", {"threshold": 0.5}, params={"model": MINILM}, admin=True
    ),
    ("GET", "/admin/policies/{tenant}"): lambda s: _after(
        s, "PUT", "/admin/policies/acme", {"threshold": 0.4}, Call("/admin/policies/acme", admin=True)
    ),
    ("GET", "/v1/usage"): lambda s: _after(
        s, "POST", "/v1/embeddings", {"model": MINILM, "input": "a"}, Call("/v1/usage")
    ),
    ("GET", "/admin/usage/{tenant}"): lambda s: Call("/admin/usage/acme", admin=True),
    ("PUT", "/admin/limits/{tenant}"): lambda s: Call(
        "/admin/limits/acme", {"key": {"rpm": 1000}, "models": {MINILM: {"daily_units": 10**9}}}, admin=True
    ),
    ("GET", "/admin/limits/{tenant}"): lambda s: Call("/admin/limits/acme", admin=True),
    ("POST", "/admin/tenants"): lambda s: Call("/admin/tenants", {"tenant_id": "initech"}, platform=True),
    ("GET", "/admin/tenants"): lambda s: _after(
        s, "POST", "/admin/tenants", {"tenant_id": "umbrella"}, Call("/admin/tenants", platform=True)
    ),
    ("POST", "/admin/tenants/{tenant}/suspend"): lambda s: _after(
        s,
        "POST",
        "/admin/tenants",
        {"tenant_id": "hooli", "allowed_models": [MINILM]},
        Call("/admin/tenants/hooli/suspend", {"reason": "abuse", "note": "n"}, platform=True),
    ),
    ("POST", "/admin/tenants/{tenant}/resume"): lambda s: _after(
        s,
        "POST",
        "/admin/tenants",
        {"tenant_id": "vehement"},
        Call("/admin/tenants/vehement/resume", {"reason": "other"}, platform=True),
    ),
    ("POST", "/admin/kill-switches"): lambda s: Call(
        "/admin/kill-switches", {"scope": "version:no-such-model@9", "reason": "incident"}, platform=True
    ),
    ("GET", "/admin/kill-switches"): lambda s: _after(
        s,
        "POST",
        "/admin/kill-switches",
        {"scope": "model:no-such-model", "reason": "incident", "note": "n"},
        Call("/admin/kill-switches", platform=True),
    ),
    ("POST", "/admin/kill-switches/clear"): lambda s: Call(
        "/admin/kill-switches/clear", {"scope": "model:no-such-model", "reason": "incident"}, platform=True
    ),
    ("PUT", "/admin/fairness/{tenant}/groups"): lambda s: Call(
        "/admin/fairness/acme/groups", {"labels": ["A", "B", "C"]}, admin=True
    ),
    ("GET", "/admin/fairness/{tenant}/groups"): lambda s: _after(
        s,
        "PUT",
        "/admin/fairness/acme/groups",
        {"labels": ["A"]},
        Call("/admin/fairness/acme/groups", admin=True),
    ),
    ("POST", "/admin/keys"): lambda s: Call(
        "/admin/keys", {"tenant_id": "acme", "models": [MINILM], "rpm": 10, "name": "ci"}, admin=True
    ),
    ("GET", "/admin/keys"): lambda s: _after(
        s,
        "POST",
        "/admin/keys",
        {"tenant_id": "acme", "models": ["*"]},
        Call("/admin/keys", params={"tenant": "acme"}, admin=True),
    ),
    ("POST", "/admin/keys/{key_id}/rotate"): lambda s: Call(
        f"/admin/keys/{_new_key(s)}/rotate", {"overlap_hours": 1}, admin=True
    ),
    ("POST", "/admin/keys/{key_id}/revoke"): lambda s: Call(f"/admin/keys/{_new_key(s)}/revoke", admin=True),
    ("POST", "/v1/guardrails/apply"): lambda s: _after(
        s,
        "PUT",
        "/admin/usage-policies/acme",
        {"word_lists": [{"name": "w", "words": ["kill"], "action": "flag"}]},
        Call(
            "/v1/guardrails/apply",
            {"text": ["k1ll jane.doe@example.com", "fine"], "model": MINILM},
            admin=True,
        ),
    ),
    ("PUT", "/admin/usage-policies/{tenant}"): lambda s: Call(
        "/admin/usage-policies/acme",
        {"patterns": [{"name": "p", "regex": "ACC-[0-9]+", "action": "block"}], "apply_to": ["input"]},
        params={"model": MINILM},
        admin=True,
    ),
    ("GET", "/admin/reviews"): lambda s: _reviews_listed(s),
    ("GET", "/admin/reviews/{review_id}"): lambda s: Call(f"/admin/reviews/{_review(s)}", admin=True),
    ("POST", "/admin/reviews/{review_id}/claim"): lambda s: Call(
        f"/admin/reviews/{_review(s)}/claim", admin=True
    ),
    ("POST", "/admin/reviews/{review_id}/resolve"): lambda s: (
        lambda review_id: _after(
            s,
            "POST",
            f"/admin/reviews/{review_id}/claim",
            None,
            Call(
                f"/admin/reviews/{review_id}/resolve",
                {"decision": "violation", "suspend_key": True},
                admin=True,
            ),
        )
    )(_review(s)),
    ("GET", "/admin/usage-policies/{tenant}"): lambda s: _after(
        s,
        "PUT",
        "/admin/usage-policies/acme",
        {"word_lists": [{"name": "w", "words": ["x"]}]},
        Call("/admin/usage-policies/acme", admin=True),
    ),
}


def _routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """Every (method, template) of the app, included routers too (as FastAPI's OpenAPI sees them)."""
    return {
        (method, str(context.path_format)): context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }


def conforms(model: Any, body: bytes) -> None:
    """``body`` validates as ``model`` with JSON Schema's types, and holds nothing it doesn't
    declare: the strictly validated value, dumped back with only what was sent, is the body."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    value = adapter.validate_json(body, strict=True)
    assert adapter.dump_python(value, mode="json", exclude_unset=True) == orjson.loads(body)


def test_every_route_has_a_case(stack: Stack) -> None:
    assert set(_routes(stack.app)) == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES), ids=" ".join)
def test_each_json_answer_matches_the_routes_response_model(stack: Stack, route: tuple[str, str]) -> None:
    # Given a valid request to the route
    method, _ = route
    call = CASES[route](stack)
    declared = _routes(stack.app)[route].response_model

    # When a client sends it
    response = stack.client.request(
        method,
        call.path,
        json=call.json,
        params=call.params,
        headers=bearer(_key(stack, call)),
        files=call.files,
        data=call.data,
    )

    # Then it succeeds, with a JSON body the declared schema describes exactly
    assert 200 <= response.status_code < 300, response.text
    if declared is None:  # a raw answer (a file's bytes): the one media type its route documents
        (media,) = _routes(stack.app)[route].responses[200]["content"]
        assert response.headers["content-type"] == media
        return
    assert response.headers["content-type"] == "application/json"
    conforms(declared, response.content)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("ModelItem", {"id": "m", "object": "model", "created": 1, "owned_by": "o", "extra": 1}),
        ("ModelItem", {"id": "m", "object": "model", "created": "1", "owned_by": "o"}),
        ("Usage", {"prompt_tokens": 1.5, "total_tokens": 2}),
        ("Readiness", {"ready": "true"}),
    ],
)
def test_the_check_refuses_what_the_schema_does_not_say(model: str, body: dict[str, Any]) -> None:
    """An undeclared member or a type the schema doesn't state fails (the check can fail)."""
    from functions.api import schemas

    with pytest.raises((AssertionError, ValueError)):
        conforms(getattr(schemas, model), orjson.dumps(body))
