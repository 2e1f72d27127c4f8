"""The audit chain on the real DynamoDB API (moto server): concurrent writers in separate
"processes" (one store each) never fork it, and an edit, a deletion or an insertion made straight
in the table is named by the verifier.

moto's ``TransactWriteItems`` is not atomic across its server threads (it copies the table and
checks conditions without a lock, and can fail outright under a parallel write), where DynamoDB
serialises transactions on an item. The race test therefore talks to a second moto front end over
the same in-process backend that answers one request at a time: the writers still interleave
their reads and commits freely, only each transaction is indivisible, as in DynamoDB.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.ddb_codec import to_item
from steward.audit import chain as chain_module
from steward.audit.chain import AuditChain
from steward.audit.trail import verify
from steward.resources import ResourceNames

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration
CHAIN = AuditChain(PEPPER.encode)
WRITERS, EACH = 8, 12


def _record(tenant: str, i: int) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_900_000_000 + i)) + ".000Z"
    return {
        "tenant_id": tenant,
        "sk": f"{stamp}#req-{i:05d}",
        "request_id": f"req-{i:05d}",
        "timestamp": stamp,
        "status": 200,
        "latency_ms": 1.5,
        "pii_counts": {"EMAIL": 1},
        "reason_codes": [],
        "expires_at": int(time.time()) + 86_400,
    }


def _store(names: ResourceNames) -> DynamoAuditStore:
    return DynamoAuditStore(names.audit_table.name, region=REGION, chain=CHAIN)


def _filled(names: ResourceNames, tenant: str, n: int = 6) -> DynamoAuditStore:
    store = _store(names)
    for i in range(n):
        store.put(_record(tenant, i))
    return store


def _items(names: ResourceNames, tenant: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    found = ddb.query(
        TableName=names.audit_table.name,
        KeyConditionExpression="tenant_id = :t AND sk < :h",
        ExpressionAttributeValues={":t": {"S": tenant}, ":h": {"S": "~"}},
    )
    return list(found["Items"])


def test_concurrent_writers_in_separate_processes_never_fork_the_chain(
    names: ResourceNames, serial_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = "t-chain-race"
    # moto answers a transaction in tens of ms (it copies the table), DynamoDB in a few: the
    # production bounds would turn moto's slowness into refused writes; this test is about forks.
    monkeypatch.setattr(chain_module, "MAX_WRITE_S", 120.0)
    monkeypatch.setattr(chain_module, "MAX_TRIES", 500)
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        store = _store(names)  # its own head cache, as a separate Lambda container has
        barrier.wait(timeout=30)
        try:
            for i in range(EACH):
                store.put(_record(tenant, w * 1000 + i))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    elapsed = time.perf_counter() - t0
    assert not errors
    seqs = sorted(int(item["seq"]["N"]) for item in _items(names, tenant))
    assert seqs == list(range(1, WRITERS * EACH + 1))
    verdict = verify(_store(names), CHAIN, tenant)
    print(
        f"{WRITERS} writers x {EACH} in {elapsed:.1f} s: {verdict.records} records, chain holds: {verdict.ok}"
    )
    assert verdict.ok and verdict.head_seq == WRITERS * EACH


def test_a_correction_of_a_landed_write_keeps_the_chain(names: ResourceNames) -> None:
    tenant = "t-chain-correct"
    store = _filled(names, tenant, 3)
    landed = _record(tenant, 3)
    store.put(landed)  # the caller saw a timeout
    store.put(_record(tenant, 4))
    store.correct({**landed, "status": 503, "reason_codes": ["audit.unavailable"]})
    store.put(landed)  # the first write's retry: creates nothing
    assert verify(store, CHAIN, tenant).ok
    statuses = {item["request_id"]["S"]: item["status"]["N"] for item in _items(names, tenant)}
    assert statuses[landed["request_id"]] == "503"


def _edit(ddb: Any, table: str, item: dict[str, Any]) -> None:
    ddb.update_item(
        TableName=table,
        Key={"tenant_id": item["tenant_id"], "sk": item["sk"]},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"N": "403"}},
    )


def _delete(ddb: Any, table: str, item: dict[str, Any]) -> None:
    ddb.delete_item(TableName=table, Key={"tenant_id": item["tenant_id"], "sk": item["sk"]})


def _insert(ddb: Any, table: str, item: dict[str, Any]) -> None:
    forged = {**item, "sk": {"S": item["sk"]["S"] + "-x"}, "request_id": {"S": "req-forged"}}
    ddb.put_item(TableName=table, Item=forged)


def _insert_unchained(ddb: Any, table: str, item: dict[str, Any]) -> None:
    record = _record(item["tenant_id"]["S"], 99)
    ddb.put_item(TableName=table, Item=to_item({**record, "request_id": "req-forged"}))


@pytest.mark.parametrize(
    ("tamper", "problem", "seq", "request_id"),
    [
        (_edit, "edited", 3, "req-00002"),
        (_delete, "deleted", 3, None),
        (_insert, "inserted", 3, "req-forged"),
        (_insert_unchained, "inserted", None, "req-forged"),
    ],
)
def test_tampering_straight_in_the_table_is_named(
    names: ResourceNames,
    tamper: Callable[[Any, str, dict[str, Any]], None],
    problem: str,
    seq: int | None,
    request_id: str | None,
) -> None:
    tenant = f"t-chain-{tamper.__name__.strip('_')}"
    store = _filled(names, tenant)
    assert verify(store, CHAIN, tenant).ok
    third = next(i for i in _items(names, tenant) if i["seq"]["N"] == "3")
    tamper(boto3.client("dynamodb", region_name=REGION), names.audit_table.name, third)
    finding = verify(store, CHAIN, tenant).finding
    print(f"{tamper.__name__}: {finding}")
    assert finding is not None and (finding.problem, finding.seq, finding.request_id) == (
        problem,
        seq,
        request_id,
    )


def test_the_cli_verifies_and_exports_against_the_table(
    names: ResourceNames, capsys: pytest.CaptureFixture[str]
) -> None:
    from steward import cli

    tenant = "t-chain-cli"
    _filled(names, tenant, 4)
    assert cli.main(["audit", "verify", "--tenant", tenant, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["head_seq"] == 4
    assert cli.main(["audit", "export", "--tenant", tenant]) == 0
    exported = {json.loads(line)["seq"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    # The four records, and the record `audit verify` left of itself (chained after them)
    assert sorted(exported) == [1, 2, 3, 4, 5] and exported[5]["route"] == "CLI steward audit verify"
    second = next(i for i in _items(names, tenant) if i["seq"]["N"] == "2")
    _delete(boto3.client("dynamodb", region_name=REGION), names.audit_table.name, second)
    assert cli.main(["audit", "verify", "--tenant", tenant, "--json"]) == 4
    assert json.loads(capsys.readouterr().out)["finding"]["seq"] == 2
