"""Audit record builder: the what/who/when without content."""

from __future__ import annotations

import pytest
from steward.audit.reader import decode_cursor, encode_cursor, public_view
from steward.audit.record import AuditDraft, build_record, decision_for
from steward.errors import InvalidInput


def test_record_carries_identity_model_hashes_and_ttl() -> None:
    draft = AuditDraft("req-1", "POST", "/v1/embeddings", started_at=1_700_000_000.25)
    draft.tenant_id, draft.key_id, draft.model, draft.model_version = "acme", "k1", "m", "1"
    draft.error_code = "backend.unavailable"
    record = build_record(
        draft, status=503, output_hmac="o" * 64, output_bytes=10, latency_ms=1.23456, retention_days=30
    )
    assert record["sk"] == "2023-11-14T22:13:20.250Z#req-1"
    assert record["decision"] == "error" and record["reason_codes"] == ["backend.unavailable"]
    assert record["expires_at"] == 1_700_000_000 + 30 * 86_400
    assert record["latency_ms"] == 1.235
    assert "tenant_id" not in public_view(record) and "sk" not in public_view(record)


@pytest.mark.parametrize(
    ("status", "decision"), [(200, "allow"), (404, "deny"), (413, "deny"), (502, "error")]
)
def test_decision_follows_status(status: int, decision: str) -> None:
    assert decision_for(status) == decision


def test_cursor_round_trips_and_rejects_junk() -> None:
    sk = "2023-11-14T22:13:20.250Z#req-1"
    assert decode_cursor(encode_cursor(sk)) == sk
    assert decode_cursor(None) is None
    with pytest.raises(InvalidInput):
        decode_cursor("!!!not-base64")
