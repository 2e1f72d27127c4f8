"""The admin key routes: the same lifecycle as ``steward keys``, over the authorizer's own store."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer

from tests.fakes import InMemoryAuditStore, InMemoryKeyStore
from tests.unit.conftest import MINILM, bearer


def test_an_admin_creates_lists_rotates_and_revokes_its_tenants_keys(
    client: TestClient,
    authorizer: Authorizer,
    make_key: Callable[..., str],
    key_store: InMemoryKeyStore,
    audit_store: InMemoryAuditStore,
) -> None:
    admin = bearer(make_key("acme", ("*",), admin=True))

    created = client.post(
        "/admin/keys",
        json={"tenant_id": "acme", "models": [MINILM], "rpm": 60, "daily": 1000, "name": "ci"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["key"]
    assert token.startswith("stw_") and created.headers["cache-control"] == "no-store"
    assert body["limits"] == {"rpm": 60, "daily": 1000, "monthly": None} and body["models"] == [MINILM]
    assert client.get(f"/v1/models/{MINILM}", headers=bearer(token)).status_code == 200

    listed = client.get("/admin/keys", params={"tenant": "acme"}, headers=admin)
    assert listed.status_code == 200 and body["key_id"] in {v["key_id"] for v in listed.json()["data"]}
    for record in key_store.records.values():
        assert record.secret_hash not in listed.text
    assert "stw_" not in listed.text

    rotated = client.post(f"/admin/keys/{body['key_id']}/rotate", json={"overlap_hours": 1}, headers=admin)
    assert rotated.status_code == 201, rotated.text
    successor = rotated.json()
    assert successor["rotated_from"] == body["key_id"] and successor["limits"] == body["limits"]
    assert successor["previous"]["expires_at"] is not None and rotated.headers["cache-control"] == "no-store"
    # Within the overlap both keys work.
    assert client.get(f"/v1/models/{MINILM}", headers=bearer(token)).status_code == 200
    assert client.get(f"/v1/models/{MINILM}", headers=bearer(successor["key"])).status_code == 200

    revoked = client.post(f"/admin/keys/{successor['key_id']}/revoke", headers=admin)
    assert (
        revoked.status_code == 200 and revoked.json()["status"] == "revoked" and "key" not in revoked.json()
    )
    assert key_store.records[successor["key_id"]].revoked
    authorizer.forget(successor["key_id"])  # its cache entry's 5 s end (timed in test_key_lifecycle)
    assert client.get(f"/v1/models/{MINILM}", headers=bearer(successor["key"])).status_code == 401

    # Every action is audited with its reason code and the key it acted on, never a secret.
    reasons = [code for record in audit_store.records for code in record.get("reason_codes", ())]
    for action in ("admin.key_create", "admin.key_list", "admin.key_rotate", "admin.key_revoke"):
        assert action in reasons
    assert f"key.{successor['key_id']}" in reasons
    stored = json.dumps(audit_store.records, default=str)
    assert token not in stored and successor["key"] not in stored


def test_no_escalation_through_the_api(
    client: TestClient, make_key: Callable[..., str], key_store: InMemoryKeyStore
) -> None:
    admin = bearer(make_key("acme", (MINILM,), admin=True, rpm=10))
    before = set(key_store.records)
    for body in (
        {"tenant_id": "acme", "models": [MINILM], "platform_admin": True, "rpm": 5},
        {"tenant_id": "acme", "models": ["*"], "rpm": 5},
        {"tenant_id": "acme", "models": [MINILM]},  # no rpm: looser than the creator's 10
        {"tenant_id": "acme", "models": [MINILM], "rpm": 11},
    ):
        refused = client.post("/admin/keys", json=body, headers=admin)
        assert refused.status_code == 403 and refused.json()["code"] == "key.escalation", (body, refused.text)
    other_tenant = client.post("/admin/keys", json={"tenant_id": "globex", "models": [MINILM]}, headers=admin)
    assert other_tenant.status_code == 403 and other_tenant.json()["code"] == "auth.forbidden"
    assert set(key_store.records) == before


def test_a_tenant_admin_cant_touch_another_tenants_keys_but_a_platform_admin_can(
    client: TestClient, make_key: Callable[..., str], key_store: InMemoryKeyStore
) -> None:
    theirs = make_key("globex", ("*",)).split("_")[1]
    acme_admin = bearer(make_key("acme", ("*",), admin=True))
    platform = bearer(make_key("ops", ("*",), platform_admin=True))
    not_theirs = client.post(f"/admin/keys/{theirs}/revoke", headers=acme_admin)
    absent = client.post("/admin/keys/nosuchkey000/revoke", headers=acme_admin)
    assert not_theirs.status_code == absent.status_code == 403
    assert not_theirs.json()["code"] == absent.json()["code"] == "auth.forbidden"
    assert not key_store.records[theirs].revoked
    listing = client.get("/admin/keys", params={"tenant": "globex"}, headers=acme_admin)
    assert listing.status_code == 403

    missing = client.post("/admin/keys/nosuchkey000/rotate", headers=platform)
    assert missing.status_code == 404 and missing.json()["code"] == "key.not_found"
    assert client.post(f"/admin/keys/{theirs}/revoke", headers=platform).status_code == 200
    assert key_store.records[theirs].revoked


def test_invalid_bodies_are_422_and_a_plain_key_403_before_its_body_is_read(
    client: TestClient, make_key: Callable[..., str], key_store: InMemoryKeyStore
) -> None:
    admin = bearer(make_key("acme", ("*",), admin=True))
    plain = bearer(make_key("acme", ("*",)))
    before = set(key_store.records)
    for body in (
        {"tenant_id": "acme", "models": []},
        {"tenant_id": "acme", "models": ["*"], "rpm": 0},
        {"tenant_id": "acme", "models": ["*"], "expires_days": 4000},
        {"tenant_id": "acme", "models": ["*"], "extra": 1},
        {"tenant_id": "a b", "models": ["*"]},
    ):
        assert client.post("/admin/keys", json=body, headers=admin).status_code == 422, body
    assert client.post("/admin/keys", json={"nonsense": True}, headers=plain).status_code == 403
    key_id = next(iter(before))
    too_long = client.post(f"/admin/keys/{key_id}/rotate", json={"overlap_hours": 169}, headers=admin)
    assert too_long.status_code == 422
    assert set(key_store.records) == before
