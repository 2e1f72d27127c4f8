"""``steward batches show|redrive`` over in-memory stores: what an operator reads and moves, and
the audit record each command leaves (the tenant's chain for ``show``, the platform's for
``redrive``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from steward import bootstrap, cli
from steward.batches.ids import new_batch_id
from steward.batches.model import BatchRecord, Status
from steward.cli_batches import MAX_NOTED_BATCHES
from steward.cli_record import PLATFORM_TENANT

from tests.fakes import InMemoryAuditStore, InMemoryBatchStore

EMAIL = "jane.doe@example.com"


class FakeDeadLetters:
    def __init__(self, bodies: list[str]) -> None:
        self.waiting = [(f"h{i}", b) for i, b in enumerate(bodies)]

    def receive(self, max_messages: int) -> list[tuple[str, str]]:
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def requeue(self, bodies: Sequence[str]) -> None:
        return None

    def delete(self, handles: Sequence[str]) -> None:
        return None


def _job(tenant: str, batch: str, chunk: int = 0) -> str:
    return json.dumps({"kind": "chunk", "tenant_id": tenant, "batch_id": batch, "chunk": chunk})


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch, cli_audit: InMemoryAuditStore) -> InMemoryBatchStore:
    store = InMemoryBatchStore()
    monkeypatch.setattr(bootstrap, "build_batch_store", lambda settings: store)
    monkeypatch.setenv("STEWARD_STAGE", "test")  # an environment is set: no local state file read
    return store


def _batch(store: InMemoryBatchStore, tenant: str) -> BatchRecord:
    record = BatchRecord(
        tenant_id=tenant,
        batch_id=new_batch_id(1_700_000_000),
        endpoint="/v1/embeddings",
        input_file_id="file-" + "0" * 24,
        completion_window="24h",
        status=Status.IN_PROGRESS,
        created_at=1_700_000_000,
        expires_at=1_700_086_400,
        key_id="k1",
        chunk_count=2,
        total=100,
        completed=40,
        failed=10,
        done=frozenset({0}),
        failures={"00001": "backend.unavailable"},
    )
    store.put_batch(record)
    return record


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else None


def test_show_is_audited_in_the_batch_tenants_chain(
    batches: InMemoryBatchStore, cli_audit: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _batch(batches, "acme")
    code, shown = run(capsys, "batches", "show", "--tenant", "acme", "--batch", record.batch_id)
    assert code == 0 and shown["failures"] == {"00001": "backend.unavailable"}
    [audited] = cli_audit.records_of("acme")
    assert audited["reason_codes"] == ["admin.batch_show", f"batch.{record.batch_id}"]
    assert audited["route"] == "CLI steward batches show" and audited["status"] == 200


def test_show_refuses_what_is_not_an_id_and_never_records_the_text(
    batches: InMemoryBatchStore, cli_audit: InMemoryAuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _batch(batches, "acme")
    code, error = run(capsys, "batches", "show", "--tenant", "acme", "--batch", EMAIL)
    assert code == 2 and error["error"] == "input.invalid"
    code, error = run(capsys, "batches", "show", "--tenant", f"_{EMAIL}", "--batch", record.batch_id)
    assert code == 2 and error["error"] == "input.invalid"
    # Another tenant's batch is not found: the same answer as an absent one
    code, error = run(capsys, "batches", "show", "--tenant", "globex", "--batch", record.batch_id)
    assert code == 1 and error["error"] == "batch.not_found"
    refused = cli_audit.records_of("acme") + cli_audit.records_of(PLATFORM_TENANT)
    assert [r["status"] for r in refused] == [422, 422]  # a typed text never names a chain
    assert [r["reason_codes"] for r in cli_audit.records_of("globex")] == [
        ["admin.batch_show", f"batch.{record.batch_id}", "batch.not_found"]
    ]
    assert EMAIL not in json.dumps(refused)


def test_redrive_is_audited_in_the_platform_chain_naming_the_batches_moved(
    monkeypatch: pytest.MonkeyPatch,
    batches: InMemoryBatchStore,
    cli_audit: InMemoryAuditStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = sorted(new_batch_id(1_700_000_000 + n) for n in range(MAX_NOTED_BATCHES + 1))
    dead = FakeDeadLetters([_job("acme", ids[0], 0), _job("acme", ids[0], 1), "not a job"])
    monkeypatch.setattr(bootstrap, "build_dead_letters", lambda settings: dead)
    code, moved = run(capsys, "batches", "redrive")
    assert code == 0 and moved == {"moved": 2, "kept": 1, "batches": {ids[0]: 2}}
    [audited] = cli_audit.records_of(PLATFORM_TENANT)
    assert audited["reason_codes"] == ["admin.batch_redrive", f"batch.{ids[0]}"]
    assert cli_audit.records_of("acme") == []

    # Beyond the bound, the record names the first ones and says there were more
    dead = FakeDeadLetters([_job("acme", batch_id) for batch_id in ids])
    monkeypatch.setattr(bootstrap, "build_dead_letters", lambda settings: dead)
    assert run(capsys, "batches", "redrive")[0] == 0
    latest = max(cli_audit.records_of(PLATFORM_TENANT), key=lambda r: int(r["seq"]))
    assert latest["reason_codes"][1:] == [f"batch.{b}" for b in ids[:MAX_NOTED_BATCHES]] + ["batch.more"]
