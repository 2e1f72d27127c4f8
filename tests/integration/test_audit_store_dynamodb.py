"""The audit table's write rules on the real DynamoDB API (moto server): create once, correct."""

from __future__ import annotations

import pytest
from steward.adapters.audit_store import DynamoAuditStore
from steward.audit.chain import AuditChain
from steward.resources import ResourceNames

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration


def _record(status: int, **extra: object) -> dict[str, object]:
    key = {"tenant_id": "t-outcome", "sk": "2030-01-01T00:00:00.000Z#req-outcome"}
    return {**key, "request_id": "req-outcome", "status": status, **extra}


def _stored(store: DynamoAuditStore) -> list[dict[str, object]]:
    records, _ = store.query("t-outcome", limit=10, after_sk=None, key_id=None)
    return records


def test_a_retry_finds_its_own_record_and_a_late_write_cannot_replace_a_correction(
    names: ResourceNames,
) -> None:
    store = DynamoAuditStore(names.audit_table.name, region=REGION, chain=AuditChain(PEPPER.encode))
    # Given the first write landed (the caller's SDK retried after a timeout)
    store.put(_record(200))
    # When the retry arrives: no error, and nothing replaced
    store.put(_record(200, attempt=2))
    assert [(r["status"], r.get("attempt")) for r in _stored(store)] == [(200, None)]
    # When the request is corrected (the caller got 503), the correction replaces the record
    store.correct(_record(503, reason_codes=["audit.unavailable"]))
    # and a first write that lands only now can't bring the 200 back
    store.put(_record(200))
    (record,) = _stored(store)
    assert (record["status"], record["reason_codes"]) == (503, ["audit.unavailable"])
