"""Every ``steward`` command leaves one audit record (`steward.cli_record`): in the affected
tenant's chain (``@platform`` for none), in the API's format, naming the operator by a keyed
digest; a change whose record can't be written exits 5 and withholds its result; a stage whose
audit can't be keyed refuses before anything is done. Chains that mix API and CLI records verify."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward import admin, bootstrap, cli, cli_controls
from steward.audit.chain import verify_chain
from steward.audit.record import operator_id
from steward.bootstrap import AdminAudit, AdminPorts, pepper_source
from steward.cli_record import EXIT_AUDIT_FAILED, PLATFORM_TENANT
from steward.controls.service import ControlService

from tests.fakes import (
    FAKE_AUDIT_PEPPER,
    InMemoryAuditStore,
    InMemoryControlStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
)
from tests.unit.conftest import OPERATOR_ARN, bearer

OPERATOR = operator_id(FAKE_AUDIT_PEPPER, OPERATOR_ARN)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def stores(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli_audit: InMemoryAuditStore
) -> tuple[InMemoryKeyStore, InMemoryControlStore]:
    """In-memory keys, registry and controls behind the CLI (test stage, pepper in the env)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", "cli-record-pepper-0123456789abcdef")
    keys, controls = InMemoryKeyStore(), InMemoryControlStore()
    registry = InMemoryRegistryStore()
    monkeypatch.setattr(admin, "build_admin", lambda s: AdminPorts(keys, registry, pepper_source(s)))
    monkeypatch.setattr(cli_controls, "_service", lambda settings: ControlService(controls))
    return keys, controls


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def invoke(*argv: str) -> Run:
        capsys.readouterr()  # only the command's own output (not an api call's metrics before it)
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


def in_order(store: InMemoryAuditStore, tenant: str) -> list[dict[str, Any]]:
    """The tenant's records in chain order (two within one millisecond sort by request id)."""
    return sorted(store.records_of(tenant), key=lambda r: int(r["seq"]))


def chain_holds(store: InMemoryAuditStore, tenant: str) -> int:
    verdict = verify_chain(store.chain, tenant, store.records_of(tenant), store.head(tenant), now=0)
    assert verdict.ok, verdict.finding
    return verdict.records


def test_every_command_says_how_it_is_audited() -> None:
    assert set(cli.AUDITED) == set(cli.COMMANDS)
    assert all(spec.action.startswith("admin.") for spec in cli.AUDITED.values())


