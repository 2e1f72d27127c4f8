"""Measure how long a suspension or a kill switch takes to be in force in a warm gateway (<= 5 s),
and what the per-request check costs.

Each change is made by the ``steward`` CLI in a second process (``python -m steward.cli``), the
way an operator makes it, against the table the warm gateway reads through its cache; the clock
starts when that process has exited (the write landed) and stops when the gateway answers
differently. For each scope, thrown then cleared:

* ``kill global``           -> 503 ``service.disabled``, then 200 again
* ``kill tenant:T``         -> 403 ``tenant.suspended``, then 200
* ``kill model:M``          -> 503, then 200
* ``kill version:M@V``      -> 503, then 200
* ``tenants suspend T``     -> 403 ``tenant.suspended``; ``tenants resume T`` -> 200

The probe calls ``GET /v1/models/{M}/card`` (it resolves the model version, so every scope
applies) right before each change, so the gateway holds fresh cache entries (the worst case).
The gate's in-process cost (cached, the hot path) is measured too, over an in-memory store.

Usage:
  .venv/bin/python scripts/measure_controls.py            # in-process moto server + gateway
  .venv/bin/python scripts/measure_controls.py --state-file .steward/local.json   # `make up`

Exit status 1 when any change took longer than 5 s (or never showed within the limit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a file: make `scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.measure_freshness import BOUND_S, CARD, DIGEST, in_process_stack, poll, running_stack

PROBE = "controls-probe"
VERSION = "base"


def steward_cli(*argv: str) -> dict[str, Any]:
    """One ``steward`` command in its own process (the environment names the stack)."""
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli", *argv, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    if done.returncode != 0:
        raise RuntimeError(f"steward {' '.join(argv)} failed: {done.stdout} {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(api_url: str, *, limit_s: float, interval_s: float) -> dict[str, float | None]:
    from steward import admin

    target = {"kind": "http", "url": "http://127.0.0.1:9"}
    admin.register_model(
        PROBE,
        VERSION,
        target=target,
        approval="approved",
        card=CARD,
        make_default=True,
        task="sentence-embedding",
        artifact_digest=DIGEST,
    )
    token, _ = admin.create_api_key(PROBE, models=[PROBE], name="controls probe")
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, float | None] = {}

    with httpx.Client(base_url=api_url, timeout=10) as http:

        def answer() -> tuple[int, str]:
            response = http.get(f"/v1/models/{PROBE}/card", headers=auth)
            code = response.json().get("code", "") if response.status_code >= 400 else ""
            return response.status_code, str(code)

        def timed(name: str, argv: tuple[str, ...], expected: tuple[int, str]) -> None:
            answer()  # the gateway's cache entries are fresh: the worst case
            steward_cli(*argv)
            results[name] = poll(lambda: answer() == expected, limit_s=limit_s, interval_s=interval_s)

        assert answer() == (200, ""), f"probe not served: {answer()}"
        scopes = {
            "global": (503, "service.disabled"),
            f"tenant:{PROBE}": (403, "tenant.suspended"),
            f"model:{PROBE}": (503, "service.disabled"),
            f"version:{PROBE}@{VERSION}": (503, "service.disabled"),
        }
        for scope, refused in scopes.items():
            kind = scope.split(":", 1)[0]
            timed(
                f"kill {kind}",
                ("kill", "set", "--scope", scope, "--reason", "incident", "--note", "probe"),
                refused,
            )
            timed(f"clear {kind}", ("kill", "clear", "--scope", scope, "--reason", "incident"), (200, ""))
        with contextlib.suppress(RuntimeError):  # already managed when a stack is measured twice
            steward_cli("tenants", "create", PROBE, "--models", "*")
        timed("suspend tenant", ("tenants", "suspend", PROBE, "--reason", "abuse"), (403, "tenant.suspended"))
        timed("resume tenant", ("tenants", "resume", PROBE, "--reason", "abuse"), (200, ""))
    return results


def gate_cost_us(iterations: int = 20_000) -> dict[str, float]:
    """The gate's per-request cost when its cache is warm (what nearly every request pays): one
    `admit` and one `check_model`, p50 and p99 in microseconds, over an in-memory store."""
    from steward.audit.record import AuditDraft
    from steward.auth.principal import Principal
    from steward.controls.gate import AccessGate
    from steward.controls.model import KillSwitch, Scope, Tenant

    class Store:
        def get_tenant(self, tenant_id: str) -> Tenant | None:
            return Tenant(tenant_id, allowed_models=("a", "b"))

        def list_switches(self) -> list[KillSwitch]:
            return [KillSwitch(Scope.parse(f"model:m{i}"), "incident", 0, "op") for i in range(20)]

    gate = AccessGate(Store(), ttl_s=3600)  # type: ignore[arg-type]  # a read-only stand-in
    principal = Principal("acme", "k", frozenset(), frozenset({"*"}))
    samples: list[float] = []
    for _ in range(iterations):
        draft = AuditDraft(request_id="r", method="POST", route="/x", started_at=0.0)
        start = time.perf_counter()
        gate.admit(principal, draft)
        gate.check_model(draft, "a", "1")
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return {"p50": round(statistics.median(samples), 2), "p99": round(samples[int(len(samples) * 0.99)], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-file", type=Path, help="measure the stack `make up` started")
    parser.add_argument("--limit-s", type=float, default=30.0, help="give up on a change after this")
    parser.add_argument("--interval-s", type=float, default=0.1, help="poll interval")
    args = parser.parse_args(argv)
    stack = running_stack(args.state_file) if args.state_file else in_process_stack()
    with contextlib.redirect_stdout(sys.stderr), stack as api_url:
        results = measure(api_url, limit_s=args.limit_s, interval_s=args.interval_s)
    ok = all(seconds is not None and seconds <= BOUND_S for seconds in results.values())
    report = {
        "target": "local stack" if args.state_file else "in-process moto server + gateway",
        "bound_s": BOUND_S,
        "seconds": {k: None if v is None else round(v, 2) for k, v in results.items()},
        "within_bound": ok,
        "gate_cost_us": gate_cost_us(),
    }
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
