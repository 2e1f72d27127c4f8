"""The audit archive end to end on moto server: chained writes to the audit table, its DynamoDB
stream read by the local event-source stand-in (`scripts.local.stream_poller`) in Lambda's event
shape, the archiver's handler, and objects in the Object Lock bucket; then the CLI reads them back.

moto runs no TTL sweeper, so a TTL expiry is played by deleting the item (what DynamoDB's sweeper
does: a REMOVE in the stream, which archives nothing)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from steward import bootstrap, cli
from steward.adapters.audit_store import DynamoAuditStore
from steward.audit.archive import tenant_prefix
from steward.audit.chain import AuditChain
from steward.bootstrap import Lazy, build_archiver
from steward.cli_audit import EXIT_CHAIN_BROKEN
from steward.resources import ResourceNames
from steward.settings import ArchiverSettings

from functions.audit_archiver import handler as archiver_handler
from scripts.local.provision import create_audit_bucket
from scripts.local.stream_poller import LambdaContext, StreamPoller
from tests.fakes import InMemoryAuditStore

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration
CHAIN = AuditChain(PEPPER.encode)
TENANT = "t-archive"
DAY = 86_400


def _record(i: int, *, expires_at: int) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_900_000_000 + i)) + ".000Z"
    return {
        "tenant_id": TENANT,
        "sk": f"{stamp}#req-{i:05d}",
        "request_id": f"req-{i:05d}",
        "timestamp": stamp,
        "status": 200,
        "latency_ms": 1.5,
        "pii_counts": {"EMAIL": 1},
        "reason_codes": [],
        "expires_at": expires_at,
    }


@pytest.fixture(autouse=True)
def cli_records_elsewhere(monkeypatch: pytest.MonkeyPatch) -> InMemoryAuditStore:
    """The CLI's own audit records (one per command) go to a table of their own here, so the
    tenant's chain holds exactly the records this test writes and counts."""
    store = InMemoryAuditStore()
    ports = bootstrap.AdminAudit(
        store, lambda: PEPPER.encode(), lambda: "arn:aws:iam::1:role/ops", retention_days=400
    )
    monkeypatch.setattr(bootstrap, "build_admin_audit", lambda settings: ports)
    return store


@pytest.fixture(scope="module")
def bucket(names: ResourceNames) -> str:
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    create_audit_bucket(boto3.client("s3", region_name=REGION), names, key_id)
    return names.audit_bucket


