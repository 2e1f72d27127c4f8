"""Model cards: completeness, approval gating (admin + CLI), rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from steward import admin, cli
from steward.bootstrap import AdminPorts, pepper_source
from steward.catalog.cards import card_document, missing_fields, render_card_html
from steward.catalog.registry import ModelEntry
from steward.errors import CardIncomplete
from steward.settings import AdminSettings

from tests.fakes import InMemoryAuditStore, InMemoryKeyStore, InMemoryRegistryStore

COMPLETE: dict[str, Any] = {
    "description": "A classifier",
    "intended_use": "Demos",
    "out_of_scope_uses": "Real decisions",
    "training_data": "Synthetic rows",
    "evaluation": {"accuracy": 0.75},
    "fairness": {"demographic_parity_difference": 0.2},
    "limitations": "Synthetic",
    "owner": "ml-team",
    "license": "Apache-2.0",
}
DIGEST = "sha256:" + "ab" * 32
TARGET = {"kind": "http", "url": "http://b"}


@pytest.fixture
def store() -> InMemoryRegistryStore:
    return InMemoryRegistryStore()


def register(store: InMemoryRegistryStore, card: dict[str, Any], **kwargs: Any) -> None:
    admin.register_model(
        "credit", "1", target=TARGET, task="tabular-classification", card=card,
        artifact_digest=kwargs.pop("artifact_digest", DIGEST), settings=AdminSettings(stage="test"),
        store=store, **kwargs,
    )  # fmt: skip


def test_a_complete_card_has_no_missing_fields() -> None:
    assert missing_fields(COMPLETE, task="tabular-classification", artifact_digest=DIGEST) == []


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"intended_use": "  "}, ["intended_use"]),
        ({"evaluation": {}}, ["evaluation"]),
        ({"fairness": {}}, ["fairness"]),  # a classifier must state fairness results
        ({"owner": None, "limitations": ""}, ["limitations", "owner"]),
    ],
)
def test_missing_fields_name_what_is_empty(change: dict[str, Any], missing: list[str]) -> None:
    card = {**COMPLETE, **change}
    assert missing_fields(card, task="tabular-classification", artifact_digest=DIGEST) == missing


def test_models_that_decide_nothing_may_state_empty_fairness_but_need_the_field() -> None:
    embedding = {**COMPLETE, "fairness": {}}
    assert missing_fields(embedding, task="sentence-embedding", artifact_digest=DIGEST) == []
    without = {k: v for k, v in COMPLETE.items() if k != "fairness"}
    assert missing_fields(without, task="sentence-embedding", artifact_digest=DIGEST) == ["fairness"]
    assert missing_fields(COMPLETE, task="x", artifact_digest="") == ["artifact_digest"]


def test_set_approval_refuses_an_incomplete_card_and_leaves_the_state(store: InMemoryRegistryStore) -> None:
    # Given a pending version whose card lacks limitations and evaluation
    register(store, {**COMPLETE, "limitations": "", "evaluation": {}})

    # When someone approves it / Then card.incomplete (409) names the fields, state unchanged
    with pytest.raises(CardIncomplete) as raised:
        admin.set_approval("credit", "1", "approved", store=store)
    assert raised.value.status == 409 and raised.value.code == "card.incomplete"
    assert raised.value.missing == ["limitations", "evaluation"]
    assert "limitations, evaluation" in raised.value.detail
    assert store.versions["credit"]["1"].approval == "pending"


def test_set_approval_approves_a_complete_card_and_other_states_need_none(
    store: InMemoryRegistryStore,
) -> None:
    register(store, COMPLETE)
    assert admin.set_approval("credit", "1", "approved", store=store).approval == "approved"
    # A second version with no card at all can still be rejected or retired (the approved default,
    # credit@1, can't be re-registered as pending: that would take the model offline).
    admin.register_model(
        "credit", "2", target=TARGET, card={}, settings=AdminSettings(stage="test"), store=store
    )
    assert admin.set_approval("credit", "2", "retired", store=store).approval == "retired"


def test_registering_as_approved_is_gated_too_and_the_full_card_is_stored(
    store: InMemoryRegistryStore,
) -> None:
    with pytest.raises(CardIncomplete):
        register(store, {"description": "d"}, approval="approved")
    assert "credit" not in store.versions
    register(store, {**COMPLETE, "unknown_field": "dropped"}, approval="approved")
    stored = store.versions["credit"]["1"]
    assert stored.approval == "approved"
    assert dict(stored.card) == COMPLETE  # full card (training data, evaluation, fairness), known fields


def test_cli_approve_reports_missing_fields_and_fails(
    store: InMemoryRegistryStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_audit: InMemoryAuditStore,
) -> None:
    register(store, {**COMPLETE, "owner": ""})
    monkeypatch.setattr(
        admin, "build_admin", lambda settings: AdminPorts(InMemoryKeyStore(), store, pepper_source(settings))
    )
    code = cli.main(["models", "approve", "credit", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and out["error"] == "card.incomplete" and out["missing_fields"] == ["owner"]
    assert store.versions["credit"]["1"].approval == "pending"
    [record] = cli_audit.records_of("@platform")  # a refusal the CLI audits, as the API would
    assert record["status"] == 409 and "card.incomplete" in record["reason_codes"]


def test_card_document_and_html_escape_everything(store: InMemoryRegistryStore) -> None:
    register(store, {**COMPLETE, "description": "<script>alert(1)</script>", "evaluation": {"a<b": 0.123456}})
    version = store.versions["credit"]["1"]
    document = card_document(ModelEntry("credit", "1"), version, {"demographic_parity_ratio": 0.71})
    assert document["approval"] == "pending" and document["artifact_digest"] == DIGEST
    assert (
        document["complete"] is True and document["fairness_monitoring"]["demographic_parity_ratio"] == 0.71
    )
    page = render_card_html(document)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b" in page and "0.1235" in page and "Fairness monitoring" in page
