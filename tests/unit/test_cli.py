"""``steward`` CLI: one clear line and a stable exit code for every refusal, ``--json`` on every
command, and the local stack found through ``.steward/local.json`` when no environment is set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from steward import admin, cli
from steward.bootstrap import AdminPorts, pepper_source
from steward.settings import AdminSettings

from tests.fakes import InMemoryAuditStore, InMemoryKeyStore, InMemoryRegistryStore, complete_card

DIGEST = "sha256:" + "cd" * 32


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No STEWARD_* / AWS_* variables, an empty working directory."""
    for name in list(os.environ):
        if name.startswith(("STEWARD_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def keys() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def registry(
    clean_env: Path, keys: InMemoryKeyStore, monkeypatch: pytest.MonkeyPatch, cli_audit: InMemoryAuditStore
) -> InMemoryRegistryStore:
    """In-memory stores behind the CLI (test stage, pepper in the environment), emb@1 approved."""
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", "cli-test-pepper-0123456789abcdef")
    store = InMemoryRegistryStore()
    monkeypatch.setattr(
        admin, "build_admin", lambda settings: AdminPorts(keys, store, pepper_source(settings))
    )
    admin.register_model(
        "emb", "1", target={"kind": "http", "url": "http://b"}, approval="approved",
        task="sentence-embedding", artifact_digest=DIGEST, card=complete_card(),
        settings=AdminSettings(stage="test"), store=store,
    )  # fmt: skip
    return store


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*argv: str) -> Run:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


REFUSALS = [
    (("keys", "revoke", "nokey"), 1, "key.not_found"),
    (("models", "approve", "emb", "9"), 1, "model.version_not_found"),
    (("models", "approve", "emb", "1", "--state", "bogus"), 2, "cli.usage"),
    (("models", "approve", "emb", "1", "--state", "retired"), 1, "model.default_conflict"),
    (("models", "register", "--model", "emb", "--version", "2", "--url", "http://b", "--approve"), 3,
     "card.incomplete"),
    (("models", "register", "--model", "emb", "--version", "1", "--url", "http://b"), 1,
     "model.default_conflict"),
    (("models", "register", "--model", "emb", "--url", "http://b"), 2, "cli.usage"),
    (("models", "register", "--manifest", "missing.json", "--url", "http://b"), 2, "input.invalid"),
    (("keys", "create", "--tenant", "t", "--models", "*", "--expires-days", "-1"), 2, "cli.usage"),
    (("keys", "create", "--tenant", "t", "--models", "*", "--expires-days", "0"), 2, "cli.usage"),
    (("keys", "create", "--tenant", "t", "--models", "*", "--expires-days", "nan"), 2, "cli.usage"),
    (("keys", "create", "--tenant", "", "--models", "*"), 2, "input.invalid"),
    (("keys", "create", "--tenant", "t", "--models", ","), 2, "input.invalid"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "exit_code", "code"), REFUSALS)
def test_a_refusal_is_one_line_on_stderr_and_a_non_zero_exit(
    registry: InMemoryRegistryStore, keys: InMemoryKeyStore, run: Any, argv: tuple[str, ...],
    exit_code: int, code: str,
) -> None:  # fmt: skip
    result = run(*argv)
    assert result.code == exit_code
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert code in lines[0] and result.out == ""
    # Nothing changed: no key stored, the default still serves emb@1
    assert keys.records == {} and registry.entries["emb"].default_version == "1"
    assert registry.versions["emb"]["1"].approval == "approved"


@pytest.mark.parametrize(("argv", "exit_code", "code"), REFUSALS)
def test_with_json_a_refusal_is_a_json_document_with_a_stable_code(
    registry: InMemoryRegistryStore, run: Any, argv: tuple[str, ...], exit_code: int, code: str
) -> None:
    result = run(*argv, "--json")
    assert result.code == exit_code
    body = result.json()
    assert body["error"] == code and body["detail"] and "Traceback" not in result.err


def test_card_incomplete_names_the_missing_fields(registry: InMemoryRegistryStore, run: Any) -> None:
    result = run(
        "--json", "models", "register", "--model", "emb", "--version", "2", "--url", "u", "--approve"
    )
    assert result.code == 3
    assert "intended_use" in result.json()["missing_fields"] and "2" not in registry.versions["emb"]


def test_keys_create_prints_the_key_once_human_or_json(
    registry: InMemoryRegistryStore, keys: InMemoryKeyStore, run: Any
) -> None:
    human = run("keys", "create", "--tenant", "acme", "--models", "emb", "--expires-days", "30")
    assert human.code == 0 and human.out.count("stw_") == 1 and "shown only once" in human.err
    scripted = run("keys", "create", "--tenant", "acme", "--models", "*", "--admin", "--json")
    body = scripted.json()
    assert scripted.code == 0 and body["key"].startswith("stw_") and body["tenant_id"] == "acme"
    assert body["key_id"] in keys.records and body["scopes"] == ["admin"] and body["expires_at"] is None
    revoked = run("keys", "revoke", body["key_id"], "--json")
    assert revoked.code == 0 and revoked.json()["key_id"] == body["key_id"] and revoked.json()["revoked"]
    assert keys.records[body["key_id"]].revoked and "key" not in revoked.json()


