# ruff: noqa: F811  (the CLI fixtures are imported from test_cli and named as parameters)
"""``steward models route|promote|rollback|retire|show`` against in-memory stores, audited."""

from __future__ import annotations

from typing import Any

import pytest
from steward import admin
from steward.settings import AdminSettings

from tests.fakes import InMemoryAuditStore, InMemoryRegistryStore, complete_card
from tests.unit.test_cli import DIGEST, clean_env, keys, registry, run  # noqa: F401 (fixtures)


@pytest.fixture
def two(registry: InMemoryRegistryStore) -> InMemoryRegistryStore:
    admin.register_model(
        "emb", "2", target={"kind": "http", "url": "http://b"}, approval="approved",
        task="sentence-embedding", artifact_digest=DIGEST, card=complete_card(), make_default=False,
        settings=AdminSettings(stage="test"), store=registry,
    )  # fmt: skip
    return registry


def test_canary_promote_rollback_and_show(
    two: InMemoryRegistryStore, run: Any, cli_audit: InMemoryAuditStore
) -> None:
    routed = run("models", "route", "emb", "--weights", "1=90,2=10", "--sticky", "--json")
    assert routed.code == 0 and routed.json()["effective_weights"] == {"1": 90, "2": 10}
    human = run("models", "route", "emb", "--shadow", "2", "--weights", "1=100")
    assert human.code == 0 and "shadow 2" in human.out and "within 5 s" in human.out
    promoted = run("models", "promote", "emb", "2", "--reason", "quality", "--json")
    assert promoted.code == 0 and promoted.json()["default_version"] == "2"
    assert promoted.json()["shadow"] is None  # the promoted version no longer shadows itself
    rolled = run("models", "rollback", "emb", "--json")
    assert rolled.code == 0 and rolled.json()["default_version"] == "1"
    shown = run("models", "show", "emb", "--json").json()
    assert [e["event"] for e in shown["history"][:3]] == ["rolled_back", "promoted", "routed"]
    assert shown["history"][1]["reason"] == "quality" and shown["history"][1]["actor"] == "cli"
    actions = [r["reason_codes"][0] for r in cli_audit.records]
    assert {"admin.model_route", "admin.model_promote", "admin.model_rollback", "admin.model_show"} <= set(
        actions
    )


@pytest.mark.parametrize(
    ("argv", "exit_code", "code"),
    [
        (("models", "route", "emb", "--weights", "1=90,9=10"), 1, "model.version_not_found"),
        (("models", "route", "emb", "--weights", "1=x"), 2, "input.invalid"),
        (("models", "route", "emb", "--weights", "1=90", "--reason", "whim"), 2, "cli.usage"),
        (("models", "rollback", "emb"), 1, "model.rollback_unavailable"),
        (("models", "retire", "emb", "1"), 1, "model.default_conflict"),
    ],
)
def test_refusals_have_stable_codes(
    two: InMemoryRegistryStore, run: Any, argv: tuple[str, ...], exit_code: int, code: str
) -> None:
    result = run(*argv, "--json")
    assert result.code == exit_code, result.err
    assert result.json()["error"] == code


def test_retire_with_a_successor(two: InMemoryRegistryStore, run: Any) -> None:
    run("models", "promote", "emb", "2")
    retired = run("models", "retire", "emb", "2", "--default", "1", "--json")
    assert retired.code == 0 and retired.json()["versions"]["2"] == "retired"
    assert retired.json()["default_version"] == "1"
