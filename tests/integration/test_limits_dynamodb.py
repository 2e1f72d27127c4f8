"""Rate limits against moto server: conditional counters admit exactly the limit under 20
concurrent callers, refusals carry Retry-After and charge nothing, per-model and per-tenant
limits, usage and plans round-trip."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from steward.adapters.limit_store import DynamoLimitStore
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.errors import QuotaExceeded, RateLimited
from steward.limits.admission import RateLimiter
from steward.limits.plan import parse_plan
from steward.resources import ResourceNames

from .conftest import REGION

T0 = datetime(2025, 3, 1, 12, 0, 20, tzinfo=UTC).timestamp()
MODEL = "all-minilm-l6-v2"
MakeLimiter = Callable[[dict[str, object]], tuple[RateLimiter, str]]


def ctx(tenant: str, key_id: str) -> RequestContext:
    principal = Principal(tenant_id=tenant, key_id=key_id, scopes=frozenset(), models=frozenset({"*"}))
    return RequestContext(
        principal, AuditDraft("r", "POST", "/v1/embeddings", started_at=T0, tenant_id=tenant)
    )


@pytest.fixture
def limiter(names: ResourceNames, serial_moto: str) -> MakeLimiter:
    """Stores on moto answering one request at a time: like DynamoDB, each conditional update is
    indivisible (moto's threaded server checks conditions without a lock)."""

    def make(plan: dict[str, object]) -> tuple[RateLimiter, str]:
        tenant = f"t-{uuid.uuid4().hex[:8]}"  # a fresh tenant: its own partition of counters
        store = DynamoLimitStore(names.limits_table.name, region=REGION)
        store.put_plan(tenant, parse_plan(plan), author="test", now=int(T0))
        return RateLimiter(store, clock=lambda: T0), tenant

    return make


def hammer(
    calls: list[Callable[[], object]], workers: int = 20
) -> tuple[int, list[RateLimited | QuotaExceeded]]:
    """Run ``calls`` on ``workers`` threads started together; admitted count and refusals."""
    admitted, lock = [0], threading.Lock()
    refused: list[RateLimited | QuotaExceeded] = []
    barrier = threading.Barrier(workers)
    chunks = [calls[i::workers] for i in range(workers)]

    def work(chunk: list[Callable[[], object]]) -> None:
        barrier.wait(timeout=30)
        for call in chunk:
            try:
                call()
            except (RateLimited, QuotaExceeded) as error:
                with lock:
                    refused.append(error)
            else:
                with lock:
                    admitted[0] += 1

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return admitted[0], refused


def test_twenty_workers_at_three_times_a_keys_limit_admit_exactly_the_limit(limiter: MakeLimiter) -> None:
    rl, tenant = limiter({"key": {"rpm": 10}})
    admitted, refused = hammer([lambda: rl.admit(ctx(tenant, "key000000001"), MODEL, 3)] * 30)
    assert admitted == 10 and len(refused) == 20
    for error in refused:
        assert error.status == 429 and error.code == "rate.limited"
        assert int(error.headers["Retry-After"]) == 40 and error.headers["RateLimit-Remaining"] == "0"
    usage = rl.usage(tenant)
    assert usage["keys"]["key000000001"]["m"] == {"requests": 10, "units": 30}  # refusals not charged
    assert usage["tenant"]["d"] == {"requests": 10, "units": 30}
    assert usage["models"][MODEL]["mo"] == {"requests": 10, "units": 30}


def test_per_model_limit_holds_across_keys_under_concurrency(limiter: MakeLimiter) -> None:
    rl, tenant = limiter({"models": {MODEL: {"rpm": 7}}})
    calls = [lambda i=i: rl.admit(ctx(tenant, f"key{i:09d}"), MODEL, 1) for i in range(21)]
    admitted, refused = hammer(calls)
    assert admitted == 7 and len(refused) == 14
    assert all(e.code == "rate.limited" for e in refused)
    rl.admit(ctx(tenant, "key000000099"), "credit-risk", 1)  # another model is not limited by it
    usage = rl.usage(tenant)
    assert usage["models"][MODEL]["m"]["requests"] == 7
    assert sum(k["m"]["requests"] for k in usage["keys"].values()) == 8  # refused keys charged nothing


def test_per_tenant_daily_quota_holds_and_answers_quota_exceeded(limiter: MakeLimiter) -> None:
    rl, tenant = limiter({"tenant": {"daily": 5}, "key": {"rpm": 100}})
    calls = [lambda i=i: rl.admit(ctx(tenant, f"key{i % 3:09d}"), MODEL, 1) for i in range(15)]
    admitted, refused = hammer(calls)
    assert admitted == 5 and len(refused) == 10
    assert all(e.code == "quota.exceeded" for e in refused)
    midnight = datetime(2025, 3, 2, tzinfo=UTC).timestamp()
    assert {int(e.headers["Retry-After"]) for e in refused} == {int(midnight - T0)}


def test_plans_round_trip_with_revisions(limiter: MakeLimiter) -> None:
    rl, tenant = limiter({"key": {"rpm": 1}})
    view = rl.set_plan(tenant, {"tenant": {"monthly_units": 10}, "exempt_keys": ["key000000001"]}, author="k")
    assert view["revision"] == 2 and view["plan"]["tenant"] == {"monthly_units": 10}
    assert rl.show_plan(tenant)["updated_by"] == "k"
    assert rl.show_plan("nobody-" + tenant)["default"] is True
