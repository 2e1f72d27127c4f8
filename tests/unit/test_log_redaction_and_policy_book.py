"""The redacting log formatter, and the policy book's versions, cache and fail-closed reads."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from steward.errors import PolicyUnavailable
from steward.privacy import PolicyError
from steward.privacy import logs as log_redaction
from steward.privacy.logs import REDACTION_FAILED, RedactingFormatter, scrub_text
from steward.privacy.policies import BUILTIN_LABEL, PolicyBook

from tests.fakes import InMemoryPolicyStore

EMAIL = "jane.doe@example.com"
KEY = "AKIAIOSFODNN7EXAMPLE"


def _record(msg: str, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad value {EMAIL}")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("steward.test", logging.ERROR, __file__, 1, msg, None, exc_info)
    record.__dict__.update(extra)
    return record


def test_formatter_redacts_message_extras_and_tracebacks() -> None:
    # Given a log line with PII in the message, an extra field and the exception
    line = RedactingFormatter(service="t").format(
        _record(f"mail {EMAIL}", exc=True, note=f"key {KEY}", nested={"who": ["Dr. John Smith"]}, status=200)
    )
    # Then no value survives anywhere in the JSON, and structure fields are kept
    assert EMAIL not in line and KEY not in line and "John Smith" not in line
    doc = json.loads(line)
    assert doc["message"] == "mail <EMAIL_ADDRESS>"
    assert doc["note"] == "key <CLOUD_ACCESS_KEY>"
    assert doc["status"] == 200 and doc["level"] == "ERROR"
    assert "<EMAIL_ADDRESS>" in doc["exception"]


def test_a_failing_check_writes_a_marker_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a detection engine that errors
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("steward.privacy.redact", broken)
    monkeypatch.setattr(log_redaction, "_CLEAN", {})
    # Then the field is replaced, never written as is
    assert scrub_text(f"mail {EMAIL}") == REDACTION_FAILED


def test_policy_book_versions_scopes_and_default() -> None:
    # Given an empty store
    store = InMemoryPolicyStore()
    book = PolicyBook(store, ttl_s=60, clock=lambda: 0.0)
    # Then the built-in default applies and is labelled as such
    assert book.in_force("acme", None).label == BUILTIN_LABEL
    # When two tenant versions are saved (a client-sent version is ignored)
    book.save("acme", None, {"version": 7, "entities": {"EMAIL_ADDRESS": {"operator": "redact"}}}, author="k")
    second = book.save("acme", None, {"entities": {"EMAIL_ADDRESS": {"operator": "mask"}}}, author="k")
    # Then versions count up per scope, and the newest is in force (saving clears the cache)
    assert second.version == 2
    chosen = book.in_force("acme", "m")
    assert (chosen.label, chosen.policy.entities["EMAIL_ADDRESS"].operator) == ("tenant@v2", "mask")
    # And other tenants are unaffected
    assert book.in_force("globex", None).label == BUILTIN_LABEL


def test_policy_book_caches_reads_per_tenant_within_the_ttl() -> None:
    store = InMemoryPolicyStore()
    now = [0.0]
    book = PolicyBook(store, ttl_s=30, clock=lambda: now[0])
    book.in_force("acme", None)
    book.in_force("acme", "m")
    assert store.reads == 1
    now[0] = 31.0
    book.in_force("acme", None)
    assert store.reads == 2


def test_policy_book_fails_closed_and_rejects_invalid_documents() -> None:
    store = InMemoryPolicyStore()
    book = PolicyBook(store, ttl_s=0)
    with pytest.raises(PolicyError):
        book.save("acme", None, {"entities": {"NOT_A_TYPE": {}}}, author="k")
    store.fail = True
    with pytest.raises(PolicyUnavailable):
        book.in_force("acme", None)
