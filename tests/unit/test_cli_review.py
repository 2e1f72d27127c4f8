"""``steward review list|show|claim|resolve`` over an in-memory review queue: the same service
as the admin routes, acting for the operator (any tenant, ``cli`` as the reviewer)."""

from __future__ import annotations

import json

import pytest
from steward import cli, cli_review
from steward.audit.record import AuditDraft
from steward.auth.lifecycle import KeyLifecycle, NewKey
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.review.service import ReviewService
from steward.usage_policy.document import Direction
from steward.usage_policy.ports import Flagged

from tests.fakes import InMemoryAuditStore, InMemoryKeyStore, InMemoryReviewStore

from .conftest import PEPPER, review_queue


@pytest.fixture
def keys() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def queue(
    monkeypatch: pytest.MonkeyPatch, keys: InMemoryKeyStore, cli_audit: InMemoryAuditStore
) -> ReviewService:
    service = review_queue(InMemoryReviewStore(), KeyLifecycle(keys, lambda: PEPPER))
    monkeypatch.setattr(cli_review, "_service", lambda settings: service)
    monkeypatch.setenv("STEWARD_STAGE", "test")  # an environment is set: no local state file read
    return service


def flag(queue: ReviewService, keys: InMemoryKeyStore, tenant: str, text: str) -> tuple[str, str]:
    _, record = KeyLifecycle(keys, lambda: PEPPER).create(NewKey(tenant, ("*",)))
    ctx = RequestContext(
        Principal.from_record(record), AuditDraft("r-1", "POST", "/v1/embeddings", 0.0, tenant)
    )
    [outcome] = queue.flagged(
        ctx, [Flagged("word", "watch", Direction.INPUT, True, (text,), "m", "tenant@v1")]
    )
    assert outcome.review_id is not None
    return outcome.review_id, record.key_id


def run(capsys: pytest.CaptureFixture[str], *argv: str, as_json: bool = True) -> tuple[int, object]:
    code = cli.main([*argv, "--json"] if as_json else list(argv))
    out = capsys.readouterr().out.strip()
    return code, (json.loads(out) if as_json and out else out)


def test_list_show_claim_and_resolve_for_any_tenant(
    queue: ReviewService, keys: InMemoryKeyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    acme, key_id = flag(queue, keys, "acme", "the heist, <EMAIL_ADDRESS_1>")
    globex, _ = flag(queue, keys, "globex", "another heist")
    code, listed = run(capsys, "review", "list")
    assert code == 0 and {i["review_id"] for i in listed["data"]} == {acme, globex}  # type: ignore[index]
    code, one = run(capsys, "review", "list", "--tenant", "acme", "--state", "open")
    assert code == 0 and [i["review_id"] for i in one["data"]] == [acme]  # type: ignore[index]
    code, text = run(capsys, "review", "show", acme, as_json=False)
    assert code == 0 and "the heist, <EMAIL_ADDRESS_1>" in str(text) and "watch" in str(text)
    code, claimed = run(capsys, "review", "claim", acme)
    assert code == 0 and claimed["claimed_by"] == "cli"  # type: ignore[index]
    code, resolved = run(capsys, "review", "resolve", acme, "--decision", "violation", "--suspend-key")
    assert code == 0 and resolved["decision"] == "violation" and resolved["suspend_key"] is True  # type: ignore[index]
    assert keys.records[key_id].revoked
    code, summary = run(capsys, "review", "list", "--state", "resolved", as_json=False)
    assert code == 0 and acme in str(summary) and "key-suspended" in str(summary)


def test_refusals_are_one_line_with_stable_codes(
    queue: ReviewService, keys: InMemoryKeyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    review_id, _ = flag(queue, keys, "acme", "text")
    code, error = run(capsys, "review", "resolve", review_id, "--decision", "approve")
    assert (code, error) == (1, {"error": "review.not_claimed", "detail": error["detail"]})  # type: ignore[index]
    code, error = run(capsys, "review", "show", "rv_" + "0" * 24)
    assert code == 1 and error["error"] == "review.not_found"  # type: ignore[index]
    run(capsys, "review", "claim", review_id)
    code, error = run(capsys, "review", "resolve", review_id, "--decision", "approve", "--suspend-key")
    assert code == 2 and error["error"] == "input.invalid"  # type: ignore[index]
    code, error = run(capsys, "review", "resolve", review_id, "--decision", "maybe")
    assert code == 2 and error["error"] == "cli.usage"  # type: ignore[index]
    code, error = run(capsys, "review", "list", "--limit", "0")
    assert code == 2 and error["error"] == "input.invalid"  # type: ignore[index]


def test_each_review_command_is_audited_in_the_items_tenant_chain(
    queue: ReviewService,
    keys: InMemoryKeyStore,
    cli_audit: InMemoryAuditStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review_id, key_id = flag(queue, keys, "acme", "the heist, <EMAIL_ADDRESS_1>")
    run(capsys, "review", "show", review_id)
    run(capsys, "review", "claim", review_id)
    run(capsys, "review", "resolve", review_id, "--decision", "violation", "--suspend-key")
    records = sorted(cli_audit.records_of("acme"), key=lambda r: int(r["seq"]))
    assert [r["reason_codes"] for r in records] == [
        ["admin.review_show", f"review.{review_id}"],
        ["admin.review_claim", f"review.{review_id}"],
        ["admin.review_resolve", f"review.{review_id}", "review.violation", f"key.{key_id}"],
    ]
    assert "heist" not in json.dumps(records)
