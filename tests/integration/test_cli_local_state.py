"""The ``steward`` CLI as a user runs it after ``make up``: a fresh process, no STEWARD_* or AWS
variables, only ``.steward/local.json`` in the working directory pointing at a moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient
from steward import bootstrap
from steward.adapters.ddb_codec import from_item
from steward.adapters.key_store import DynamoKeyStore
from steward.adapters.usage_policy_store import DynamoUsagePolicyStore
from steward.resources import ResourceNames
from steward.settings import ApiSettings, AuthorizerSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from scripts.local.stack import LocalStackState, cli_settings

from .conftest import REGION, STAGE, free_port

pytestmark = pytest.mark.integration


def write_state(directory: Path, endpoint: str) -> None:
    state = LocalStackState(
        api_url="http://127.0.0.1:1", backend_url="http://127.0.0.1:2", aws_endpoint_url=endpoint,
        demo_api_key="unused", demo_admin_key="unused", demo_tenant="demo",
        settings=cli_settings(ResourceNames(STAGE)),
    )  # fmt: skip
    path = directory / ".steward" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state.as_json()))


def steward(cwd: Path, *argv: str) -> tuple[int, Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "AWS_"))}
    env["HOME"] = str(cwd)  # no ~/.aws either
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli", *argv, "--json"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def test_the_cli_works_with_only_the_local_state_file(
    moto_endpoint: str, names: ResourceNames, tmp_path: Path
) -> None:
    write_state(tmp_path, moto_endpoint)
    code, created, _ = steward(
        tmp_path, "keys", "create", "--tenant", "cli-int", "--models", "*", "--expires-days", "7"
    )
    assert code == 0 and created["key"].startswith("stw_")
    store = DynamoKeyStore(names.api_keys_table.name, region=REGION)
    record = store.get(created["key_id"])
    assert record is not None and record.tenant_id == "cli-int" and record.expires_at is not None

    code, revoked_view, _ = steward(tmp_path, "keys", "revoke", created["key_id"])
    assert code == 0 and revoked_view["key_id"] == created["key_id"] and revoked_view["status"] == "revoked"
    code, listed, _ = steward(tmp_path, "keys", "list", "--tenant", "cli-int")
    assert code == 0 and created["key_id"] in {v["key_id"] for v in listed["data"]}
    assert created["key"] not in json.dumps(listed) and "secret_hash" not in json.dumps(listed)
    revoked = store.get(created["key_id"])
    assert revoked is not None and revoked.revoked

    code, error, stderr = steward(tmp_path, "keys", "revoke", "nokey")
    assert code == 1 and error["error"] == "key.not_found" and len(stderr.strip().splitlines()) == 1

    code, registered, _ = steward(
        tmp_path, "models", "register", "--model", "cli-int-m", "--version", "1", "--url", "http://b"
    )
    assert code == 0 and registered["approval"] == "pending" and registered["default_version"] is None


def test_a_stack_that_is_down_is_one_line(moto_endpoint: str, tmp_path: Path) -> None:
    write_state(tmp_path, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    code, error, stderr = steward(tmp_path, "keys", "revoke", "nokey")
    assert code == 1 and error["error"] == "aws.unreachable" and len(stderr.strip().splitlines()) == 1


# -- every command audited, on the real DynamoDB API -------------------------------------------


@pytest.fixture
def api(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The api app in this process over the same moto (its authorizer in front, as API Gateway)."""
    monkeypatch.setenv("STEWARD_CONTROL_CACHE_TTL_S", "0")  # a switch the CLI clears is seen at once
    settings = ApiSettings()
    authorizer = bootstrap.build_authorizer(AuthorizerSettings())
    app = with_authorizer(
        create_app(settings, bootstrap.build_api(settings)), lambda event: authorize_event(event, authorizer)
    )
    with TestClient(app) as client:
        yield client


