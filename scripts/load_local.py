"""Bounded load against the local stack: N workers for T seconds on embeddings and on redact.

    .venv/bin/python scripts/load_local.py [--workers 20] [--seconds 30] [--models models]

Starts the stack as `make up` does (free ports, loopback only), warms each route, then runs each
scenario and prints one table row per scenario: requests, throughput, p50/p99/max latency and
every status seen. Exits non-zero if any request failed (the target is zero errors). Everything
(gateway, authorizer, audit writes to moto, the backend) shares this machine's cores with the
load generator, so the figures are a floor, not a capacity plan.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_harness import MINILM, env_info, local_stack, run_load, summarise

TEXT = "Steward keeps personal data out of models; the weather in the valley was mild today."
PII_TEXT = (
    "Contact Maria Garcia at maria.garcia@example.org or (415) 867-5309 about card 4111 1111 1111 1111."
)


def embeddings(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/embeddings", json={"model": MINILM, "input": TEXT})


def redact(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/redact", json={"text": PII_TEXT})


SCENARIOS = {"embeddings": embeddings, "redact": redact}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="steward-load-") as tmp,
        local_stack(Path(tmp), args.models) as stack,
    ):
        for name, request in SCENARIOS.items():
            run_load(stack.url, stack.key, request, workers=2, duration_s=3)  # warm caches and pools
            samples = run_load(stack.url, stack.key, request, workers=args.workers, duration_s=args.seconds)
            results[name] = summarise(samples, args.seconds)
    print(f"load: {args.workers} workers x {args.seconds:.0f} s per route, loopback, {env_info()}")
    print("| route | requests | per s | p50 ms | p99 ms | max ms | errors | statuses |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['requests']} | {r['per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
            f"| {r['errors']} | {json.dumps(r['statuses'])} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