def test_keys_create_with_limits_list_and_rotate(keys: InMemoryKeyStore, run: Any, registry: Any) -> None:
    created = run(
        "keys", "create", "--tenant", "acme", "--models", "emb", "--rpm", "60", "--daily", "1000",
        "--monthly", "20000", "--expires-days", "90", "--name", "ci", "--json",
    ).json()  # fmt: skip
    assert created["limits"] == {"rpm": 60, "daily": 1000, "monthly": 20000}
    record = keys.records[created["key_id"]]
    assert record.limits.rpm == 60 and record.limits.monthly == 20000

    rotated = run("keys", "rotate", created["key_id"], "--overlap-hours", "2", "--json")
    assert rotated.code == 0, rotated.err
    new = rotated.json()
    assert new["key"].startswith("stw_") and new["key"] != created["key"] and "shown only once" in rotated.err
    assert new["rotated_from"] == created["key_id"] and new["limits"] == created["limits"]
    assert new["previous"]["rotated_to"] == new["key_id"] and "key" not in new["previous"]

    listed = run("keys", "list", "--tenant", "acme", "--json")
    views = listed.json()["data"]
    assert listed.code == 0 and {v["key_id"] for v in views} == {created["key_id"], new["key_id"]}
    for secret in (created["key"], new["key"], *(r.secret_hash for r in keys.records.values())):
        assert secret not in listed.out
    human = run("keys", "list", "--tenant", "acme")
    assert human.code == 0 and f"rotated-to={new['key_id']}" in human.out and "stw_" not in human.out


@pytest.mark.parametrize(
    "argv",
    [
        ("keys", "create", "--tenant", "acme", "--models", "*", "--rpm", "0"),
        ("keys", "create", "--tenant", "acme", "--models", "*", "--daily", "ten"),
        ("keys", "rotate", "abc", "--overlap-hours", "200"),
        ("keys", "rotate", "abc", "--overlap-hours", "-1"),
    ],
)
def test_key_limits_and_overlap_are_checked_as_usage_errors(
    keys: InMemoryKeyStore, run: Any, registry: Any, argv: tuple[str, ...]
) -> None:
    result = run(*argv, "--json")
    assert result.code == 2 and result.json()["error"] == "cli.usage" and keys.records == {}


def test_rotating_twice_is_refused(keys: InMemoryKeyStore, run: Any, registry: Any) -> None:
    key_id = run("keys", "create", "--tenant", "acme", "--models", "*", "--json").json()["key_id"]
    assert run("keys", "rotate", key_id).code == 0
    again = run("keys", "rotate", key_id, "--json")
    assert again.code == 1 and again.json()["error"] == "key.conflict"


def test_register_keeps_the_approved_default_and_says_so(registry: InMemoryRegistryStore, run: Any) -> None:
    result = run("models", "register", "--model", "emb", "--version", "2", "--url", "http://b", "--json")
    assert result.code == 0
    assert result.json() == {
        "model": "emb", "version": "2", "approval": "pending", "default_version": "1", "is_default": False,
    }  # fmt: skip
    human = run("models", "register", "--model", "emb", "--version", "3", "--url", "http://b")
    assert human.code == 0 and "emb@1" in human.out and "--make-default" in human.out


def test_approve_with_make_default_and_retire_with_a_new_default(
    registry: InMemoryRegistryStore, run: Any, tmp_path: Path
) -> None:
    card = tmp_path / "card.json"
    card.write_text(json.dumps(complete_card()))
    registered = run(
        "models", "register", "--model", "emb", "--version", "2", "--url", "http://b",
        "--task", "sentence-embedding", "--digest", DIGEST, "--card", str(card), "--json",
    )  # fmt: skip
    assert registered.code == 0 and registered.json()["default_version"] == "1"
    approved = run("models", "approve", "emb", "2", "--make-default", "--json")
    assert approved.code == 0 and approved.json()["default_version"] == "2"
    retired = run("models", "approve", "emb", "2", "--state", "retired", "--default", "1", "--json")
    assert retired.code == 0 and retired.json() == {
        "model": "emb", "version": "2", "approval": "retired", "default_version": "1", "is_default": False,
    }  # fmt: skip
    assert registry.entries["emb"].default_version == "1"


def test_an_unexpected_failure_is_still_one_line(
    registry: InMemoryRegistryStore, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: AdminSettings) -> Any:
        raise RuntimeError("secret-ish internals")

    monkeypatch.setattr(admin, "build_admin", broken)
    result = run("keys", "revoke", "k1")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err and "secret-ish" not in result.err


