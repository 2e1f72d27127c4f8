"""Measured, not assumed: revocation, retirement, approval, promotion, rollback and a new privacy
policy are in force in a warm gateway (uvicorn, loopback, a second process) within 5 s of the table
write (scripts/measure_freshness.py against its own moto server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "measure_freshness.py"


def test_every_change_is_in_force_within_5s_in_a_warm_gateway(tmp_path: Path) -> None:
    # A fresh interpreter: the script sets the STEWARD_* environment the gateway validates.
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--limit-s", "20"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    seconds = report["seconds"]
    assert set(seconds) == {"revoke", "retire", "approve", "promote", "rollback", "policy"}
    assert all(value is not None and value <= 5.0 for value in seconds.values()), seconds
    assert report["within_bound"] is True and done.returncode == 0
