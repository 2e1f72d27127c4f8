"""The Batch API's adapters on moto (real boto3 wire path): the batches table, the bucket, the
jobs queue, Powertools idempotency on DynamoDB, and the local event pump with SQS redrive."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from steward.adapters.batch_store import DynamoBatchStore
from steward.adapters.idempotency import dynamodb_persistence
from steward.adapters.job_queue import SqsJobQueue
from steward.adapters.object_store import S3ObjectStore
from steward.batches.model import BatchRecord, FileRecord, Purpose, Status
from steward.bootstrap import Worker
from steward.resources import ResourceNames

from functions.batch_worker.processing import make_handler
from scripts.local.event_pump import EventPump, LocalLambdaContext, lambda_sqs_event
from tests.integration.conftest import REGION

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TENANT = "acme"


def _batch(batch_id: str, status: Status = Status.VALIDATING, **extra: Any) -> BatchRecord:
    return BatchRecord(
        tenant_id=TENANT,
        batch_id=batch_id,
        endpoint="/v1/embeddings",
        input_file_id="file-" + "1" * 24,
        completion_window="24h",
        status=status,
        created_at=1,
        expires_at=86_401,
        key_id="k1",
        sealed=b"\x00sealed\xff",
        retain_until=2_000_000_000,
        **extra,
    )


@pytest.fixture
def store(names: ResourceNames) -> DynamoBatchStore:
    return DynamoBatchStore(names.batches_table.name, region=REGION)


def test_files_and_batches_round_trip_under_their_tenant(store: DynamoBatchStore) -> None:
    record = FileRecord(TENANT, "file-" + "a" * 24, Purpose.BATCH, 12, 5, "files/acme/x", b"\x01\x02", 99)
    store.put_file(record)
    assert store.get_file(TENANT, record.file_id) == record
    assert store.get_file("globex", record.file_id) is None
    assert store.delete_file(TENANT, record.file_id) == record
    assert store.delete_file(TENANT, record.file_id) is None
    batch = _batch("batch_" + "0" * 31 + "1")
    store.put_batch(batch)
    assert store.get_batch(TENANT, batch.batch_id) == batch
    assert store.get_batch("globex", batch.batch_id) is None


def test_transitions_are_conditional_and_chunks_count_once(store: DynamoBatchStore) -> None:
    batch_id = "batch_" + "0" * 31 + "2"
    store.put_batch(_batch(batch_id))
    # Only from the statuses named
    assert (
        store.transition(TENANT, batch_id, from_statuses=[Status.IN_PROGRESS], to=Status.FAILED, at=5) is None
    )
    moved = store.transition(
        TENANT,
        batch_id,
        from_statuses=[Status.VALIDATING],
        to=Status.IN_PROGRESS,
        at=7,
        changes={
            "chunk_count": 2,
            "total": 3,
            "errors": ({"code": "x", "message": "m", "param": None, "line": 1},),
        },
    )
    assert moved is not None and (moved.status, moved.chunk_count, moved.total) == (Status.IN_PROGRESS, 2, 3)
    assert moved.times == {"in_progress_at": 7} and moved.errors[0]["line"] == 1
    # A chunk counts once, however often it is reported
    first = store.count_chunk(TENANT, batch_id, 0, completed=2, failed=0)
    assert first is not None and first.done == frozenset({0})
    assert store.count_chunk(TENANT, batch_id, 0, completed=2, failed=0) is None
    last = store.count_chunk(TENANT, batch_id, 1, completed=0, failed=1)
    assert last is not None and (last.done, last.completed, last.failed) == (frozenset({0, 1}), 2, 1)
    store.note_failure(TENANT, batch_id, 1, "backend.unavailable")
    assert store.get_batch(TENANT, batch_id).failures == {"00001": "backend.unavailable"}  # type: ignore[union-attr]
    # A batch of another tenant is never moved
    assert (
        store.transition("globex", batch_id, from_statuses=[Status.IN_PROGRESS], to=Status.FAILED, at=9)
        is None
    )


def test_batches_list_newest_first_after_a_cursor(names: ResourceNames) -> None:
    store = DynamoBatchStore(names.batches_table.name, region=REGION)
    tenant = f"list-{time.time_ns()}"
    ids = [f"batch_{n:012x}" + "0" * 20 for n in (1, 2, 3)]
    for batch_id in ids:
        store.put_batch(BatchRecord(**{**_batch(batch_id).__dict__, "tenant_id": tenant}))
    page, more = store.list_batches(tenant, after=None, limit=2)
    assert [b.batch_id for b in page] == [ids[2], ids[1]] and more
    page, more = store.list_batches(tenant, after=ids[1], limit=2)
    assert [b.batch_id for b in page] == [ids[0]] and not more


def test_concurrent_chunk_counts_elect_exactly_one_finaliser(names: ResourceNames, serial_moto: str) -> None:
    # Given a batch of 12 chunks, each counted by two threads at once (a redelivery)
    store = DynamoBatchStore(names.batches_table.name, region=REGION)
    batch_id = "batch_" + "0" * 31 + "9"
    store.put_batch(_batch(batch_id, Status.IN_PROGRESS, chunk_count=12))
    seen: list[BatchRecord | None] = []
    lock, barrier = threading.Lock(), threading.Barrier(24)

    def count(chunk: int) -> None:
        barrier.wait(timeout=30)
        got = store.count_chunk(TENANT, batch_id, chunk, completed=1, failed=0)
        with lock:
            seen.append(got)

    threads = [threading.Thread(target=count, args=(n % 12,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each chunk counted once, and exactly one caller saw the batch complete
    counted = [r for r in seen if r is not None]
    assert len(counted) == 12
    assert sum(1 for r in counted if len(r.done) == 12) == 1
    final = store.get_batch(TENANT, batch_id)
    assert final is not None and final.completed == 12


def test_objects_and_jobs_round_trip(names: ResourceNames) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=names.batch_bucket)
    objects = S3ObjectStore(names.batch_bucket, region=REGION)
    objects.put("files/acme/f", b"\x00\x01sealed")
    assert objects.get("files/acme/f") == b"\x00\x01sealed"
    assert objects.get("files/acme/none") is None
    objects.delete("files/acme/f")
    assert objects.get("files/acme/f") is None

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=f"jobs-{time.time_ns()}")["QueueUrl"]
    jobs = [{"kind": "chunk", "tenant_id": TENANT, "batch_id": "batch_x", "chunk": n} for n in range(23)]
    SqsJobQueue(region=REGION, name=url.rsplit("/", 1)[1]).send(jobs)  # by name: the URL looked up
    received: list[dict[str, Any]] = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        received += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(received) == 23:
            break
    assert sorted(j["chunk"] for j in received) == list(range(23))


class CountingWorker:
    """A stand-in `BatchWorker`: counts the jobs it really runs."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def handle(self, job: Any, remaining_s: Any) -> dict[str, Any]:
        self.runs.append(job.as_message())
        return {"ran": len(self.runs)}


