"""Faults under load on the local stack: what callers get, and how fast service returns.

    .venv/bin/python scripts/fault_local.py [--workers 8] [--fault-seconds 12] [--models models]

One local stack (loopback only); embeddings load from ``--workers`` threads throughout. Each
scenario runs a short baseline, applies a fault to a real process of the stack, lifts it, and
reports per phase every status and code callers got, latency p50/p99/max, and the seconds from
lifting the fault to the first successful answer. Scenarios, in order (the last one ends moto):

- backend-kill:  SIGKILL the inference backend, then start it again with the same command line.
- backend-pause: SIGSTOP the backend (connections hang), then SIGCONT.
- backend-slow:  stop/continue the backend every 0.2 s (half speed, jittery answers).
- moto-pause:    SIGSTOP the AWS stand-in (DynamoDB stalls: auth cache misses, audit writes).
- moto-kill:     SIGKILL it (its state is in memory: the stack can't come back; callers' answers
                 during the outage are what is measured).

Every bound is fixed: each phase has a duration, recovery is waited for at most ``--recover-s``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_harness import MINILM, Sample, Stack, env_info, local_stack, run_load, summarise

BASELINE_S = 4.0
AFTER_S = 4.0


def embeddings(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/embeddings", json={"model": MINILM, "input": "a sentence about the weather"})


class Faults:
    """The processes a scenario acts on (the backend pid changes when it is restarted)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.backend = stack.child("gpu_backend")
        self.backend_command = stack.command_of(self.backend)  # /proc goes with the process
        self.moto = stack.child("moto.server")

    def kill_backend(self) -> None:
        os.kill(self.backend, signal.SIGKILL)

    def restart_backend(self) -> None:
        self.backend = self.stack.spawn(*self.backend_command, "backend-restarted.log").pid

    def stop_backend(self) -> None:
        os.kill(self.backend, signal.SIGSTOP)

    def cont_backend(self) -> None:
        os.kill(self.backend, signal.SIGCONT)

    def stop_moto(self) -> None:
        os.kill(self.moto, signal.SIGSTOP)

    def cont_moto(self) -> None:
        os.kill(self.moto, signal.SIGCONT)

    def kill_moto(self) -> None:
        os.kill(self.moto, signal.SIGKILL)


def scenario(
    stack: Stack,
    workers: int,
    apply: Callable[[], None],
    hold: Callable[[float], None],
    lift: Callable[[], None] | None,
    fault_s: float,
    recover_s: float,
) -> dict[str, Any]:
    """Baseline, fault held for ``fault_s``, lifted; phases judged by when each request started."""
    stop = threading.Event()
    samples: list[Sample] = []
    runner = threading.Thread(
        target=lambda: samples.extend(
            run_load(stack.url, stack.key, embeddings, workers=workers, duration_s=600, stop=stop)
        )
    )
    runner.start()
    t0 = time.monotonic()
    time.sleep(BASELINE_S)
    t_fault = time.monotonic()
    apply()
    hold(fault_s)
    t_lift = time.monotonic()
    recovered_after: float | None = None
    if lift is not None:
        lift()
        recovered_after = _wait_recovery(stack, t_lift, recover_s)
        time.sleep(AFTER_S)
    t_end = time.monotonic()
    stop.set()
    runner.join(timeout=60)

    def phase(a: float, b: float) -> dict[str, Any]:
        return summarise([s for s in samples if a <= s.started < b], b - a)

    return {
        "baseline": phase(t0, t_fault),
        "fault": phase(t_fault, t_lift),
        "after": phase(t_lift, t_end) if lift is not None else None,
        "recovered_s": None if recovered_after is None else round(recovered_after, 2),
    }


def _wait_recovery(stack: Stack, since: float, limit_s: float) -> float | None:
    """Seconds from ``since`` until a fresh request succeeds (probing every 0.1 s), or None."""
    headers = {"Authorization": f"Bearer {stack.key}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as client:
        while time.monotonic() - since < limit_s:
            try:
                if embeddings(client).status_code == 200:
                    return time.monotonic() - since
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    return None


def _flapping(faults: Faults) -> Callable[[float], None]:
    def hold(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            faults.stop_backend()
            time.sleep(0.2)
            faults.cont_backend()
            time.sleep(0.2)

    return hold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--fault-seconds", type=float, default=12.0)
    parser.add_argument("--recover-s", type=float, default=120.0)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="steward-fault-") as tmp,
        local_stack(Path(tmp), args.models) as stack,
    ):
        faults = Faults(stack)
        run_load(stack.url, stack.key, embeddings, workers=2, duration_s=3)  # warm
        plans: dict[str, tuple[Callable[[], None], Callable[[float], None], Callable[[], None] | None]] = {
            "backend-kill": (faults.kill_backend, time.sleep, faults.restart_backend),
            "backend-pause": (faults.stop_backend, time.sleep, faults.cont_backend),
            "backend-slow": (lambda: None, _flapping(faults), faults.cont_backend),
            "moto-pause": (faults.stop_moto, time.sleep, faults.cont_moto),
            "moto-kill": (faults.kill_moto, time.sleep, None),
        }
        for name, (apply, hold, lift) in plans.items():
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = scenario(
                stack, args.workers, apply, hold, lift, args.fault_seconds, args.recover_s
            )
    print(f"faults: {args.workers} workers on embeddings, {args.fault_seconds:.0f} s per fault, {env_info()}")
    print("| scenario | phase | requests | p50 ms | p99 ms | max ms | statuses | recovered after |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    for name, result in results.items():
        for phase in ("baseline", "fault", "after"):
            r = result[phase]
            if r is None:
                continue
            recovered = result["recovered_s"] if phase == "after" else ""
            print(
                f"| {name} | {phase} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
                f"| {json.dumps(r['statuses'])} | {recovered} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    unexplained = [
        (name, status)
        for name, result in results.items()
        for phase in ("baseline", "fault", "after")
        if result[phase] is not None
        for status in result[phase]["statuses"]
        if status.startswith(("500", "0 "))
    ]
    if unexplained:
        print(f"answers that are bugs (500 or no HTTP answer): {unexplained}", file=sys.stderr)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
