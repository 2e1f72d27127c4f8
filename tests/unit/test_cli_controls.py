"""``steward tenants`` and ``steward kill`` over an in-memory control table: the same rules as the
admin routes, ``--json`` documents, and usage errors (exit 2) for bad scopes and reason codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from steward import cli, cli_controls
from steward.controls.service import ControlService

from tests.fakes import InMemoryAuditStore, InMemoryControlStore


@pytest.fixture
def store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli_audit: InMemoryAuditStore
) -> InMemoryControlStore:
    store = InMemoryControlStore()
    monkeypatch.setattr(cli_controls, "_service", lambda settings: ControlService(store))
    for name in ("STEWARD_STAGE", "STEWARD_CONTROL_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STEWARD_STAGE", "test")  # an environment is set: no local state file read
    return store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else {}


def test_tenant_lifecycle(store: InMemoryControlStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, created = run(capsys, "tenants", "create", "acme", "--models", "a,b", "--retention-days", "30")
    assert code == 0 and created["allowed_models"] == ["a", "b"] and created["audit_retention_days"] == 30
    assert run(capsys, "tenants", "create", "acme")[1]["error"] == "tenant.exists"
    code, suspended = run(capsys, "tenants", "suspend", "acme", "--reason", "abuse", "--note", "ticket 7")
    assert code == 0 and suspended["status"] == "suspended" and store.tenants["acme"].note == "ticket 7"
    code, listed = run(capsys, "tenants", "list")
    assert [t["status"] for t in listed["data"]] == ["suspended"]  # type: ignore[index]
    assert run(capsys, "tenants", "resume", "acme", "--reason", "customer_request")[1]["status"] == "active"
    code, missing = run(capsys, "tenants", "suspend", "nobody", "--reason", "abuse")
    assert code == 1 and missing["error"] == "tenant.not_found"


@pytest.mark.parametrize("scope", ["global", "tenant:acme", "model:m", "version:m@1"])
def test_kill_switch_every_scope(
    store: InMemoryControlStore, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    code, thrown = run(capsys, "kill", "set", "--scope", scope, "--reason", "incident", "--note", "n")
    assert code == 0 and thrown["scope"] == scope and thrown["set_by"] == "cli"
    assert [s["scope"] for s in run(capsys, "kill", "list")[1]["data"]] == [scope]  # type: ignore[index]
    assert run(capsys, "kill", "clear", "--scope", scope, "--reason", "incident")[1] == {
        "scope": scope,
        "cleared": True,
    }
    assert run(capsys, "kill", "list")[1] == {"data": []}


@pytest.mark.parametrize(
    "argv",
    [
        ("kill", "set", "--scope", "everything", "--reason", "incident"),
        ("kill", "set", "--scope", "global", "--reason", "because"),
        ("kill", "set", "--scope", "global"),
        ("tenants", "create", "bad tenant"),
        ("tenants", "suspend", "acme", "--reason", "abuse", "--note", "x" * 501),
    ],
)
def test_bad_input_is_a_usage_error(
    store: InMemoryControlStore, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, error = run(capsys, *argv)
    assert code == 2 and error["error"] in ("cli.usage", "input.invalid")
