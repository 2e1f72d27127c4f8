"""``steward audit verify|export`` over the in-memory store: exit codes, ``--json`` documents, JSON
lines, and the first broken record named."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from steward import bootstrap, cli
from steward.cli_audit import EXIT_CHAIN_BROKEN

from tests.fakes import InMemoryAuditStore


def _record(i: int) -> dict[str, Any]:
    stamp = f"2030-01-0{1 + i // 10}T00:00:{i % 10:02d}.000Z"
    return {
        "tenant_id": "acme",
        "sk": f"{stamp}#req-{i}",
        "request_id": f"req-{i}",
        "timestamp": stamp,
        "status": 200,
        "expires_at": int(time.time()) + 86_400,
    }


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, cli_audit: InMemoryAuditStore) -> InMemoryAuditStore:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STEWARD_STAGE", "test")
    audit = cli_audit  # one table: the trail read back and the CLI's own records
    for i in range(5):
        audit.put(_record(i))
    monkeypatch.setattr(bootstrap, "build_audit_trail", lambda settings: audit)
    return audit


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_exits_0_when_the_chain_holds(
    store: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme", "--json")
    assert code == 0
    assert json.loads(out) == {
        "tenant_id": "acme", "ok": True, "records": 5, "first_seq": 1, "last_seq": 5, "head_seq": 5
    }  # fmt: skip
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme")
    assert code == 0 and "holds: 6 records" in out  # the first verify's own record, chained


def test_verify_names_the_first_broken_record(
    store: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.records[3]["status"] = 500
    store.records[4]["status"] = 500
    code, out, err = run(capsys, "audit", "verify", "--tenant", "acme", "--json")
    document = json.loads(out)
    assert code == EXIT_CHAIN_BROKEN and document["error"] == "audit.chain_broken"
    assert document["finding"] == {
        "problem": "edited", "seq": 4, "request_id": "req-3", "detail": document["finding"]["detail"]
    }  # fmt: skip
    assert "edited record (seq 4, request req-3)" in err


def test_verify_since_checks_a_window(store: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "audit", "verify", "--tenant", "acme", "--since", "2030-01-01T00:00:03Z", "--json"
    )
    assert code == 0 and json.loads(out)["records"] == 2
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme", "--since", "soon", "--json")
    assert code == 2 and json.loads(out)["error"] == "input.invalid"


def test_export_writes_json_lines_only(store: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "audit", "export", "--tenant", "acme", "--json", "--until", "2030-01-01T00:00:02Z"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["request_id"] for r in lines] == ["req-0", "req-1"]
    assert all({"seq", "prev_mac", "mac"} <= set(r) for r in lines) and "exported 2" in err
