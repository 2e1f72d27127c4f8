"""Operator free text (an API key's name, a suspension's or kill switch's note) is stored with its
personal data redacted, whichever way it came in: the admin API or the ``steward`` CLI. Checked on
the stored items, not only on the answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward import admin, cli, cli_controls
from steward.auth.lifecycle import KeyLifecycle
from steward.bootstrap import AdminPorts, Api, compose_api, pepper_source
from steward.catalog.registry import Registry
from steward.controls.service import ControlService
from steward.privacy.free_text import REDACTION_FAILED, redact_free_text
from steward.routing.router import Router, RouterPolicy

from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryControlStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
)
from tests.unit.conftest import PEPPER, bearer

EMAIL, PHONE, NAME = "jane.roe@example.com", "+1 415 555 0100", "Jane Roe"
TEXT = f"on call: {NAME}, {EMAIL}, {PHONE}"
REDACTED = "on call: <PERSON>, <EMAIL_ADDRESS>, <PHONE_NUMBER>"


def no_pii(text: str) -> None:
    # "555 0100", not "555": the records hold hex MACs and ids, where any three digits may occur
    for value in (EMAIL, PHONE, NAME, "Jane", "555 0100"):
        assert value not in text, text


@pytest.fixture
def control_store() -> InMemoryControlStore:
    return InMemoryControlStore()


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    key_store: InMemoryKeyStore,
    control_store: InMemoryControlStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(), sleep=lambda _s: None)
    keys = KeyLifecycle(key_store, lambda: PEPPER)
    return compose_api(Registry(registry_store), router, audit_store, controls=control_store, keys=keys)


def test_the_redaction_replaces_each_entity_by_its_type() -> None:
    assert redact_free_text(TEXT) == REDACTED
    assert redact_free_text("ci runner") == "ci runner" and redact_free_text("") == ""


def test_by_api_key_names_and_notes_are_stored_redacted(
    client: TestClient,
    make_key: Callable[..., str],
    key_store: InMemoryKeyStore,
    control_store: InMemoryControlStore,
) -> None:
    platform = bearer(make_key("acme", ("*",), admin=True, platform_admin=True))
    created = client.post(
        "/admin/keys", json={"tenant_id": "acme", "models": ["*"], "name": TEXT}, headers=platform
    )
    assert created.status_code == 201, created.text
    assert key_store.records[created.json()["key_id"]].name == REDACTED == created.json()["name"]
    rotated = client.post(f"/admin/keys/{created.json()['key_id']}/rotate", headers=platform)
    assert key_store.records[rotated.json()["key_id"]].name == REDACTED

    thrown = client.post(
        "/admin/kill-switches",
        json={"scope": "model:m", "reason": "incident", "note": TEXT},
        headers=platform,
    )
    assert thrown.status_code == 201, thrown.text
    assert control_store.switches["model:m"].note == REDACTED
    assert client.post("/admin/tenants", json={"tenant_id": "globex"}, headers=platform).status_code == 201
    suspended = client.post(
        "/admin/tenants/globex/suspend", json={"reason": "abuse", "note": TEXT}, headers=platform
    )
    assert suspended.status_code == 200 and control_store.tenants["globex"].note == REDACTED
    no_pii(repr(key_store.records) + repr(control_store.switches) + repr(control_store.tenants))


def test_by_cli_key_names_and_notes_are_stored_redacted(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cli_audit: InMemoryAuditStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", "free-text-pepper-0123456789abcdef")
    keys, controls = InMemoryKeyStore(), InMemoryControlStore()
    monkeypatch.setattr(
        admin, "build_admin", lambda s: AdminPorts(keys, InMemoryRegistryStore(), pepper_source(s))
    )
    monkeypatch.setattr(cli_controls, "_service", lambda settings: ControlService(controls))

    assert cli.main(["keys", "create", "--tenant", "acme", "--models", "*", "--name", TEXT]) == 0
    assert cli.main(["tenants", "create", "acme"]) == 0
    assert cli.main(["tenants", "suspend", "acme", "--reason", "abuse", "--note", TEXT]) == 0
    assert cli.main(["kill", "set", "--scope", "global", "--reason", "incident", "--note", TEXT]) == 0
    [key] = keys.records.values()
    assert key.name == REDACTED and controls.tenants["acme"].note == REDACTED
    assert controls.switches["global"].note == REDACTED
    captured = capsys.readouterr()
    no_pii(repr(keys.records) + repr(controls.tenants) + repr(controls.switches) + repr(cli_audit.records))
    no_pii(captured.out + captured.err)  # the summaries show what was stored


def test_a_check_that_errors_stores_a_marker_and_the_switch_is_still_thrown(
    monkeypatch: pytest.MonkeyPatch, control_store: InMemoryControlStore
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("detector down")

    monkeypatch.setattr("steward.privacy.redact", broken)
    switch = ControlService(control_store).set_switch("global", reason="incident", note=TEXT, by="op")
    assert switch.note == REDACTION_FAILED == control_store.switches["global"].note


def test_a_name_stored_before_names_were_redacted_is_redacted_on_rotation(
    key_store: InMemoryKeyStore,
) -> None:

    lifecycle = KeyLifecycle(key_store, lambda: PEPPER)
    _, record = admin.create_api_key("acme", models=["*"], store=key_store, pepper=lambda: PEPPER)
    key_store.records[record.key_id] = replace(record, name=TEXT)  # as an older release stored it
    _, successor, _ = lifecycle.rotate(record.key_id)
    assert successor.name == REDACTED