def _records(names: ResourceNames, tenant: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=names.audit_table.name,
        KeyConditionExpression="tenant_id = :t AND sk < :h",
        ExpressionAttributeValues={":t": {"S": tenant}, ":h": {"S": "~"}},
        ConsistentRead=True,
    )["Items"]
    return sorted((from_item(i) for i in items), key=lambda r: int(r["seq"]))


def test_cli_and_api_records_share_one_chain_and_it_verifies(
    moto_endpoint: str, names: ResourceNames, tmp_path: Path, api: TestClient
) -> None:
    write_state(tmp_path, moto_endpoint)
    tenant, name = "cli-audit-int", "laptop of Jane Roe, jane.roe@example.com"
    code, created, _ = steward(
        tmp_path, "keys", "create", "--tenant", tenant, "--models", "*", "--admin", "--name", name
    )
    assert code == 0
    admin_key = {"Authorization": f"Bearer {created['key']}"}
    assert api.get("/admin/keys", params={"tenant": tenant}, headers=admin_key).status_code == 200
    scope = f"tenant:{tenant}"
    note = "paged Jane Roe on +1 415 555 0100"
    assert steward(tmp_path, "kill", "set", "--scope", scope, "--reason", "incident", "--note", note)[0] == 0
    assert api.get("/admin/keys", params={"tenant": tenant}, headers=admin_key).status_code == 403
    assert steward(tmp_path, "kill", "clear", "--scope", scope, "--reason", "incident")[0] == 0
    assert api.get("/admin/keys", params={"tenant": tenant}, headers=admin_key).status_code == 200

    # The tenant's one chain holds both, in order, and `audit verify` walks it
    code, verdict, _ = steward(tmp_path, "audit", "verify", "--tenant", tenant)
    assert code == 0 and verdict["ok"] and verdict["records"] == 6, verdict
    records = _records(names, tenant)
    assert [r["route"] for r in records] == [
        "CLI steward keys create",
        "GET /admin/keys",
        "CLI steward kill set",
        "GET /admin/keys",
        "CLI steward kill clear",
        "GET /admin/keys",
        "CLI steward audit verify",
    ]
    assert [r["status"] for r in records] == [201, 200, 201, 403, 200, 200, 200]
    cli_ids = {r["key_id"] for r in records if r["route"].startswith("CLI ")}
    assert len(cli_ids) == 1 and next(iter(cli_ids)).startswith("cli:")
    stored = json.dumps(records)
    # Neither the operator's ARN (moto's IAM user) nor the note or key name reached a record
    assert "user/moto" not in stored and "Jane" not in stored and "555" not in stored
    # The key's name is stored with its personal data redacted
    key = DynamoKeyStore(names.api_keys_table.name, region=REGION).get(created["key_id"])
    assert key is not None and key.name == "laptop of <PERSON>, <EMAIL_ADDRESS>"

    # Actions on no tenant have their own chain, which verifies too
    code, _, _ = steward(
        tmp_path, "models", "register", "--model", "cli-audit-m", "--version", "1", "--url", ""
    )
    assert code == 0
    code, platform, _ = steward(tmp_path, "audit", "verify", "--tenant", "@platform")
    assert code == 0 and platform["records"] >= 1
    assert "CLI steward models register" in {r["route"] for r in _records(names, "@platform")}