def test_idempotency_on_dynamodb_runs_a_redelivered_job_once(names: ResourceNames) -> None:
    counting = CountingWorker()
    worker = Worker(counting, dynamodb_persistence(names.idempotency_table.name, region=REGION))  # type: ignore[arg-type]
    handler = make_handler(lambda: worker)
    job = {"kind": "chunk", "tenant_id": TENANT, "batch_id": "batch_" + "7" * 32, "chunk": 3}
    message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": json.dumps(job), "Attributes": {}}
    for _ in range(3):
        event = lambda_sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:jobs", REGION)
        assert handler(event, LocalLambdaContext(60)) == {"batchItemFailures": []}
    assert counting.runs == [job]
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=names.idempotency_table.name)["Items"]
    assert items and all("steward-batch-job#" in i["id"]["S"] for i in items)
    assert "batch_" not in json.dumps(items)  # the key is a hash of the job, not its ids


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str, str]]:
    sqs = boto3.client("sqs", region_name=REGION)
    suffix = time.time_ns()
    dlq = sqs.create_queue(QueueName=f"pump-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=f"pump-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield sqs, url, arn, dlq


def test_the_event_pump_deletes_what_succeeded_and_poison_ends_in_the_dlq(
    queues: tuple[Any, str, str, str],
) -> None:
    sqs, url, arn, dlq = queues
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        records = event["Records"]
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == arn for r in records)
        seen.extend(r["body"] for r in records)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"
            ]
        }

    pump = EventPump(sqs, url, arn, handler, region=REGION, timeout_s=30, wait_s=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pump.pump_once()
        in_dlq = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", [])
        if in_dlq:
            break
        time.sleep(0.5)
    assert [m["Body"] for m in in_dlq] == ["poison"]
    assert seen.count("ok-1") == 1 and seen.count("ok-2") == 1 and seen.count("poison") == 2
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_steward_batches_show_and_redrive_as_an_operator_runs_them(
    moto_endpoint: str, names: ResourceNames, tmp_path: Any
) -> None:
    from steward.cli_record import PLATFORM_TENANT

    from scripts.local.provision import provision_queues
    from tests.integration.test_cli_local_state import _records, steward, write_state

    # Given the stage's jobs queue and DLQ, a job waiting in the DLQ and its batch's record
    kms = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    queues = provision_queues(names, boto3.client("sqs", region_name=REGION), kms)
    sqs = boto3.client("sqs", region_name=REGION)
    batch_id = "batch_" + "5" * 32
    job = {"kind": "chunk", "tenant_id": TENANT, "batch_id": batch_id, "chunk": 0}
    sqs.send_message(QueueUrl=queues["jobs_dead_letter_queue_url"], MessageBody=json.dumps(job))
    sqs.send_message(QueueUrl=queues["jobs_dead_letter_queue_url"], MessageBody="not a job")
    store = DynamoBatchStore(names.batches_table.name, region=REGION)
    store.put_batch(_batch(batch_id, Status.IN_PROGRESS, chunk_count=1, total=1))
    store.note_failure(TENANT, batch_id, 0, "backend.unavailable")
    write_state(tmp_path, moto_endpoint)

    # When an operator looks at the batch
    code, shown, _ = steward(tmp_path, "batches", "show", "--tenant", TENANT, "--batch", batch_id)
    assert (
        code == 0
        and shown["status"] == "in_progress"
        and shown["failures"] == {"00000": "backend.unavailable"}
    )
    assert shown["chunks"] == {"total": 1, "counted": 0}
    # And redrives the dead-letter queue
    code, moved, _ = steward(tmp_path, "batches", "redrive")
    # Then the job is back on the jobs queue and the stranger stays in the DLQ
    assert code == 0 and moved == {"moved": 1, "kept": 1, "batches": {batch_id: 1}}
    back = sqs.receive_message(QueueUrl=queues["jobs_queue_url"], WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"]) for m in back] == [job]
    code, missing, _ = steward(tmp_path, "batches", "show", "--tenant", "globex", "--batch", batch_id)
    assert code == 1 and missing["error"] == "batch.not_found"
    # And each command left its audit record: show in the tenant's chain, redrive in the platform's
    shown_codes = [
        r["reason_codes"] for r in _records(names, TENANT) if r["route"] == "CLI steward batches show"
    ]
    assert ["admin.batch_show", f"batch.{batch_id}"] in shown_codes
    redriven = [r for r in _records(names, PLATFORM_TENANT) if r["route"] == "CLI steward batches redrive"]
    assert ["admin.batch_redrive", f"batch.{batch_id}"] in [r["reason_codes"] for r in redriven]
    code, verified, _ = steward(tmp_path, "audit", "verify", "--tenant", TENANT)
    assert code == 0, verified


def test_the_open_batches_index_finds_what_is_due_and_forgets_what_ended(names: ResourceNames) -> None:
    store = DynamoBatchStore(names.batches_table.name, region=REGION)
    tenant = f"due-{time.time_ns()}"
    due_id, later_id = "batch_" + "d" * 32, "batch_" + "e" * 32
    store.put_batch(BatchRecord(**{**_batch(due_id).__dict__, "tenant_id": tenant, "expires_at": 100}))
    store.put_batch(BatchRecord(**{**_batch(later_id).__dict__, "tenant_id": tenant, "expires_at": 10**11}))
    due = [b.batch_id for b in store.due_batches(1_000, limit=1000) if b.tenant_id == tenant]
    assert due == [due_id]
    # An ended batch leaves the index (a sweep never sees it again)
    store.transition(tenant, due_id, from_statuses=[Status.VALIDATING], to=Status.EXPIRED, at=1_000)
    assert [
        b for b in store.due_batches(10**12, limit=1000) if b.tenant_id == tenant and b.batch_id == due_id
    ] == []
    flagged = store.transition(
        tenant,
        later_id,
        from_statuses=[Status.VALIDATING],
        to=Status.FINALIZING,
        at=5,
        changes={"expiring": True},
    )
    assert flagged is not None and flagged.expiring
