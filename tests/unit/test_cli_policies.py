"""``steward policies usage put|get|list`` over in-memory stores: the API's validation and codes
(422 ``input.invalid`` -> exit 2, naming fields, never echoing the document), a ``--model`` that
must be registered, the version in force, metadata-only listings, and an audit record each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from steward import admin, cli, cli_policies
from steward.bootstrap import AdminPorts, pepper_source
from steward.errors import InvalidInput
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.document import parse_usage_policy

from tests.fakes import (
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    InMemoryUsagePolicyStore,
    demo_model,
)

MODEL = "all-minilm-l6-v2"
POLICY = {
    "word_lists": [{"name": "violence", "words": ["bomb"], "action": "block"}],
    "patterns": [{"name": "accounts", "regex": r"ACC-\d{6}", "action": "flag"}],
    "apply_to": ["input", "output"],
}
SECRET_WORD, EMAIL, SSN = "zorblax-17", "jane.roe@example.com", "078-05-1120"


@pytest.fixture
def store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli_audit: InMemoryAuditStore
) -> InMemoryUsagePolicyStore:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", "cli-policies-pepper-0123456789abcdef")
    usage = InMemoryUsagePolicyStore()
    registry = InMemoryRegistryStore()
    entry, version = demo_model(MODEL)
    registry.put_entry(entry)
    registry.put_version(version)
    monkeypatch.setattr(cli_policies, "_book", lambda settings: UsagePolicyBook(usage, ttl_s=0))
    monkeypatch.setattr(
        admin, "build_admin", lambda s: AdminPorts(InMemoryKeyStore(), registry, pepper_source(s))
    )
    return usage


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = cli.main(["policies", "usage", *argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def write(tmp_path: Path, document: Any, name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_put_get_and_list_versions_per_scope(
    store: InMemoryUsagePolicyStore, cli_audit: InMemoryAuditStore, capsys: Any, tmp_path: Path
) -> None:
    policy = write(tmp_path, POLICY)
    code, saved, _ = run(capsys, "put", "--tenant", "acme", "--file", policy)
    assert code == 0 and saved["version"] == 1 and saved["model"] is None and saved["tenant_id"] == "acme"
    assert saved == parse_usage_policy(POLICY, tenant_id="acme", model=None).model_copy(
        update={"version": 1}
    ).model_dump(mode="json")  # the API's answer for the same document
    assert (
        run(capsys, "put", "--tenant", "acme", "--file", write(tmp_path, {}, "empty.json"))[1]["version"] == 2
    )
    code, scoped, _ = run(capsys, "put", "--tenant", "acme", "--model", MODEL, "--file", policy)
    assert code == 0 and scoped["model"] == MODEL and scoped["version"] == 1

    # The version in force: the tenant's newest; for the model, its own scope
    assert run(capsys, "get", "--tenant", "acme")[1]["version"] == 2
    in_force = run(capsys, "get", "--tenant", "acme", "--model", MODEL)[1]
    assert (in_force["model"], in_force["version"], in_force["word_lists"][0]["words"]) == (
        MODEL,
        1,
        ["bomb"],
    )
    first = run(capsys, "get", "--tenant", "acme", "--version", "1")[1]
    assert first["version"] == 1 and first["patterns"][0]["name"] == "accounts"

    # The list: versions and metadata (rule names, never the words or patterns)
    code, listed, _ = run(capsys, "list", "--tenant", "acme")
    assert code == 0 and [(v["model"], v["version"], v["in_force"]) for v in listed["data"]] == [
        (None, 2, True),
        (None, 1, False),
        (MODEL, 1, True),
    ]
    assert listed["data"][1]["rules"] == {
        "denied_topics": [],
        "word_lists": ["violence"],
        "patterns": ["accounts"],
    }
    assert "bomb" not in json.dumps(listed) and "ACC" not in json.dumps(listed)
    assert [v["model"] for v in run(capsys, "list", "--tenant", "acme", "--model", MODEL)[1]["data"]] == [
        MODEL
    ]

    # Every command is audited in the tenant's chain with the API's reason code
    records = cli_audit.records_of("acme")
    assert len(records) == 8 and {r["reason_codes"][0] for r in records} == {"admin.usage_policies"}
    assert sorted(r["status"] for r in records) == [200] * 5 + [201] * 3


@pytest.mark.parametrize(
    "document",
    [
        {"word_lists": [{"name": EMAIL, "words": [SSN], "action": "nope"}]},
        {"patterns": [{"name": "p", "regex": f"({SECRET_WORD}", "action": "block"}]},
        {EMAIL: SSN, "word_lists": [{"name": "w", "words": [SECRET_WORD]}]},
        {"word_lists": [{"name": "w", "words": [SECRET_WORD], SSN: EMAIL}]},
        {"denied_topics": [{"name": "t", "definition": SECRET_WORD, "examples": [SSN] * 21}]},
    ],
)
def test_an_invalid_document_exits_2_with_the_apis_code_and_never_echoes_it(
    store: InMemoryUsagePolicyStore, capsys: Any, tmp_path: Path, document: dict[str, Any]
) -> None:
    code, error, err = run(capsys, "put", "--tenant", "acme", "--file", write(tmp_path, document))
    assert code == 2 and error["error"] == "input.invalid" and store.items == {}
    with pytest.raises(InvalidInput) as api:  # what PUT /admin/usage-policies answers with 422
        parse_usage_policy(document, tenant_id="acme", model=None)
    assert error["detail"] == api.value.detail
    for value in (SECRET_WORD, EMAIL, SSN):
        assert value not in json.dumps(error) and value not in err


@pytest.mark.parametrize("content", [f'{{"word_lists": [{SECRET_WORD}', f'["{SECRET_WORD}"]', "\xff\xfe"])
def test_a_file_that_is_no_json_object_exits_2_without_its_content(
    store: InMemoryUsagePolicyStore, capsys: Any, tmp_path: Path, content: str
) -> None:
    code, error, err = run(capsys, "put", "--tenant", "acme", "--file", write(tmp_path, content))
    assert code == 2 and error["error"] == "input.invalid" and SECRET_WORD not in err + json.dumps(error)


def test_refusals_name_a_stable_code(store: InMemoryUsagePolicyStore, capsys: Any, tmp_path: Path) -> None:
    policy = write(tmp_path, POLICY)
    unregistered = run(capsys, "put", "--tenant", "acme", "--model", "nope", "--file", policy)
    assert unregistered[0] == 1 and unregistered[1]["error"] == "model.not_found" and store.items == {}
    assert run(capsys, "get", "--tenant", "acme")[1]["error"] == "policy.not_found"
    assert run(capsys, "list", "--tenant", "acme", "--model", "nope")[1]["error"] == "model.not_found"
    assert run(capsys, "put", "--tenant", EMAIL, "--file", policy)[1]["error"] == "input.invalid"
    assert run(capsys, "put", "--tenant", "acme", "--file", str(tmp_path / "missing.json"))[0] == 2
    run(capsys, "put", "--tenant", "acme", "--file", policy)
    assert run(capsys, "get", "--tenant", "acme", "--version", "9")[1]["error"] == "policy.not_found"
    assert run(capsys, "get", "--tenant", "acme", "--version", "0")[1]["error"] == "cli.usage"
    assert run(capsys, "list", "--tenant", "acme")[0] == 0


def test_human_output(
    store: InMemoryUsagePolicyStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["policies", "usage", "put", "--tenant", "acme", "--file", write(tmp_path, POLICY)]) == 0
    assert "version 1" in capsys.readouterr().out
    assert cli.main(["policies", "usage", "list", "--tenant", "acme"]) == 0
    assert "in force" in capsys.readouterr().out
    assert cli.main(["policies", "usage", "get", "--tenant", "acme"]) == 0
    assert '"violence"' in capsys.readouterr().out
