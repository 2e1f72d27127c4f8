"""What archiving costs: S3 PUTs and bytes per audit record, and the archiver's time per batch.

Chains audit records in memory (the writer the DynamoDB adapter runs) and puts them into the audit
table on an in-process moto server (one or many tenants): the stream then holds the records and
not the chain head, as the event source's filter leaves it in AWS. The local stream poller hands
it to the archiver's handler in Lambda's event shape, in batches as large as in AWS.

Prints, per tenant mix: objects written per 1000 records (the PUT cost), bytes per archived
record, the handler's time per batch (p50 and max, on moto over loopback), and what a re-delivery
of every batch writes (nothing).

    .venv/bin/python scripts/measure_archive.py [--records 1000] [--parallel 16] [--put-latency-ms 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

#: As the event source mapping sends them (`cdk/audit_archive.py`).
BATCH_SIZE = 500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=16, help="PUTs in flight per batch")
    parser.add_argument(
        "--put-latency-ms",
        type=float,
        default=0.0,
        help="added to each PUT (moto answers in ~5 ms, S3 in tens)",
    )
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server._server.server_address  # type: ignore[union-attr]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "measure",
            "AWS_SECRET_ACCESS_KEY": "measure",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STEWARD_STAGE": "measure",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    try:
        for tenants in (1, 10, 100):
            run(args.records, tenants, args.parallel, args.put_latency_ms / 1000)
    finally:
        server.stop()


def run(records: int, tenants: int, parallel: int, latency_s: float) -> None:
    import boto3
    from steward.adapters.audit_archive import S3AuditArchive
    from steward.adapters.aws import reset_clients
    from steward.adapters.ddb_codec import to_item
    from steward.audit.archive import ArchiveObject, AuditArchiver
    from steward.audit.chain import AuditChain
    from steward.bootstrap import Lazy
    from steward.resources import ResourceNames
    from steward.settings import ArchiverSettings

    from functions.audit_archiver import handler as archiver_handler
    from scripts.local.provision import create_audit_bucket, table_definition
    from scripts.local.stream_poller import LambdaContext, StreamPoller
    from tests.fakes import InMemoryAuditStore

    reset_clients()
    names = ResourceNames(f"measure{tenants}")
    os.environ["STEWARD_STAGE"] = names.stage
    ddb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    ddb.create_table(**table_definition(names.audit_table))
    key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    create_audit_bucket(s3, names, key)

    settings = ArchiverSettings()
    sink = S3AuditArchive(settings.audit_bucket, region=settings.region, lock_mode=settings.audit_lock_mode)

    class Slower:
        """The bucket with S3's round trip added to each PUT (moto on loopback has none)."""

        def put(self, obj: ArchiveObject) -> bool:
            time.sleep(latency_s)
            return sink.put(obj)

    archiver_handler.archiver = Lazy(
        lambda: AuditArchiver(
            Slower(), default_retention_days=settings.audit_retention_days, max_parallel_puts=parallel
        )
    )

    chained = InMemoryAuditStore(AuditChain(lambda: b"p" * 32))
    start = 1_900_000_000
    for i in range(records):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i)) + ".000Z"
        chained.put(
            {
                "tenant_id": f"tenant-{i % tenants}",
                "sk": f"{stamp}#req-{i:06d}",
                "request_id": f"req-{i:06d}",
                "timestamp": stamp,
                "key_id": "k" * 12,
                "route": "POST /v1/embeddings",
                "model": "all-minilm-l6-v2",
                "model_version": "1",
                "decision": "allow",
                "reason_codes": [],
                "status": 200,
                "pii_counts": {"EMAIL_ADDRESS": 1},
                "n_inputs": 1,
                "input_hmac": "a" * 64,
                "input_bytes": 64,
                "output_hmac": "b" * 64,
                "output_bytes": 8000,
                "latency_ms": 41.234,
                "expires_at": int(time.time()) + 30 * 86_400,
            }
        )
    for record in chained.records:
        ddb.put_item(TableName=names.audit_table.name, Item=to_item(record))

    timings: list[float] = []
    events: list[dict[str, Any]] = []

    def timed(event: dict[str, Any], context: Any) -> Any:
        events.append(event)
        t0 = time.perf_counter()
        answer = archiver_handler.handler(event, context)
        timings.append((time.perf_counter() - t0) * 1000)
        return answer

    poller = StreamPoller(
        ddb,
        boto3.client("dynamodbstreams"),
        names.audit_table.name,
        timed,
        context=LambdaContext("measure"),
        batch_size=BATCH_SIZE,
    )
    while poller.poll_once():
        pass
    listed = s3.list_object_versions(Bucket=names.audit_bucket).get("Versions", [])
    size = sum(v["Size"] for v in listed)
    before = len(listed)
    for event in events:  # every batch delivered again
        archiver_handler.handler(event, poller.context)
    again = len(s3.list_object_versions(Bucket=names.audit_bucket).get("Versions", [])) - before
    print(
        f"{tenants:>3} tenant(s), {parallel} PUTs in flight, +{latency_s * 1000:.0f} ms each: "
        f"{records} records, "
        f"{len(events)} batches -> {before} objects "
        f"({1000 * before / records:.0f} PUTs per 1000 records), {size / records:.0f} bytes per record; "
        f"handler per batch p50 {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms; "
        f"redelivered: {again} new objects"
    )


if __name__ == "__main__":
    main()