def test_a_key_created_is_recorded_in_its_tenant_chain_as_the_api_records_it(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    created = run("keys", "create", "--tenant", "acme", "--models", "*", "--name", "ci", "--json").json()
    [record] = cli_audit.records_of("acme")
    assert record["route"] == "CLI steward keys create" and record["status"] == 201
    assert record["decision"] == "allow"
    assert record["reason_codes"] == ["admin.key_create", f"key.{created['key_id']}"]
    # The operator: a keyed digest of the AWS identity, never the ARN (it names a person)
    assert record["key_id"] == OPERATOR and OPERATOR.startswith("cli:") and len(OPERATOR) == 20
    assert "alice" not in json.dumps(record) and created["key"] not in json.dumps(record)
    assert record["input_hmac"] and record["output_bytes"] == len(json.dumps(created).encode())
    assert {"seq", "prev_mac", "mac"} <= set(record) and record["expires_at"] > record["seq"]
    # Reads are recorded too, in the same chain
    assert run("keys", "list", "--tenant", "acme", "--json").code == 0
    codes = [r["reason_codes"][0] for r in in_order(cli_audit, "acme")]
    assert codes == ["admin.key_create", "admin.key_list"]
    assert chain_holds(cli_audit, "acme") == 2


def test_rotate_and_revoke_go_to_the_key_owners_chain(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    key_id = run("keys", "create", "--tenant", "acme", "--models", "*", "--json").json()["key_id"]
    rotated = run("keys", "rotate", key_id, "--json").json()
    run("keys", "revoke", rotated["key_id"])
    codes = [r["reason_codes"] for r in in_order(cli_audit, "acme")]
    assert codes[1] == ["admin.key_rotate", f"key.{key_id}", f"key.{rotated['key_id']}"]
    assert codes[2] == ["admin.key_revoke", f"key.{rotated['key_id']}"]
    assert cli_audit.records_of(PLATFORM_TENANT) == []


def test_a_refusal_is_recorded_with_the_apis_status_and_code(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    # An unknown key belongs to no tenant: its refusal goes to the platform chain
    assert run("keys", "revoke", "nokey").code == 1
    [record] = cli_audit.records_of(PLATFORM_TENANT)
    assert record["status"] == 404 and record["decision"] == "deny"
    assert record["reason_codes"] == ["admin.key_revoke", "key.not_found"]
    # Invalid input: 422, as the API answers it
    assert run("tenants", "suspend", "acme", "--reason", "abuse", "--note", "x" * 501).code == 2
    [refused] = cli_audit.records_of("acme")
    assert refused["status"] == 422 and refused["reason_codes"] == [
        "admin.tenant_suspend",
        "reason.abuse",
        "input.invalid",
    ]


@pytest.mark.parametrize(
    ("scope", "chain", "kind"),
    [
        ("global", PLATFORM_TENANT, "global"),
        ("tenant:acme", "acme", "tenant"),
        ("model:m", PLATFORM_TENANT, "model"),
    ],
)
def test_kill_switches_are_recorded_by_scope_never_with_the_note(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run], scope: str, chain: str, kind: str
) -> None:
    note = "paged by Jane Roe, jane.roe@example.com"
    assert run("kill", "set", "--scope", scope, "--reason", "incident", "--note", note).code == 0
    assert run("kill", "clear", "--scope", scope, "--reason", "incident").code == 0
    records = in_order(cli_audit, chain)
    assert [r["reason_codes"] for r in records] == [
        ["admin.kill_set", "reason.incident", f"kill.{kind}"],
        ["admin.kill_clear", "reason.incident", f"kill.{kind}"],
    ]
    assert [r["status"] for r in records] == [201, 200]
    assert "jane" not in json.dumps(records).lower() and "m" not in {r["model"] for r in records}
    assert chain_holds(cli_audit, chain) == 2


def test_typed_text_that_is_no_tenant_id_never_becomes_a_partition(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    result = run("keys", "list", "--tenant", "jane.roe@example.com", "--json")
    assert result.code == 2 and result.json()["error"] == "input.invalid"
    assert {r["tenant_id"] for r in cli_audit.records} == {PLATFORM_TENANT}
    assert "jane" not in json.dumps(cli_audit.records)


def test_a_change_whose_record_cant_be_written_exits_5_and_withholds_the_result(
    stores: tuple[InMemoryKeyStore, InMemoryControlStore],
    cli_audit: InMemoryAuditStore,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys, _ = stores
    original_put = cli_audit.put

    def fail_once(record: Any) -> None:
        cli_audit.fail = True  # the write fails, and the correction after it
        original_put(record)

    monkeypatch.setattr(cli_audit, "put", fail_once)
    result = run("keys", "create", "--tenant", "acme", "--models", "*", "--json")
    # The change stands, the operator is told which, and the secret is not shown
    [stored] = keys.records.values()
    assert (
        result.code == EXIT_AUDIT_FAILED and "stw_" not in result.out and "shown only once" not in result.err
    )
    body = result.json()
    assert body["error"] == "audit.unavailable" and body["done"] is True
    lines = result.err.strip().splitlines()
    assert "was done (tenant acme, key " + stored.key_id in lines[-1]
    assert "audit record could not be written" in lines[-1] and "[audit.unavailable]" in lines[-1]


def test_a_read_whose_record_cant_be_written_shows_nothing(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    run("tenants", "create", "acme")
    cli_audit.fail = True
    result = run("tenants", "list")
    assert result.code == EXIT_AUDIT_FAILED and result.out == ""
    assert "its result is withheld" in result.err and len(result.err.strip().splitlines()) == 1


def test_a_failure_whose_record_cant_be_written_says_so_on_its_one_line(
    stores: Any, cli_audit: InMemoryAuditStore, run: Callable[..., Run]
) -> None:
    cli_audit.fail = True
    result = run("keys", "revoke", "nokey")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "key.not_found" in result.err and "audit record could not be written either" in result.err


def test_an_audit_that_cant_be_keyed_refuses_before_anything_is_done(
    stores: tuple[InMemoryKeyStore, InMemoryControlStore],
    cli_audit: InMemoryAuditStore,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys, controls = stores

    def no_pepper() -> bytes:
        raise ConnectionError("secrets manager down")

    ports = AdminAudit(cli_audit, no_pepper, lambda: OPERATOR_ARN, retention_days=400)
    monkeypatch.setattr(bootstrap, "build_admin_audit", lambda settings: ports)
    assert run("keys", "create", "--tenant", "acme", "--models", "*").code != 0
    assert run("kill", "set", "--scope", "global", "--reason", "incident").code != 0
    assert keys.records == {} and controls.switches == {} and cli_audit.records == []


def test_a_chain_mixing_api_and_cli_records_verifies(
    client: TestClient,
    make_key: Callable[..., str],
    audit_store: InMemoryAuditStore,
    key_store: InMemoryKeyStore,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The API and the CLI share one audit table (and one key table)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", "unit-test-pepper-0123456789abcdef")
    ports = AdminAudit(audit_store, lambda: FAKE_AUDIT_PEPPER, lambda: OPERATOR_ARN, retention_days=400)
    monkeypatch.setattr(bootstrap, "build_admin_audit", lambda settings: ports)
    monkeypatch.setattr(bootstrap, "build_audit_trail", lambda settings, pepper=None: audit_store)
    monkeypatch.setattr(
        admin, "build_admin", lambda s: AdminPorts(key_store, InMemoryRegistryStore(), pepper_source(s))
    )
    admin_key = make_key("acme", ("*",), admin=True)
    assert client.get("/admin/keys", params={"tenant": "acme"}, headers=bearer(admin_key)).status_code == 200
    assert run("keys", "create", "--tenant", "acme", "--models", "*").code == 0
    assert client.get("/v1/audit", headers=bearer(admin_key)).status_code == 200
    verdict = run("audit", "verify", "--tenant", "acme", "--json")
    assert verdict.code == 0 and verdict.json()["records"] == 3
    assert [r["route"] for r in in_order(audit_store, "acme")] == [
        "GET /admin/keys",
        "CLI steward keys create",
        "GET /v1/audit",
        "CLI steward audit verify",
    ]
