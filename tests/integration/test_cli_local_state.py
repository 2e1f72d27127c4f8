"""The ``steward`` CLI as a user runs it after ``make up``: a fresh process, no STEWARD_* or AWS
variables, only ``.steward/local.json`` in the working directory pointing at a moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from steward.adapters.key_store import DynamoKeyStore
from steward.resources import ResourceNames

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
