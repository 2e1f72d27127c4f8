"""``steward limits set|show`` and ``steward usage show`` over an in-memory limits table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from steward import cli, cli_limits
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.limits.admission import RateLimiter

from tests.fakes import InMemoryAuditStore, InMemoryLimitStore


@pytest.fixture
def limiter(monkeypatch: pytest.MonkeyPatch, cli_audit: InMemoryAuditStore) -> RateLimiter:
    limiter = RateLimiter(InMemoryLimitStore())
    monkeypatch.setattr(cli_limits, "_service", lambda settings: limiter)
    monkeypatch.setenv("STEWARD_STAGE", "test")  # an environment is set: no local state file read
    return limiter


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else {}


def test_set_show_and_usage(limiter: RateLimiter, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, shown = run(capsys, "limits", "show", "--tenant", "acme")
    assert code == 0 and shown["default"] is True
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"models": {"m": {"rpm": 5}}, "tenant": {"rpm": 50}}))
    code, saved = run(
        capsys,
        "limits",
        "set",
        "--tenant",
        "acme",
        "--file",
        str(plan),
        "--tenant-rpm",
        "9",
        "--key-daily",
        "3",
    )
    assert code == 0 and saved["plan"] == {
        "tenant": {"rpm": 9},
        "key": {"daily": 3},
        "models": {"m": {"rpm": 5}},
        "exempt_keys": [],
    }
    principal = Principal("acme", "key000000001", frozenset(), frozenset({"*"}))
    limiter.admit(RequestContext(principal, AuditDraft("r", "POST", "/", 0.0, tenant_id="acme")), "m", 4)
    code, usage = run(capsys, "usage", "show", "--tenant", "acme")
    assert code == 0 and usage["tenant"]["d"] == {"requests": 1, "units": 4}  # type: ignore[index]
    code, refused = run(capsys, "limits", "set", "--tenant", "acme", "--key-rpm", "-1")
    assert code != 0 and refused["error"] == "input.invalid"
