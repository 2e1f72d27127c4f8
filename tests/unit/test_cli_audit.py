"""``steward audit verify|export`` over the in-memory store: exit codes, ``--json`` documents, JSON
lines, and the first broken record named."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from steward import bootstrap, cli
from steward.audit.archive import ArchivedTrail, AuditArchiver
from steward.cli_audit import EXIT_CHAIN_BROKEN

from tests.fakes import InMemoryAuditArchive, InMemoryAuditStore


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


@pytest.fixture
def archive(store: InMemoryAuditStore, monkeypatch: pytest.MonkeyPatch) -> InMemoryAuditArchive:
    bucket = InMemoryAuditArchive()
    ports = bootstrap.AuditArchivePorts(
        table=store,  # type: ignore[arg-type]
        archived=ArchivedTrail(bucket, store),
        archiver=AuditArchiver(bucket, default_retention_days=400),
    )
    monkeypatch.setattr(bootstrap, "build_audit_archive", lambda settings: ports)
    return bucket


def test_archive_copies_the_table_and_a_second_run_writes_only_what_is_new(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "archive", "--tenant", "acme", "--json")
    assert code == 0 and json.loads(out) == {
        "tenant_id": "acme", "records": 5, "objects_written": 1, "objects_present": 0
    }  # fmt: skip
    code, out, _ = run(capsys, "audit", "archive", "--tenant", "acme")
    # the five again (named by content: already there), and the first run's own audit record
    assert code == 0 and "archived 6 audit records of tenant acme: 1 objects written, 1 already there" in out
    archive.failing.add("audit/")
    code, out, _ = run(capsys, "audit", "archive", "--tenant", "acme", "--json")
    assert code == 1 and json.loads(out)["error"] == "audit.archive_failed"


def test_verify_and_export_read_the_archive_when_the_table_lost_records(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "audit", "archive", "--tenant", "acme")
    store.put(_record(5))  # not archived yet
    table = sorted((dict(r) for r in store.records_of("acme")), key=lambda r: int(r["seq"]))
    store.records.clear()
    store._where.clear()
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme", "--archive", "--json")
    assert code == 0 and json.loads(out) == {
        "tenant_id": "acme", "ok": True, "records": 5, "first_seq": 1, "last_seq": 5, "head_seq": 7,
        "source": "archive",
    }  # fmt: skip
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme", "--archive")
    assert (
        code == 0 and "archived audit chain" in out and "the newest 3 not archived yet" in out
    )  # req-5 and two CLI records
    code, out, _ = run(capsys, "audit", "export", "--tenant", "acme", "--archive")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == table[:5]
    code, out, _ = run(capsys, "audit", "verify", "--tenant", "acme", "--json")  # the table alone
    assert code == EXIT_CHAIN_BROKEN


def test_verify_archive_names_a_record_missing_from_the_archive(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive, capsys: pytest.CaptureFixture[str]
) -> None:
    archiver = AuditArchiver(archive, default_retention_days=400)
    archiver.archive_records(store.records_of("acme")[:2])
    archiver.archive_records(store.records_of("acme")[3:])
    code, out, err = run(capsys, "audit", "verify", "--tenant", "acme", "--archive", "--json")
    assert code == EXIT_CHAIN_BROKEN and json.loads(out)["finding"]["seq"] == 3
    assert "archived audit chain of tenant acme is broken: deleted record (seq 3" in err
