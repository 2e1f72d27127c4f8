"""A/B of gpu_backend server settings (a script, not a test): two or more servers up at once,
short loads at one concurrency alternating between them round after round, medians compared.

    .venv/bin/python scripts/backend_ab.py --variant "one=--instances 1" --variant "two=--instances 2"

Alternating rounds put a shared machine's passing load on every variant alike, which a sequence of
whole benchmark runs does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import statistics
import sys
from pathlib import Path

from gpu_backend.bench import _load, _use_uvloop, running_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=Path("models"))
    parser.add_argument("--variant", action="append", required=True, help='"name=serve arguments"')
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    variants = dict(v.split("=", 1) for v in args.variant)
    _use_uvloop()
    results: dict[str, list[float]] = {name: [] for name in variants}
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(running_server(args.model_repository, True, 0, shlex.split(extra)))
            for name, extra in variants.items()
        }
        for i in range(1, args.rounds + 1):
            for name, port in ports.items():
                load = asyncio.run(_load(port, args.concurrency, args.seconds, 1.0))
                results[name].append(load.throughput)
            print(f"round {i}: " + ", ".join(f"{n} {r[-1]:.1f}/s" for n, r in results.items()), flush=True)
    print("median: " + ", ".join(f"{n} {statistics.median(r):.1f}/s" for n, r in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