def test_usage_policies_and_usage_with_only_the_local_state_file(
    moto_endpoint: str, names: ResourceNames, tmp_path: Path
) -> None:
    write_state(tmp_path, moto_endpoint)
    tenant = "cli-policy-int"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"word_lists": [{"name": "violence", "words": ["bomb"]}]}))
    code, saved, _ = steward(tmp_path, "policies", "usage", "put", "--tenant", tenant, "--file", str(policy))
    assert code == 0 and saved["version"] == 1
    stored = DynamoUsagePolicyStore(names.policies_table.name, region=REGION).list_usage_policies(tenant)
    assert [(p.version, p.word_lists[0].words) for p in stored] == [(1, ("bomb",))]

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"patterns": [{"name": "p", "regex": "(zorblax-17", "action": "block"}]}))
    code, error, stderr = steward(
        tmp_path, "policies", "usage", "put", "--tenant", tenant, "--file", str(invalid)
    )
    assert code == 2 and error["error"] == "input.invalid" and "zorblax" not in json.dumps(error) + stderr
    code, error, _ = steward(
        tmp_path, "policies", "usage", "put", "--tenant", tenant, "--model", "nope", "--file", str(policy)
    )
    assert code == 1 and error["error"] == "model.not_found"

    code, in_force, _ = steward(tmp_path, "policies", "usage", "get", "--tenant", tenant)
    assert code == 0 and in_force["version"] == 1 and in_force["word_lists"][0]["name"] == "violence"
    code, listed, _ = steward(tmp_path, "policies", "usage", "list", "--tenant", tenant)
    assert code == 0 and [(v["version"], v["in_force"]) for v in listed["data"]] == [(1, True)]

    code, usage, _ = steward(tmp_path, "usage", "show", "--tenant", tenant)
    assert code == 0 and usage["tenant"]["d"]["requests"] == 0
    code, plan, _ = steward(tmp_path, "limits", "show", "--tenant", tenant)
    assert code == 0 and plan["default"] is True

    code, verdict, _ = steward(tmp_path, "audit", "verify", "--tenant", tenant)
    assert code == 0 and verdict["records"] == 7, verdict
    reasons = {r["reason_codes"][0] for r in _records(names, tenant)}
    assert reasons == {"admin.usage_policies", "admin.usage", "admin.limits", "admin.audit_verify"}


def test_the_review_commands_work_with_only_the_local_state_file(
    moto_endpoint: str, names: ResourceNames, kms_key: str, tmp_path: Path
) -> None:
    # Given a held flag recorded by the api function's code on the stack (sealed with the stage key)
    from steward.adapters.kms_encryptor import KmsEnvelopeEncryptor
    from steward.adapters.review_store import DynamoReviewStore
    from steward.audit.record import AuditDraft
    from steward.auth.principal import Principal
    from steward.context import RequestContext
    from steward.review.service import ReviewService
    from steward.usage_policy.document import Direction
    from steward.usage_policy.ports import Flagged

    queue = ReviewService(
        DynamoReviewStore(names.reviews_table.name, region=REGION),
        lambda tenant: KmsEnvelopeEncryptor(kms_key, tenant, region=REGION),
        lambda: b"pepper",
    )
    ctx = RequestContext(
        Principal("cli-review", "k" * 12, frozenset(), frozenset({"*"})),
        AuditDraft("req-cli", "POST", "/v1/embeddings", 0.0, "cli-review"),
    )
    flagged = Flagged(
        "word", "watch", Direction.INPUT, True, ("a heist, <EMAIL_ADDRESS_1>",), "m", "tenant@v1"
    )
    [outcome] = queue.flagged(ctx, [flagged])
    write_state(tmp_path, moto_endpoint)

    # When an operator reviews it with the CLI and no environment
    code, listed, _ = steward(tmp_path, "review", "list", "--tenant", "cli-review")
    assert code == 0 and [i["review_id"] for i in listed["data"]] == [outcome.review_id]
    code, shown, _ = steward(tmp_path, "review", "show", str(outcome.review_id))
    assert code == 0 and shown["texts"] == ["a heist, <EMAIL_ADDRESS_1>"]
    code, claimed, _ = steward(tmp_path, "review", "claim", str(outcome.review_id))
    assert code == 0 and claimed["claimed_by"] == "cli"
    code, resolved, _ = steward(
        tmp_path, "review", "resolve", str(outcome.review_id), "--decision", "approve"
    )

    # Then the decision is stored, and the text is released for the tenant
    assert code == 0 and resolved["decision"] == "approve"
    [again] = queue.flagged(ctx, [flagged])
    assert (again.review_id, again.held) == (None, False)
