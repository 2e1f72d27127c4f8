"""Batch throughput on the local stack, against the same lines sent synchronously, in one run.

    .venv/bin/python scripts/bench_batches.py [--lines 500] [--models models]

Starts the stack as `make up` does, then: sends ``--lines`` one-sentence embeddings requests one
after another through the ``openai`` client (the synchronous path), and runs the same requests
as one batch (upload, create, poll to ``completed``). Prints lines per second of each and their
ratio. Locally one event pump delivers jobs to one worker at a time, so the batch figure is one
worker's: on AWS the worker's concurrency cap (10 by default) multiplies it, up to what the
backend serves. Everything shares this machine's cores, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_harness import MINILM, env_info, local_stack

SENTENCE = "Steward batch line {n}: the weather in the valley was mild and the river ran clear."


def _lines(n: int) -> list[dict[str, object]]:
    return [
        {
            "custom_id": f"line-{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": MINILM, "input": SENTENCE.format(n=i)},
        }
        for i in range(n)
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the stack's logs here")
    args = parser.parse_args()
    lines = _lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp, local_stack(args.workdir or Path(tmp), args.models) as stack:
        # The SDK's own retries, as any client runs it: on this shared machine moto can stall past the
        # audit write's 1 s bound (503 `audit.unavailable`, retried).
        client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=5, timeout=120)
        client.embeddings.create(model=MINILM, input="warm up")  # first-request costs out of the figures

        t0 = time.perf_counter()
        for line in lines:
            client.embeddings.create(model=MINILM, input=str(line["body"]["input"]))  # type: ignore[index]
        sync_s = time.perf_counter() - t0

        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        t0 = time.perf_counter()
        uploaded = client.files.create(file=("bench.jsonl", io.BytesIO(content)), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )
        deadline = time.monotonic() + 1800
        while (
            batch.status not in ("completed", "failed", "cancelled", "expired")
            and time.monotonic() < deadline
        ):
            time.sleep(0.25)
            batch = client.batches.retrieve(batch.id)
        batch_s = time.perf_counter() - t0
        counts = batch.request_counts
        ok = batch.status == "completed" and counts is not None and counts.completed == len(lines)
        running_s = (batch.completed_at or 0) - (batch.in_progress_at or 0)

    n = len(lines)
    print(env_info())
    print("| path | lines | seconds | lines/s |")
    print("|---|---:|---:|---:|")
    print(f"| synchronous, one after another | {n} | {sync_s:.1f} | {n / sync_s:.1f} |")
    print(f"| one batch, upload to completed (one local worker) | {n} | {batch_s:.1f} | {n / batch_s:.1f} |")
    print(f"| ratio batch / synchronous | | | {(n / batch_s) / (n / sync_s):.2f}x |")
    print(f"batch status {batch.status}, counts {counts}, in_progress to completed {running_s} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
