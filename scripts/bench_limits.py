"""Benchmark the in-process cost of rate limits and quotas per request, next to the gateway's own.

Through the real Lambda handler (as ``scripts/bench_gateway.py``: Mangum, middleware, auth
context, registry, router, audit, a fake backend with a prebuilt answer, 1 KB input), the same
request is timed with and without a `RateLimiter` (in-memory counters, a plan limiting the key,
the tenant and the model in every window, so all nine charges are conditional), interleaved in
blocks so drift hits both alike. Also `RateLimiter.admit` alone. What this does not measure: the
DynamoDB round trip of the charges (one parallel round of nine ``UpdateItem`` calls on AWS, a
few milliseconds, network-bound). Goal: limits add <= 0.3 ms p50 in process.

Usage: .venv/bin/python scripts/bench_limits.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.bench_gateway import ENV, EVENT, percentile  # noqa: E402

BIG = 10**12
PLAN = {
    "tenant": {"rpm": BIG, "daily": BIG, "monthly": BIG, "daily_units": BIG, "monthly_units": BIG},
    "key": {"rpm": BIG, "daily": BIG, "monthly": BIG},
    "models": {"all-minilm-l6-v2": {"rpm": BIG, "daily_units": BIG}},
}


def run(requests: int) -> dict[str, list[float]]:
    os.environ.update(ENV)
    from steward.bootstrap import compose_api
    from steward.catalog.registry import Registry
    from steward.limits.admission import RateLimiter
    from steward.limits.plan import parse_plan
    from steward.routing.router import Router
    from steward.routing.transport import BackendRequest, BackendResponse

    import functions.api.handler as api
    from tests.fakes import (
        FakeTransport,
        InMemoryAuditStore,
        InMemoryLimitStore,
        InMemoryRegistryStore,
        demo_model,
        embedding_response,
    )

    registry = InMemoryRegistryStore()
    entry, version = demo_model()
    registry.put_entry(entry)
    registry.put_version(version)
    canned: dict[int, bytes] = {}

    def respond(target: Any, request: BackendRequest) -> BackendResponse:
        n = int(request.payload["inputs"][0]["shape"][0])
        if n not in canned:
            canned[n] = json.dumps(embedding_response(request)).encode()
        return BackendResponse(200, canned[n])

    event = json.loads(EVENT.read_text())
    tenant = event["requestContext"]["authorizer"]["tenant_id"]
    store = InMemoryLimitStore()
    store.put_plan(tenant, parse_plan(PLAN), author="bench", now=0)
    limiter = RateLimiter(store, ttl_s=3600)
    audit = InMemoryAuditStore()
    plain = compose_api(
        Registry(registry, ttl_s=3600), Router({"http": FakeTransport(respond=respond)}), audit
    )
    limited = compose_api(
        Registry(registry, ttl_s=3600),
        Router({"http": FakeTransport(respond=respond)}),
        audit,
        rate_limiter=limiter,
    )
    text = ("The quick brown fox jumps over the lazy dog. " * 23)[:1024]
    event["body"] = json.dumps({"model": "all-minilm-l6-v2", "input": text, "encoding_format": "base64"})
    context = SimpleNamespace(
        function_name="steward-api",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:steward-api",
        aws_request_id="bench",
    )
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives for the run
    for handler in logging.getLogger("steward-api").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
    samples: dict[str, list[float]] = {"gateway": [], "gateway+limits": [], "admit": []}
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        for use_cases in (plain, limited):
            api.app.state.api = lambda use_cases=use_cases: use_cases
            for _ in range(300):  # warm caches, pools, pydantic
                response = api.handler(event, context)
            assert response["statusCode"] == 200, response["body"]
        headers = {
            k.lower() for k in (response.get("multiValueHeaders") or {}) | (response.get("headers") or {})
        }
        assert "ratelimit-limit" in headers, headers
        block = 100
        for _ in range(max(1, requests // block)):
            for name, use_cases in (("gateway", plain), ("gateway+limits", limited)):
                api.app.state.api = lambda use_cases=use_cases: use_cases
                for _ in range(block):
                    t = time.perf_counter()
                    api.handler(event, context)
                    samples[name].append((time.perf_counter() - t) * 1000)
                captured.seek(0)
                captured.truncate()
                audit.records.clear()
    from steward.audit.record import AuditDraft
    from steward.auth.principal import Principal
    from steward.context import RequestContext

    principal = Principal(tenant, "benchkey0001", frozenset(), frozenset({"*"}))
    for _ in range(requests):
        ctx = RequestContext(principal, AuditDraft("r", "POST", "/v1/embeddings", 0.0, tenant_id=tenant))
        t = time.perf_counter()
        limiter.admit(ctx, "all-minilm-l6-v2", 258)
        samples["admit"].append((time.perf_counter() - t) * 1000)
    return {name: sorted(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per variant")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    result = run(args.requests)
    for name, values in result.items():
        print(
            f"{name:<15} p50 {percentile(values, 0.5):.3f} ms  p90 {percentile(values, 0.9):.3f} ms  "
            f"p99 {percentile(values, 0.99):.3f} ms  (n={len(values)})"
        )
    added = percentile(result["gateway+limits"], 0.5) - percentile(result["gateway"], 0.5)
    print(f"limits add {added:.3f} ms p50 per request (goal <= 0.3 ms)  {'OK' if added <= 0.3 else 'MISS'}")
    print("not included: the DynamoDB round trip of the charges (one parallel round of UpdateItem calls)")


if __name__ == "__main__":
    main()
