"""The platform-admin routes that steer versions, the comparison route and the card's history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fakes import InMemoryRegistryStore, demo_model
from tests.unit.conftest import CREDIT, bearer

ROWS = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [0.1, 0.2]}]}


@pytest.fixture
def two_versions(registry_store: InMemoryRegistryStore) -> InMemoryRegistryStore:
    _, v2 = demo_model(CREDIT, "2", task="tabular-classification")
    registry_store.put_version(replace(v2, created_at=5))
    return registry_store


def _platform(make_key: Any) -> dict[str, str]:
    return bearer(make_key("ops", ("*",), admin=True, platform_admin=True))


def test_only_a_platform_admin_steers_and_every_change_is_audited(
    client: TestClient, two_versions: InMemoryRegistryStore, make_key: Any, audit_store: Any
) -> None:
    tenant_admin = bearer(make_key("acme", ("*",), admin=True))
    refused = client.post(f"/admin/models/{CREDIT}/versions/2/promote", json={}, headers=tenant_admin)
    assert refused.status_code == 403 and refused.json()["code"] == "auth.forbidden"
    assert two_versions.entries[CREDIT].default_version == "1"

    ops = _platform(make_key)
    routed = client.put(
        f"/admin/models/{CREDIT}/routing", json={"weights": {"1": 90, "2": 10}, "sticky": True}, headers=ops
    )
    assert routed.status_code == 200, routed.text
    assert routed.json()["effective_weights"] == {"1": 90, "2": 10} and routed.json()["sticky"] is True
    promoted = client.post(
        f"/admin/models/{CREDIT}/versions/2/promote", json={"reason": "release"}, headers=ops
    )
    assert promoted.status_code == 200 and promoted.json()["default_version"] == "2"
    rolled = client.post(f"/admin/models/{CREDIT}/rollback", json={}, headers=ops)
    assert rolled.status_code == 200 and rolled.json()["default_version"] == "1"
    retired = client.post(f"/admin/models/{CREDIT}/versions/2/retire", json={}, headers=ops)
    assert retired.status_code == 200 and retired.json()["versions"]["2"] == "retired"
    shown = client.get(f"/admin/models/{CREDIT}/routing?history=true", headers=ops).json()
    assert [e["event"] for e in shown["history"]] == ["retired", "rolled_back", "promoted", "routed"]
    actions = [r["reason_codes"] for r in audit_store.records if "/admin/models" in r["route"]]
    assert ["admin.model_promote", "reason.release"] in actions
    promote = next(r for r in audit_store.records if "promote" in r["route"] and r["status"] == 200)
    assert (promote["model"], promote["model_version"]) == (CREDIT, "2")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/routing", {"weights": {"1": 90, "9": 10}}, 404, "model.version_not_found"),
        ("PUT", "/routing", {"weights": {"1": -1}}, 422, "input.invalid"),
        ("PUT", "/routing", {"weights": {"1": 50}, "shadow": "1"}, 422, "input.invalid"),
        ("PUT", "/routing", {"weights": {"1": 50}, "reason": "whim"}, 422, "input.invalid"),
        ("PUT", "/routing", {"weights": {"1": 50}, "note": "x"}, 422, "input.invalid"),
        ("PUT", "/routing", {"weights": {"1": "50"}}, 422, "input.invalid"),
        ("PUT", "/routing", {"weights": {"x" * 5000: 50}}, 422, "input.invalid"),
        ("PUT", "/routing", {"shadow": "a#b"}, 422, "input.invalid"),
        ("POST", "/versions/3/promote", {}, 409, "model.version_not_routable"),
        ("POST", "/rollback", {}, 409, "model.rollback_unavailable"),
        ("POST", "/versions/1/retire", {}, 409, "model.default_conflict"),
    ],
)
def test_refusals_are_problems_with_stable_codes_and_change_nothing(
    client: TestClient,
    two_versions: InMemoryRegistryStore,
    make_key: Any,
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    _, v3 = demo_model(CREDIT, "3", approval="pending", task="tabular-classification")
    two_versions.put_version(v3)
    before = two_versions.entries[CREDIT]
    response = client.request(method, f"/admin/models/{CREDIT}{path}", json=body, headers=_platform(make_key))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert len(response.content) < 2000  # nothing typed is echoed at length
    assert two_versions.entries[CREDIT] == before


def test_compare_puts_versions_side_by_side_for_the_callers_tenant(
    client: TestClient, two_versions: InMemoryRegistryStore, make_key: Any
) -> None:
    key = bearer(make_key("acme", (CREDIT,)))
    for version in ("1", "2"):
        assert (
            client.post(f"/v2/models/{CREDIT}/versions/{version}/infer", json=ROWS, headers=key).status_code
            == 200
        )
    listed = client.get(f"/v1/models/{CREDIT}/compare", headers=key).json()
    assert [v["version"] for v in listed["versions"]] == ["1", "2"]
    assert [v["serving"]["calls"] for v in listed["versions"]] == [1, 1]
    assert listed["versions"][0]["serving"]["error_rate"] == 0.0
    other = bearer(make_key("globex", (CREDIT,)))
    theirs = client.get(f"/v1/models/{CREDIT}/compare", headers=other).json()
    assert [v["serving"] for v in theirs["versions"]] == [None, None]  # another tenant's traffic
    page = client.get(f"/v1/models/{CREDIT}/compare?versions=1,2", headers={**key, "Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Version comparison: credit-risk" in page.text
    assert page.text.count("<svg") >= 1 and "version 2" in page.text
    for bad in ("versions=1,1", "versions=,", "versions=1,2,3,4,5", "days=0", "days=32"):
        response = client.get(f"/v1/models/{CREDIT}/compare?{bad}", headers=key)
        assert response.status_code == 422, (bad, response.text)
    missing = client.get(f"/v1/models/{CREDIT}/compare?versions=9", headers=key)
    assert missing.status_code == 404 and missing.json()["code"] == "model.not_found"


def test_the_card_shows_the_version_history(
    client: TestClient, two_versions: InMemoryRegistryStore, make_key: Any
) -> None:
    from steward import admin

    ops = _platform(make_key)
    client.post(f"/admin/models/{CREDIT}/versions/2/promote", json={"reason": "fairness"}, headers=ops)
    _, v3 = demo_model(CREDIT, "3-unreleased", approval="pending", task="tabular-classification")
    admin.register_model(CREDIT, "3-unreleased", target=v3.target, store=two_versions, make_default=False)
    key = bearer(make_key("acme", (CREDIT,)))
    card = client.get(f"/v1/models/{CREDIT}/card", headers=key).json()
    assert card["version"] == "2" and card["history"][0]["event"] == "promoted"
    assert card["history"][0]["reason"] == "fairness" and "live" in card
    assert card["history"][0]["actor"] == "platform-admin"  # a role: key ids stay with the operators
    assert "3-unreleased" not in str(card)  # a pending version is as unnamed as an absent one
    admin_view = client.get(f"/admin/models/{CREDIT}/routing?history=true", headers=ops).json()
    assert admin_view["history"][0]["version"] == "3-unreleased"
    page = client.get(f"/v1/models/{CREDIT}/card", headers={**key, "Accept": "text/html"}).text
    assert "Version history" in page and "promoted" in page
