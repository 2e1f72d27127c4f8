"""The per-tenant audit chain: sealing, verification, corrections and concurrent writers.

Runs over the in-memory store, which chains through the same `ChainWriter` as the DynamoDB
adapter (tests/integration/test_audit_chain_dynamodb.py runs the same walk on moto server).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
from typing import Any

import pytest
from steward.audit.chain import (
    GENESIS_MAC,
    MAX_TRIES,
    AuditChain,
    ChainContention,
    ChainHead,
    ChainWriter,
    HeadMoved,
    canonical,
    tenant_chain_key,
)
from steward.audit.record import AuditDraft, build_record, tenant_audit_key
from steward.audit.trail import export, sort_key_bound, verify
from steward.errors import InvalidInput

from tests.fakes import FAKE_AUDIT_PEPPER, InMemoryAuditStore

NOW = time.time()


def record(tenant: str, i: int, *, expires_at: float = NOW + 86_400, status: int = 200) -> dict[str, Any]:
    draft = AuditDraft(request_id=f"req-{tenant}-{i:04d}", method="POST", route="/v1/x", started_at=NOW + i)
    draft.tenant_id = tenant
    built = build_record(
        draft, status=status, output_hmac="", output_bytes=0, latency_ms=1.5, retention_days=1
    )
    built["expires_at"] = int(expires_at)
    return built


def filled(n: int = 5, tenant: str = "acme") -> InMemoryAuditStore:
    store = InMemoryAuditStore()
    for i in range(n):
        store.put(record(tenant, i))
    return store


def check(store: InMemoryAuditStore, tenant: str = "acme", **kwargs: Any) -> Any:
    return verify(store, store.chain, tenant, **kwargs)


def test_records_are_linked_in_order_and_the_chain_holds() -> None:
    store = filled(5)
    store.put(record("globex", 0))
    rows = store.records_of("acme")
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_mac"] == GENESIS_MAC
    assert all(b["prev_mac"] == a["mac"] for a, b in itertools.pairwise(rows))
    verdict = check(store)
    assert verdict.ok and (verdict.records, verdict.first_seq, verdict.last_seq, verdict.head_seq) == (
        5,
        1,
        5,
        5,
    )
    assert check(store, "globex").ok and store.records_of("globex")[0]["seq"] == 1  # a chain per tenant


def test_the_chain_key_is_the_documented_derivation_and_not_the_audit_mac_key() -> None:
    pepper = b"p" * 32
    expected = hmac.new(pepper, b"steward-audit-chain:acme", hashlib.sha256).digest()
    assert tenant_chain_key(pepper, "acme") == expected != tenant_audit_key(pepper, "acme")
    store = filled(1)
    (row,) = store.records
    key = tenant_chain_key(FAKE_AUDIT_PEPPER, "acme")
    assert row["mac"] == hmac.new(key, canonical(row), hashlib.sha256).hexdigest()


def test_a_reader_without_the_pepper_cannot_reforge_a_record() -> None:
    store = filled(3)
    other = AuditChain(lambda: b"not-the-pepper-0123456789abcdef")
    assert not verify(store, other, "acme").ok


def test_numbers_are_macd_by_value_as_dynamodb_normalises_them() -> None:
    assert canonical({"a": 5.0}) == canonical({"a": 5}) and canonical({"a": 0.10}) == canonical({"a": 0.1})
    assert canonical({"a": "5"}) != canonical({"a": 5})
    assert canonical({"a": None, "b": 1}) == canonical({"b": 1})  # the table drops nulls


@pytest.mark.parametrize(
    ("field", "value"), [("status", 503), ("decision", "deny"), ("expires_at", int(NOW) - 1), ("seq", 9)]
)
def test_an_edited_record_is_named(field: str, value: Any) -> None:
    store = filled(5)
    store.records[2][field] = value
    finding = check(store).finding
    assert finding is not None and finding.problem == "edited"
    assert (finding.seq, finding.request_id) == (3, "req-acme-0002")


def test_a_deleted_record_is_named_by_its_seq() -> None:
    store = filled(5)
    del store.records[1]
    store._where.clear()
    finding = check(store).finding
    assert finding is not None and (finding.problem, finding.seq) == ("deleted", 2)
    assert "req-acme-0002" in finding.detail  # named by its successor's request


def test_deleting_the_newest_or_the_oldest_record_shows() -> None:
    newest = filled(5)
    newest.records.pop()
    finding = check(newest).finding
    assert finding is not None and (finding.problem, finding.seq) == ("deleted", 5)
    oldest = filled(5)
    oldest.records.pop(0)
    finding = check(oldest).finding
    assert finding is not None and (finding.problem, finding.seq) == ("deleted", 1)


def test_records_that_expired_may_be_gone() -> None:
    store = InMemoryAuditStore()
    for i in range(3):
        store.put(record("acme", i, expires_at=NOW - 10))
    for i in range(3, 6):
        store.put(record("acme", i))
    del store.records[:3]  # TTL removed the expired ones
    assert check(store).ok
    store.records.clear()  # everything gone although the newest has not expired
    finding = check(store).finding
    assert finding is not None and finding.problem == "deleted"


@pytest.mark.parametrize("how", ["copy", "unchained", "forged"])
def test_an_inserted_record_is_named(how: str) -> None:
    store = filled(4)
    fake = dict(store.records[1], request_id="req-inserted", sk=store.records[1]["sk"] + "x")
    if how == "unchained":
        for name in ("seq", "prev_mac", "prev_expires_at", "mac"):
            fake.pop(name)
    if how == "forged":
        fake.update(seq=5, prev_mac=store.records[-1]["mac"], mac="f" * 64)
    store.records.append(fake)
    finding = check(store).finding
    assert finding is not None and finding.problem == "inserted" and finding.request_id == "req-inserted"


def test_a_tampered_or_missing_head_shows() -> None:
    store = filled(3)
    store.heads["acme"]["seq"] = 2
    assert (finding := check(store).finding) is not None and finding.problem == "head"
    store = filled(3)
    del store.heads["acme"]
    assert (finding := check(store).finding) is not None and finding.problem == "head"


def test_a_correction_of_a_landed_write_is_a_link_and_stands_in_for_it() -> None:
    store = filled(2)
    original = record("acme", 2)
    store.put(original)  # landed, but the caller saw a timeout
    store.put(record("acme", 3))  # another request commits meanwhile
    store.correct({**original, "status": 503, "reason_codes": ["audit.unavailable"]})
    (corrected,) = [r for r in store.records if r["request_id"] == original["request_id"]]
    assert corrected["status"] == 503 and corrected["seq"] == 5
    assert corrected["correction"]["replaces"]["seq"] == 3
    assert check(store).ok
    store.correct({**original, "status": 503})  # a retried correction changes nothing
    assert store.heads["acme"]["seq"] == 5 and check(store).ok


def test_a_write_landing_after_its_correction_changes_nothing() -> None:
    store = filled(2)
    late = record("acme", 2)
    store.correct({**late, "status": 503})  # the first write had not landed yet
    store.put(late)  # now it does: it only creates, so it is refused (counts as written)
    (row,) = [r for r in store.records if r["request_id"] == late["request_id"]]
    assert row["status"] == 503 and row["correction"] == {"replaces": None}
    assert store.heads["acme"]["seq"] == 3 and check(store).ok


def test_concurrent_writers_never_fork_the_chain() -> None:
    store = InMemoryAuditStore()
    barrier = threading.Barrier(8)
    refused: list[int] = []

    def writer(w: int) -> None:
        barrier.wait()
        for i in range(25):
            try:
                store.put(record("acme", w * 100 + i))
            except ChainContention:  # bounded tries ran out (a loaded machine): the caller gets 503
                refused.append(w * 100 + i)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Every write either landed or was refused; the landed ones form one chain, no fork, no gap
    written = len(store.records)
    assert written + len(refused) == 200 and written >= 100
    assert sorted(r["seq"] for r in store.records) == list(range(1, written + 1))
    assert check(store).ok


def test_writers_in_separate_processes_with_stale_heads_take_the_current_one() -> None:
    store = InMemoryAuditStore()
    a = ChainWriter(store, store.chain, sleep=lambda _s: None)
    b = ChainWriter(store, store.chain, sleep=lambda _s: None)
    a.put(record("acme", 0))
    b.put(record("acme", 1))  # b had no head cached: reads it
    a.put(record("acme", 2))  # a's cached head is stale: refused, re-sealed on the current one
    assert [r["seq"] for r in store.records] == [1, 2, 3] and check(store).ok


def test_a_head_that_keeps_moving_fails_the_write_after_bounded_tries() -> None:
    class Busy(InMemoryAuditStore):
        tries = 0

        def commit(self, *args: Any, **kwargs: Any) -> None:
            self.tries += 1
            raise HeadMoved(ChainHead(self.tries, "a" * 64, 0))

    store = Busy()
    with pytest.raises(ChainContention):
        store.put(record("acme", 0))
    assert 1 < store.tries <= MAX_TRIES and store.records == []


def test_since_verifies_a_window_and_export_keeps_the_chain_fields() -> None:
    store = filled(6)
    since = store.records[3]["timestamp"]
    assert check(store, since=since).ok
    rows = list(export(store, "acme", since=since))
    assert [r["seq"] for r in rows] == [4, 5, 6] and all("mac" in r for r in rows)
    store.records[4]["status"] = 500
    assert (finding := check(store, since=since).finding) is not None and finding.seq == 5


def test_time_bounds_are_iso_and_ordered() -> None:
    assert sort_key_bound("2030-01-31", "--since") == "2030-01-31T00:00:00.000Z"
    assert sort_key_bound("2030-01-31T12:00:00+02:00", "--since") == "2030-01-31T10:00:00.000Z"
    with pytest.raises(InvalidInput):
        sort_key_bound("yesterday", "--since")
    with pytest.raises(InvalidInput):
        list(export(InMemoryAuditStore(), "acme", since="2030-02-01", until="2030-01-01"))
