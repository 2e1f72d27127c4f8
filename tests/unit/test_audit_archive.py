"""The audit archive (`steward.audit.archive`) over in-memory ports: object names, idempotent
retries, lock retention per plan, what is skipped, partial batch failures through the archiver's
Lambda handler, and the archived chain read back and verified."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from steward.adapters.ddb_codec import to_item
from steward.audit.archive import (
    MIN_LOCK_S,
    ArchivedTrail,
    AuditArchiver,
    AuditChange,
    tenant_prefix,
    verify_archive,
)
from steward.audit.chain import HEAD_SK
from steward.audit.record import SECONDS_PER_DAY, AuditDraft, build_record
from steward.audit.trail import export, json_line

from functions.audit_archiver import handler as archiver_handler
from tests.fakes import InMemoryAuditArchive, InMemoryAuditStore

NOW = 1_900_000_000.0  # 2030-03-17
DAY = SECONDS_PER_DAY
KEY = re.compile(r"^audit/([^/]+)/(\d{4})/(\d{2})/(\d{2})/(\d{8}T\d{9}Z)-(\d+)-(\d+)-([0-9a-f]{32})\.jsonl$")


def record(tenant: str, i: int, *, at: float = NOW, days: float = 30, status: int = 200) -> dict[str, Any]:
    draft = AuditDraft(request_id=f"req-{tenant}-{i:04d}", method="POST", route="/v1/x", started_at=at + i)
    draft.tenant_id = tenant
    built = build_record(
        draft, status=status, output_hmac="o" * 64, output_bytes=3, latency_ms=1.25, retention_days=1
    )
    built["expires_at"] = int(at + i + days * DAY)
    return built


def archiver(archive: InMemoryAuditArchive) -> AuditArchiver:
    return AuditArchiver(archive, default_retention_days=400, clock=lambda: NOW)


@pytest.fixture
def store() -> InMemoryAuditStore:
    return InMemoryAuditStore()


@pytest.fixture
def archive() -> InMemoryAuditArchive:
    return InMemoryAuditArchive()


def test_one_object_per_tenant_and_day_named_by_time_seq_and_content(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    for i in range(3):
        store.put(record("acme", i))
    store.put(record("acme", 3, at=NOW + DAY))  # the next day
    store.put(record("globex", 0))
    outcome = archiver(archive).archive(store.stream)
    assert (outcome.records, outcome.objects, outcome.repeats, outcome.failed) == (5, 3, 0, set())
    assert outcome.skipped == 5  # the chain head, once per write
    keys = sorted(archive.versions)
    parsed = [KEY.match(k) for k in keys]
    assert all(parsed), keys
    assert [(m[1], m[4], m[6], m[7]) for m in parsed if m] == [
        ("acme", "17", "1", "3"),
        ("acme", "18", "4", "4"),
        ("globex", "17", "1", "1"),
    ]
    first = parsed[0]
    assert first is not None and first[5] == "20300317T174640000Z"  # the first record's time
    lines = archive.versions[keys[0]][0].decode().splitlines()
    assert lines == [json_line(r) for r in store.records_of("acme")[:3]]  # as `steward audit export` writes


def test_a_redelivered_batch_writes_nothing_new(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    for i in range(4):
        store.put(record("acme", i))
    first = archiver(archive).archive(store.stream)
    again = archiver(archive).archive(store.stream)
    assert (first.objects, again.objects, again.repeats, again.records) == (1, 0, 1, 4)
    assert len(archive.versions) == 1 and all(len(v) == 1 for v in archive.versions.values())


def test_a_bisected_retry_repeats_records_and_readers_drop_the_repeats(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    for i in range(4):
        store.put(record("acme", i))
    whole, half = store.stream, store.stream[: len(store.stream) // 2]
    archiver(archive).archive(half)
    archiver(archive).archive(whole)
    assert len(archive.versions) == 2 and len(archive.records()) == 6
    archived = list(export(ArchivedTrail(archive, store), "acme"))
    assert archived == store.records_of("acme")
    assert verify_archive(ArchivedTrail(archive, store), store.chain, "acme", now=NOW).ok


def test_lock_lasts_as_long_as_the_longest_plan_in_the_object(archive: InMemoryAuditArchive) -> None:
    archived = archiver(archive)
    short, long = record("acme", 0, days=30), record("acme", 1, days=3650)
    obj = archived.object_for("acme", "2030/03/17", [short, long])
    assert obj.retain_until == long["expires_at"]
    expired = record("acme", 2, at=NOW - 40 * DAY, days=30)  # archived after its own expiry
    assert archived.object_for("acme", "d", [expired]).retain_until == NOW + MIN_LOCK_S
    forged = {**short, "expires_at": 10**12}  # an item forged into the table can't lock for ever
    assert archived.object_for("acme", "d", [forged]).retain_until == NOW + 3651 * DAY
    undated = {k: v for k, v in short.items() if k != "expires_at"}
    assert archived.object_for("acme", "d", [undated]).retain_until == NOW + 400 * DAY


def test_a_correction_is_archived_and_the_original_stays(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    original = record("acme", 0)
    store.put(original)
    store.put(record("acme", 1))
    archiver(archive).archive(store.stream)
    seen = len(store.stream)
    store.correct({**original, "status": 503, "reason_codes": ["audit.unavailable"]})
    assert [c.event for c in store.stream[seen:]] == ["MODIFY", "MODIFY"]  # the item, the head
    archiver(archive).archive(store.stream[seen:])
    statuses = sorted((r["seq"], r["status"]) for r in archive.records())
    assert statuses == [(1, 200), (2, 200), (3, 503)]
    assert verify_archive(ArchivedTrail(archive, store), store.chain, "acme", now=NOW).ok


def test_removals_heads_and_imageless_changes_are_skipped(archive: InMemoryAuditArchive) -> None:
    outcome = archiver(archive).archive(
        [
            AuditChange("1", "REMOVE", None),  # a TTL expiry: the record was archived when written
            AuditChange("2", "MODIFY", {"tenant_id": "acme", "sk": HEAD_SK, "seq": 3}),
            AuditChange("3", "INSERT", None),
        ]
    )
    assert (outcome.skipped, outcome.objects, archive.puts) == (3, 0, 0)


@pytest.mark.parametrize(
    ("tenant", "prefix"),
    [("acme", "audit/acme/"), ("a/b", "audit/a%2Fb/"), ("..", "audit/%2E./"), (".x", "audit/%2Ex/")],
)
def test_tenant_folders_are_one_segment_each(tenant: str, prefix: str) -> None:
    assert tenant_prefix(tenant) == prefix


def test_an_item_without_a_record_sort_key_is_archived_undated(archive: InMemoryAuditArchive) -> None:
    archiver(archive).archive([AuditChange("1", "INSERT", {"tenant_id": "acme", "sk": "junk"})])
    (key,) = archive.versions
    assert key.startswith("audit/acme/undated/undated-x-x-")


# --- the Lambda handler: the event shape and partial batch failures --------------------------------


def stream_event(changes: list[AuditChange]) -> dict[str, Any]:
    """A Lambda DynamoDB-stream event (``Records``) as the event source mapping sends it."""
    records = []
    for change in changes:
        image = change.record or {}
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": int(NOW),
            "Keys": {"tenant_id": {"S": image.get("tenant_id", "t")}, "sk": {"S": image.get("sk", "s")}},
            "SequenceNumber": change.sequence,
            "SizeBytes": 100,
            "StreamViewType": "NEW_IMAGE",
        }
        if change.record is not None:
            body["NewImage"] = to_item(change.record)
        records.append(
            {
                "eventID": f"e{change.sequence}",
                "eventName": change.event,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": body,
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2030",
            }
        )
    return {"Records": records}


class Context:
    function_name = "steward-test-audit-archiver"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:steward-test-audit-archiver"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def handler_archive(
    monkeypatch: pytest.MonkeyPatch, archive: InMemoryAuditArchive
) -> Iterator[InMemoryAuditArchive]:
    monkeypatch.setattr(archiver_handler, "archiver", lambda: archiver(archive))
    yield archive


def test_the_handler_archives_a_stream_event(
    store: InMemoryAuditStore, handler_archive: InMemoryAuditArchive
) -> None:
    for i in range(3):
        store.put(record("acme", i))
    answer = archiver_handler.handler(stream_event(store.stream), Context())
    assert answer == {"batchItemFailures": []}
    assert [r["seq"] for r in handler_archive.records()] == [1, 2, 3]
    assert handler_archive.records() == store.records_of("acme")


def test_records_whose_object_failed_are_reported_by_sequence_number(
    store: InMemoryAuditStore, handler_archive: InMemoryAuditArchive
) -> None:
    store.put(record("acme", 0))
    store.put(record("globex", 0))
    store.put(record("acme", 1))
    handler_archive.failing.add("audit/globex/")
    answer = archiver_handler.handler(stream_event(store.stream), Context())
    globex = [
        c.sequence
        for c in store.stream
        if c.record and c.record["tenant_id"] == "globex" and c.record["sk"] != HEAD_SK
    ]
    assert answer == {"batchItemFailures": [{"itemIdentifier": s} for s in globex]}
    assert {r["tenant_id"] for r in handler_archive.records()} == {"acme"}


def test_an_undecodable_record_fails_alone(
    store: InMemoryAuditStore, handler_archive: InMemoryAuditArchive
) -> None:
    store.put(record("acme", 0))
    event = stream_event(store.stream)
    event["Records"].append(
        {**event["Records"][0], "dynamodb": {"SequenceNumber": "999", "NewImage": {"x": {"Q": 1}}}}
    )
    answer = archiver_handler.handler(event, Context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert len(handler_archive.records()) == 1


def test_a_batch_that_failed_whole_fails_the_invocation(
    store: InMemoryAuditStore, handler_archive: InMemoryAuditArchive
) -> None:
    store.put(record("acme", 0))
    handler_archive.failing.add("audit/")
    records = [c for c in store.stream if c.record and c.record["sk"] != HEAD_SK]
    with pytest.raises(BatchProcessingError):  # the mapping bisects it, then retries, then the DLQ
        archiver_handler.handler(stream_event(records), Context())


# --- reading back and verifying ---------------------------------------------------------------------


def filled(store: InMemoryAuditStore, archive: InMemoryAuditArchive, n: int = 6, **kwargs: Any) -> None:
    for i in range(n):
        store.put(record("acme", i, **kwargs))
        archiver(archive).archive(store.stream[-2:])  # one object per write


def check(store: InMemoryAuditStore, archive: InMemoryAuditArchive, **kwargs: Any) -> Any:
    return verify_archive(ArchivedTrail(archive, store), store.chain, "acme", **{"now": NOW, **kwargs})


def test_records_gone_from_the_table_still_verify_and_export_from_the_archive(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, days=1)
    expected = store.records_of("acme")
    store.records.clear()  # TTL removed every record from the table
    verdict = check(store, archive, now=NOW + 10 * DAY)
    assert verdict.ok and (verdict.records, verdict.first_seq, verdict.last_seq, verdict.head_seq) == (
        6,
        1,
        6,
        6,
    )
    assert list(export(ArchivedTrail(archive, store), "acme")) == expected


def test_a_gap_in_the_archive_is_named_whatever_its_expiry(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, days=1)
    third = next(k for k in archive.versions if re.search(r"-3-3-", k))
    del archive.versions[third]  # an object gone (after its lock ran out, or never written)
    finding = check(store, archive, now=NOW + 10 * DAY).finding
    assert finding is not None and (finding.problem, finding.seq) == ("deleted", 3)
    assert "not in the archive" in finding.detail


def test_a_missing_start_is_accepted_only_once_it_could_have_expired(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    for i in range(2):  # written before the archive existed, then expired from the table
        store.put(record("acme", i, days=1))
    for i in range(2, 5):
        store.put(record("acme", i))
        archiver(archive).archive(store.stream[-2:])
    assert check(store, archive, now=NOW + 2 * DAY).ok
    finding = check(store, archive, now=NOW).finding  # record 2 can't have expired yet
    assert finding is not None and (finding.problem, finding.seq) == ("deleted", 2)
    assert check(store, archive, now=NOW, since="2030-03-17T17:46:42Z").ok  # a window: first link given


def test_the_head_may_run_ahead_of_the_archive(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, 3)
    store.put(record("acme", 3))  # written, not archived yet
    verdict = check(store, archive)
    assert verdict.ok and (verdict.last_seq, verdict.head_seq) == (3, 4)


def test_a_version_written_over_an_archived_object_is_named(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, 4)
    key = next(k for k in archive.versions if re.search(r"-2-2-", k))
    edited = json.loads(archive.versions[key][0])
    edited["status"] = 403
    archive.write_version(key, (json.dumps(edited) + "\n").encode())  # the locked original stays
    finding = check(store, archive).finding
    assert finding is not None and (finding.problem, finding.seq, finding.request_id) == (
        "edited",
        2,
        "req-acme-0001",
    )


def test_an_unreadable_archive_line_is_named(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, 2)
    archive.write_version("audit/acme/2030/03/17/x.jsonl", b"not json\n")
    finding = check(store, archive).finding
    assert finding is not None and "audit/acme/2030/03/17/x.jsonl line 1" in finding.detail


def test_since_lists_only_the_days_from_there(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    listed: list[str | None] = []
    original = archive.bodies

    def bodies(prefix: str, *, start_after: str | None) -> Iterator[tuple[str, bytes]]:
        listed.append(start_after)
        return original(prefix, start_after=start_after)

    archive.bodies = bodies  # type: ignore[method-assign]
    for day in range(3):
        store.put(record("acme", day, at=NOW + day * DAY))
        archiver(archive).archive(store.stream[-2:])
    trail = ArchivedTrail(archive, store)
    found = list(export(trail, "acme", since="2030-03-18T00:00:00Z"))
    assert [r["seq"] for r in found] == [2, 3] and listed == ["audit/acme/2030/03/18/"]


def test_records_hold_no_content_only_macs_and_counts(
    store: InMemoryAuditStore, archive: InMemoryAuditArchive
) -> None:
    filled(store, archive, 2)
    archived = set().union(*(r.keys() for r in archive.records()))
    assert archived == set(store.records_of("acme")[0])  # what the table holds, nothing more