class Recorder:
    """The archiver's handler, keeping every event it was given (to redeliver one)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return archiver_handler.handler(event, context)


@pytest.fixture
def poller(names: ResourceNames, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StreamPoller]:
    # The archiver built from this environment (STEWARD_STAGE=test), as a cold start would; its
    # EMF lines off, as on the local stack (stdout here is the CLI's).
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr(archiver_handler, "archiver", Lazy(lambda: build_archiver(ArchiverSettings())))
    yield StreamPoller(
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("dynamodbstreams", region_name=REGION),
        names.audit_table.name,
        Recorder(),
        context=LambdaContext(function_name="steward-test-audit-archiver"),
    )


def _drain(poller: StreamPoller) -> None:
    while poller.poll_once():
        pass


def _objects(bucket: str) -> list[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=tenant_prefix(TENANT)).get("Versions", [])
    return sorted(versions, key=lambda v: (v["Key"], v["LastModified"]))


def _lines(bucket: str, version: dict[str, Any]) -> list[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def test_records_are_archived_from_the_stream_locked_and_outlive_the_table(
    names: ResourceNames, bucket: str, poller: StreamPoller, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    store = DynamoAuditStore(names.audit_table.name, region=REGION, chain=CHAIN)
    store.put(_record(0, expires_at=now - 10))  # a short plan: expired already
    for i in range(1, 4):
        store.put(_record(i, expires_at=now + 30 * DAY))
    _drain(poller)

    # One object (one tenant, one day), its lines exactly what `steward audit export` prints
    (obj,) = _objects(bucket)
    archived = _lines(bucket, obj)
    assert [r["seq"] for r in archived] == [1, 2, 3, 4]
    assert cli.main(["audit", "export", "--tenant", TENANT]) == 0
    assert archived == [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    # Locked (GOVERNANCE on this stage) until the latest expiry among its records, SSE-KMS
    s3 = boto3.client("s3", region_name=REGION)
    head = s3.head_object(Bucket=bucket, Key=obj["Key"], VersionId=obj["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert int(head["ObjectLockRetainUntilDate"].timestamp()) == now + 30 * DAY
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=obj["Key"], VersionId=obj["VersionId"])

    # A correction (MODIFY) is archived as another object; the original stays
    corrected = {
        **_record(2, expires_at=now + 30 * DAY),
        "status": 503,
        "reason_codes": ["audit.unavailable"],
    }
    store.correct(corrected)
    _drain(poller)
    assert sorted((r["seq"], r["status"]) for o in _objects(bucket) for r in _lines(bucket, o)) == [
        (1, 200), (2, 200), (3, 200), (4, 200), (5, 503)
    ]  # fmt: skip

    # A redelivered batch writes nothing new (its object is named by its content)
    store.put(_record(9, expires_at=now + 30 * DAY))
    _drain(poller)
    before = len(_objects(bucket))
    assert isinstance(poller.handler, Recorder)
    last = poller.handler.events[-1]
    assert archiver_handler.handler(last, poller.context) == {"batchItemFailures": []}
    assert len(_objects(bucket)) == before

    # The expired record leaves the table (TTL: a REMOVE, archiving nothing); both walks hold
    ddb = boto3.client("dynamodb", region_name=REGION)
    expired = {"tenant_id": {"S": TENANT}, "sk": {"S": _record(0, expires_at=0)["sk"]}}
    ddb.delete_item(TableName=names.audit_table.name, Key=expired)
    _drain(poller)
    assert len(_objects(bucket)) == before
    assert cli.main(["audit", "verify", "--tenant", TENANT, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["first_seq"] == 2  # the table starts after the expired one
    assert cli.main(["audit", "verify", "--tenant", TENANT, "--archive", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["first_seq"], document["last_seq"], document["head_seq"]) == (1, 6, 6)
    assert cli.main(["audit", "export", "--tenant", TENANT, "--archive"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert exported[0]["request_id"] == "req-00000"  # gone from the table, kept in the archive

    # The backfill copies the table's records (in the bucket's own lock mode); a re-run is a no-op
    assert cli.main(["audit", "archive", "--tenant", TENANT, "--json"]) == 0
    copied = json.loads(capsys.readouterr().out)
    assert copied["records"] == 4 and copied["objects_written"] + copied["objects_present"] == 1
    assert cli.main(["audit", "archive", "--tenant", TENANT, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["objects_written"] == 0
    (backfilled,) = [o for o in _objects(bucket) if "-2-6-" in o["Key"]]  # seq 2..6, as the table holds them
    assert s3.head_object(Bucket=bucket, Key=backfilled["Key"])["ObjectLockMode"] == "GOVERNANCE"
    assert cli.main(["audit", "verify", "--tenant", TENANT, "--archive", "--json"]) == 0
    capsys.readouterr()

    # A version written over an archived object can't hide the locked original: named
    edited = [{**r, "status": 403} if r["seq"] == 3 else r for r in _lines(bucket, obj)]
    s3.put_object(
        Bucket=bucket,
        Key=obj["Key"],
        Body="".join(json.dumps(r, sort_keys=True) + "\n" for r in edited).encode(),
        ChecksumAlgorithm="SHA256",
    )
    assert cli.main(["audit", "verify", "--tenant", TENANT, "--archive", "--json"]) == EXIT_CHAIN_BROKEN
    finding = json.loads(capsys.readouterr().out)["finding"]
    assert (finding["problem"], finding["seq"], finding["request_id"]) == ("edited", 3, "req-00002")