# -- finding the local stack ---------------------------------------------------------------------


def write_local_state(directory: Path, **overrides: Any) -> Path:
    from steward.resources import ResourceNames

    from scripts.local.stack import LocalStackState, cli_settings

    state = LocalStackState(
        api_url="http://127.0.0.1:8000", backend_url="http://127.0.0.1:8080",
        aws_endpoint_url="http://127.0.0.1:5999", demo_api_key="k", demo_admin_key="a",
        demo_tenant="demo", settings=cli_settings(ResourceNames("local")),
    )  # fmt: skip
    data = {**state.as_json(), **overrides}
    path = directory / ".steward" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, cli_audit: InMemoryAuditStore) -> dict[str, Any]:
    """What the key store was built with, and the endpoint boto3 would use at that moment."""
    found: dict[str, Any] = {}
    store = InMemoryKeyStore()

    def capture(settings: AdminSettings) -> AdminPorts:
        found["settings"] = settings
        found["endpoint"] = os.environ.get("AWS_ENDPOINT_URL")
        found["access_key"] = os.environ.get("AWS_ACCESS_KEY_ID")
        return AdminPorts(store, InMemoryRegistryStore(), pepper_source(settings))

    monkeypatch.setattr(admin, "build_admin", capture)
    return found


def test_with_no_environment_the_cli_uses_the_local_stack_state(
    clean_env: Path, seen: dict[str, Any], run: Any
) -> None:
    write_local_state(clean_env)
    result = run("keys", "revoke", "nokey", "--json")
    assert result.json()["error"] == "key.not_found"
    settings = seen["settings"]
    assert settings.stage == "local" and settings.api_keys_table == "steward-local-api-keys"
    assert settings.region == "us-east-1" and seen["endpoint"] == "http://127.0.0.1:5999"
    assert seen["access_key"]  # moto's placeholder credentials, so boto3 finds some
    # The process environment is left as it was
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_region_or_ca_bundle_alone_does_not_select_a_target(
    clean_env: Path, seen: dict[str, Any], run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_local_state(clean_env)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca.pem")
    run("keys", "revoke", "nokey")
    assert seen["endpoint"] == "http://127.0.0.1:5999" and seen["settings"].region == "us-east-1"


@pytest.mark.parametrize(
    "variable", ["STEWARD_STAGE", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL_DYNAMODB"]
)
def test_a_target_in_the_environment_turns_the_local_state_off(
    clean_env: Path, seen: dict[str, Any], run: Any, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    write_local_state(clean_env)
    monkeypatch.setenv(variable, "dev")
    run("keys", "revoke", "nokey")
    assert seen["endpoint"] is None and os.environ.get("AWS_ENDPOINT_URL") is None


def test_explicit_environment_wins_over_the_local_state(
    clean_env: Path, seen: dict[str, Any], run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_local_state(clean_env)
    monkeypatch.setenv("STEWARD_STAGE", "dev")
    run("keys", "revoke", "nokey")
    assert seen["settings"].stage == "dev" and seen["endpoint"] is None


def test_an_old_state_file_without_settings_still_points_at_the_stack(
    clean_env: Path, seen: dict[str, Any], run: Any
) -> None:
    write_local_state(clean_env, settings=None)
    run("keys", "revoke", "nokey")
    assert seen["settings"].api_keys_table == "steward-local-api-keys"
    assert seen["endpoint"] == "http://127.0.0.1:5999"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aws_endpoint_url": "http://evil.example.com:4566"},
        {"aws_endpoint_url": 5},
        {"settings": {"stage": 1}},
    ],
)
def test_a_local_state_that_is_not_a_local_stack_is_refused(
    clean_env: Path, seen: dict[str, Any], run: Any, overrides: dict[str, Any]
) -> None:
    write_local_state(clean_env, **overrides)
    result = run("keys", "revoke", "nokey", "--json")
    assert result.code == 2 and result.json()["error"] == "config.invalid" and "settings" not in seen


def test_an_unreadable_state_file_is_one_line(clean_env: Path, seen: dict[str, Any], run: Any) -> None:
    path = write_local_state(clean_env)
    path.write_text("{not json")
    result = run("keys", "revoke", "nokey")
    assert result.code == 2 and "config.invalid" in result.err and len(result.err.strip().splitlines()) == 1


def test_the_local_stack_writes_every_table_the_cli_reads() -> None:
    from steward.cli_target import STATE_SETTINGS
    from steward.resources import ResourceNames

    from scripts.local.stack import cli_settings

    written = cli_settings(ResourceNames("local"))
    tables = {name for name in AdminSettings.model_fields if name.endswith("_table")}
    assert set(written) <= STATE_SETTINGS <= set(AdminSettings.model_fields)
    assert tables <= set(written)  # a table the CLI uses is named by the stack, not guessed
