"""The auth matrix: every route against every way a caller can be the wrong caller.

Routes are read from the app itself, so a route added later is covered without editing this file
(a POST route with a model in its path must name a body in ``BODIES``, or the test says so).
For each: no key, a malformed key, an unknown key, a revoked key, an expired key -> 401 with
the same problem body; a key without the model in its scope -> the same 404 body as a model that
does not exist; another tenant's admin key on an admin route -> the same 403 body whether or not
the tenant exists; on an admin route naming a tenant's item by id (a review item) -> the same 404
body whether the item is another tenant's or absent. None of these may reach the model backend.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.audit.record import AuditDraft
from steward.auth.keys import generate_key
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.usage_policy.document import Direction
from steward.usage_policy.ports import Flagged

from functions.api.app import create_app
from tests.fakes import FakeTransport, InMemoryKeyStore, InMemoryReviewStore
from tests.unit.conftest import CREDIT, MINILM, PEPPER, bearer, review_queue

TEXT_TENSOR = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}]}
ROW_TENSOR = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [0.1, 0.2]}]}
#: A valid body per POST route template (so a scope refusal is judged past request validation).
BODIES: dict[str, Any] = {
    "/v1/embeddings": {"model": "{model}", "input": "hello"},
    "/v2/models/{model}/infer": TEXT_TENSOR,
    "/v2/models/{model}/versions/{version}/infer": TEXT_TENSOR,
    "/v1/models/{model}/explain": TEXT_TENSOR,
    "/v1/redact": {"text": "hello", "model": "{model}"},
    "/v1/guardrails/apply": {"text": "hello", "model": "{model}"},
    "/v1/feedback": {"request_id": "00000000-0000-0000-0000-000000000000", "label": 1},
    "/v2/repository/index": {"ready": True},
    # The files and batches routes name no model in the body (an OIP batch endpoint's model is
    # checked at creation: tests/unit/test_batches.py); a valid body all the same.
    "/v1/files": {"purpose": "batch"},
    "/v1/batches": {
        "input_file_id": "file-" + "0" * 24,
        "endpoint": "/v1/embeddings",
        "completion_window": "24h",
    },
    "/v1/batches/{batch_id}/cancel": {},
    "/admin/reviews/{review_id}/resolve": {"decision": "violation", "suspend_key": True},
}
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
#: Admin routes that name their tenant in the query or the body rather than the path: what a
#: valid request sends (``{tenant}`` filled in), so the tenant check is judged, not validation.
ADMIN_TENANT: dict[str, tuple[str, dict[str, Any]]] = {
    "/admin/keys": ("?tenant={tenant}", {"tenant_id": "{tenant}", "models": ["*"]}),
    "/admin/reviews": ("?tenant={tenant}", {}),
}
#: A review item id of the right form (absent unless a test stores it).
REVIEW_ID = "rv_" + "0" * 24


def _routes() -> list[tuple[str, str]]:
    """Every operation the app publishes in its OpenAPI document (the public contract)."""
    paths = create_app().openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


ROUTES = _routes()
PUBLIC = {"/health", "/openapi.json"}


def _fill(template: str, model: str, tenant: str = "acme") -> str:
    values = {"model": model, "version": "1", "tenant": tenant, "review_id": REVIEW_ID}
    return _PARAM.sub(lambda m: values.get(m.group(1), "x"), template)


def _body(template: str, model: str) -> Any:
    body = BODIES.get(template)
    if isinstance(body, dict):
        return {k: (model if v == "{model}" else v) for k, v in body.items()}
    return body


def _send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if method == "GET":
        return client.get(path, headers=headers)
    return client.request(method, path, json=body if body is not None else {}, headers=headers)


def _stable(response: Any) -> dict[str, Any]:
    """The problem body without the per-request id: what must be identical across variants."""
    body = dict(response.json())
    body.pop("request_id", None)
    body.pop("instance", None)
    return body


@pytest.fixture
def bad_keys(key_store: InMemoryKeyStore, make_key: Callable[..., str]) -> dict[str, dict[str, str]]:
    from steward import admin

    revoked = make_key("acme", ("*",))
    admin.revoke_api_key(revoked.split("_")[1], store=key_store)
    expired = make_key("acme", ("*",), expires_days=1, now=time.time() - 3 * 86_400)
    unknown, _ = generate_key("acme", pepper=PEPPER)
    return {
        "no key": {},
        "malformed": bearer("stw_not-a-key"),
        "wrong scheme": {"Authorization": f"Basic {unknown}"},
        "unknown": bearer(unknown),
        "revoked": bearer(revoked),
        "expired": bearer(expired),
    }


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if r[1] not in PUBLIC])
def test_every_route_refuses_every_bad_key_the_same_way(
    client: TestClient,
    transport: FakeTransport,
    bad_keys: dict[str, dict[str, str]],
    method: str,
    template: str,
) -> None:
    path = _fill(template, MINILM)
    bodies = set()
    for variant, headers in bad_keys.items():
        response = _send(client, method, path, _body(template, MINILM), headers)
        assert response.status_code == 401, (variant, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        bodies.add(repr(sorted(_stable(response).items())))
    assert len(bodies) == 1, f"401 bodies differ between variants: {bodies}"
    assert transport.calls == []


def _names_a_model(template: str) -> bool:
    body = BODIES.get(template)
    return "{model}" in template or (isinstance(body, dict) and body.get("model") == "{model}")


#: Routes that name a model in the path or the body (feedback's joined prediction is tested in
#: test_explain_card_feedback_routes: its scope comes from the stored prediction, not the request).
#: Platform-admin routes refuse every other key before looking at the model (403, tested below).
MODEL_ROUTES = [r for r in ROUTES if _names_a_model(r[1]) and not r[1].startswith("/admin/")]


@pytest.mark.parametrize(("method", "template"), MODEL_ROUTES)
def test_a_model_outside_the_keys_scope_looks_absent(
    client: TestClient, transport: FakeTransport, make_key: Callable[..., str], method: str, template: str
) -> None:
    if method == "POST" and template not in BODIES:
        pytest.fail(f"add a valid body for {method} {template} to BODIES")
    scoped = bearer(make_key("acme", (CREDIT,)))
    not_yours = _send(client, method, _fill(template, MINILM), _body(template, MINILM), scoped)
    absent = _send(client, method, _fill(template, "no-such-model"), _body(template, "no-such-model"), scoped)
    assert not_yours.status_code == absent.status_code == 404, (not_yours.text, absent.text)
    assert _stable(not_yours) == _stable(absent)
    assert _stable(not_yours)["code"] == "model.not_found"
    assert transport.calls == []


ADMIN_ROUTES = [r for r in ROUTES if r[1].startswith("/admin/")]
#: Admin routes naming one tenant's item by id: another tenant's item must look absent.
ITEM_ROUTES = [r for r in ADMIN_ROUTES if "{review_id}" in r[1]]


@pytest.mark.parametrize(("method", "template"), [r for r in ADMIN_ROUTES if r not in ITEM_ROUTES])
def test_admin_routes_refuse_other_tenants_and_plain_keys_alike(
    client: TestClient, transport: FakeTransport, make_key: Callable[..., str], method: str, template: str
) -> None:
    other_admin = bearer(make_key("globex", ("*",), admin=True))
    plain = bearer(make_key("acme", ("*",)))

    def request(tenant: str, key: dict[str, str]) -> Any:
        query, body = ADMIN_TENANT.get(template, ("", {}))
        filled = {k: (tenant if v == "{tenant}" else v) for k, v in body.items()}
        path = _fill(template, MINILM, tenant=tenant) + query.replace("{tenant}", tenant)
        return _send(client, method, path, filled, key)

    answers = [request("acme", other_admin), request("no-such-tenant", other_admin), request("acme", plain)]
    for response in answers:
        assert response.status_code == 403, response.text
    assert len({repr(sorted(_stable(r).items())) for r in answers}) == 1
    assert transport.calls == []


@pytest.mark.parametrize(("method", "template"), ITEM_ROUTES)
def test_another_tenants_item_looks_absent_and_plain_keys_are_refused(
    client: TestClient,
    transport: FakeTransport,
    review_store: InMemoryReviewStore,
    key_store: InMemoryKeyStore,
    make_key: Callable[..., str],
    method: str,
    template: str,
) -> None:
    # Given an item of "acme" (held, the request made by one of its keys)
    record = key_store.records[make_key("acme", ("*",)).split("_")[1]]
    ctx = RequestContext(Principal.from_record(record), AuditDraft("r-1", "POST", "/v1/embeddings", 0.0))
    flag = Flagged("word", "w", Direction.INPUT, True, ("text",), MINILM, "tenant@v1")
    [outcome] = review_queue(review_store).flagged(ctx, [flag])
    other_admin = bearer(make_key("globex", ("*",), admin=True))
    plain = bearer(make_key("acme", ("*",)))
    body = _body(template, MINILM)

    # When another tenant's admin names it, or an absent id, and a plain key of the tenant names it
    path = _fill(template, MINILM)
    theirs = _send(client, method, path.replace(REVIEW_ID, str(outcome.review_id)), body, other_admin)
    absent = _send(client, method, path, body, other_admin)
    refused = _send(client, method, path.replace(REVIEW_ID, str(outcome.review_id)), body, plain)

    # Then the first two are one 404 body, the plain key a 403, and the item is untouched
    assert theirs.status_code == absent.status_code == 404, (theirs.text, absent.text)
    assert _stable(theirs) == _stable(absent) and _stable(theirs)["code"] == "review.not_found"
    assert (refused.status_code, _stable(refused)["code"]) == (403, "auth.forbidden")
    stored = review_store.get("acme", str(outcome.review_id))
    assert stored is not None and stored.claimed_by == "" and stored.decision is None
    assert not key_store.records[record.key_id].revoked and transport.calls == []


def test_the_matrix_covers_the_routes_it_should() -> None:
    """A guard against the matrix silently testing nothing (e.g. routes moved out of the app)."""
    paths = {t for _, t in ROUTES}
    assert {"/v1/embeddings", "/v2/models/{model}/infer", "/v1/audit"} <= paths
    assert len(MODEL_ROUTES) >= 6
    posts = {t for m, t in ROUTES if m in ("POST", "PUT") and not t.startswith("/admin/")}
    assert posts <= set(BODIES), f"add a valid body to BODIES for {sorted(posts - set(BODIES))}"
    assert ADMIN_ROUTES
    assert len(ITEM_ROUTES) == 3
