"""Rate limits and quotas (`steward.limits`) over the in-memory store, with an injected clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from steward.audit.record import AuditDraft
from steward.auth.keys import KeyLimits
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.errors import InvalidInput, LimitsUnavailable, QuotaExceeded, RateLimited
from steward.limits.admission import EXEMPT_REASON, RateLimiter
from steward.limits.plan import DEFAULT_PLAN, Plan, parse_plan
from steward.limits.units import payload_units, text_units
from steward.limits.windows import DAY, MINUTE, MONTH, window

from tests.fakes import InMemoryLimitStore

T0 = datetime(2025, 1, 31, 23, 59, 30, tzinfo=UTC).timestamp()  # 30 s before a minute, day and month end
MODEL = "all-minilm-l6-v2"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ctx(
    key_id: str = "key000000001", tenant: str = "acme", *, admin: bool = False, **limits: int
) -> RequestContext:
    principal = Principal(
        tenant_id=tenant,
        key_id=key_id,
        scopes=frozenset({"admin"} if admin else ()),
        models=frozenset({"*"}),
        limits=KeyLimits(**limits),
    )
    return RequestContext(
        principal, AuditDraft("r", "POST", "/v1/embeddings", started_at=T0, tenant_id=tenant)
    )


def limiter(
    plan: dict[str, object] | None = None, clock: Clock | None = None
) -> tuple[RateLimiter, InMemoryLimitStore]:
    store = InMemoryLimitStore()
    if plan is not None:
        store.put_plan("acme", parse_plan(plan), author="test", now=0)
    return RateLimiter(store, clock=clock or Clock()), store


def test_windows_roll_over_at_the_boundary() -> None:
    before, after = T0 + 29.999, T0 + 30.0
    assert window(MINUTE, before).id == "202501312359" and window(MINUTE, after).id == "202502010000"
    assert window(DAY, before).id == "20250131" and window(DAY, after).id == "20250201"
    assert window(MONTH, before).id == "202501" and window(MONTH, after).id == "202502"
    assert window(MONTH, T0).reset_after(T0) == 30
    assert (
        window(MONTH, datetime(2024, 12, 5, tzinfo=UTC).timestamp()).end
        == datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    )


def test_key_rpm_admits_exactly_the_limit_then_429_with_headers() -> None:
    rl, _ = limiter({"key": {"rpm": 3}})
    for expected_remaining in (2, 1, 0):
        c = ctx()
        admitted = rl.admit(c, MODEL, 5)
        assert admitted.headers == {
            "RateLimit-Limit": "3",
            "RateLimit-Remaining": str(expected_remaining),
            "RateLimit-Reset": "30",
        }
        assert c.draft.response_headers == admitted.headers
    with pytest.raises(RateLimited) as refused:
        rl.admit(ctx(), MODEL, 5)
    assert refused.value.status == 429 and refused.value.code == "rate.limited"
    assert refused.value.headers == {
        "Retry-After": "30",
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "30",
    }


def test_minute_rolls_over_with_the_clock_but_the_day_quota_does_not() -> None:
    clock = Clock()
    rl, _ = limiter({"key": {"rpm": 1}, "tenant": {"daily": 2}}, clock)
    rl.admit(ctx(), MODEL, 1)
    with pytest.raises(RateLimited):
        rl.admit(ctx(), MODEL, 1)
    clock.now = T0 + 29.9  # still the same minute
    with pytest.raises(RateLimited):
        rl.admit(ctx(), MODEL, 1)
    clock.now = T0 - 60  # an earlier minute of the same day (the refusals above were not charged)
    rl.admit(ctx(), MODEL, 1)
    clock.now = T0 - 120
    with pytest.raises(QuotaExceeded) as refused:
        rl.admit(ctx(), MODEL, 1)
    assert refused.value.code == "quota.exceeded"
    clock.now = T0 + 30  # the next day (and month): a new quota
    rl.admit(ctx(), MODEL, 1)


def test_refused_call_is_not_charged_anywhere() -> None:
    rl, store = limiter({"models": {MODEL: {"rpm": 1}}})
    rl.admit(ctx("key000000001"), MODEL, 7)
    before = dict(store.values)
    with pytest.raises(RateLimited):
        rl.admit(ctx("key000000002"), MODEL, 7)
    assert store.values == {**before, **{k: (0, 0) for k in store.values if k not in before}}
    assert all(v in ((0, 0), (1, 7)) for v in store.values.values())


def test_per_model_and_per_tenant_limits() -> None:
    rl, _ = limiter({"tenant": {"rpm": 3}, "models": {MODEL: {"rpm": 1}}})
    rl.admit(ctx("key000000001"), MODEL, 1)
    with pytest.raises(RateLimited):  # another key, same model: the model's limit is the tenant's
        rl.admit(ctx("key000000002"), MODEL, 1)
    rl.admit(ctx("key000000002"), "credit-risk", 1)
    rl.admit(ctx("key000000003"), "credit-risk", 1)
    with pytest.raises(RateLimited):  # the tenant's 3 a minute, whichever key and model
        rl.admit(ctx("key000000004"), "credit-risk", 1)
    other = ctx("key000000009", tenant="other")
    rl.admit(other, MODEL, 1)  # another tenant: its own counters (and the default plan)


def test_unit_quotas_count_units_and_refuse_what_would_pass_them() -> None:
    rl, _ = limiter({"tenant": {"daily_units": 100}})
    rl.admit(ctx(), MODEL, 60)
    with pytest.raises(QuotaExceeded):
        rl.admit(ctx(), MODEL, 41)
    admitted = rl.admit(ctx(), MODEL, 40)
    assert admitted.headers["RateLimit-Remaining"] == "0"


def test_key_own_limits_override_the_plan_default() -> None:
    rl, _ = limiter({"key": {"rpm": 100}})
    rl.admit(ctx(rpm=1), MODEL, 1)
    with pytest.raises(RateLimited):
        rl.admit(ctx(rpm=1), MODEL, 1)
    with pytest.raises(QuotaExceeded):
        rl.admit(ctx("key000000002", monthly=0), MODEL, 1)


def test_admin_keys_are_limited_unless_exempt_and_exemption_is_audited() -> None:
    rl, store = limiter({"key": {"rpm": 1}, "exempt_keys": ["key0000admin"]})
    rl.admit(ctx("key000admin2", admin=True), MODEL, 1)
    with pytest.raises(RateLimited):
        rl.admit(ctx("key000admin2", admin=True), MODEL, 1)
    for _ in range(3):
        c = ctx("key0000admin", admin=True)
        assert rl.admit(c, MODEL, 1).headers == {}
        assert EXEMPT_REASON in c.draft.reason_codes
    assert rl.usage("acme")["keys"]["key0000admin"]["m"]["requests"] == 3  # counted all the same
    with pytest.raises(RateLimited):  # a non-admin key listed as exempt is not exempt
        rl2, _ = limiter({"key": {"rpm": 0}, "exempt_keys": ["key000000001"]})
        rl2.admit(ctx("key000000001"), MODEL, 1)
    assert store.values


def test_no_plan_means_the_default_plan() -> None:
    rl, _ = limiter()
    assert rl.plan("acme") == DEFAULT_PLAN
    assert rl.admit(ctx(), MODEL, 1).headers["RateLimit-Limit"] == str(DEFAULT_PLAN.key.rpm)


def test_store_failures_fail_closed_and_leave_nothing_charged() -> None:
    rl, store = limiter({"key": {"rpm": 5}})
    store.fail_at = 4
    with pytest.raises(LimitsUnavailable) as failed:
        rl.admit(ctx(), MODEL, 1)
    assert failed.value.status == 503 and failed.value.headers["Retry-After"] == "1"
    assert all(v == (0, 0) for v in store.values.values())
    rl2, store2 = limiter()
    store2.fail_plans = True
    with pytest.raises(LimitsUnavailable):
        rl2.admit(ctx(), MODEL, 1)


def test_concurrent_callers_never_pass_the_limit() -> None:
    rl, _ = limiter({"key": {"rpm": 10}})
    admitted, refused = [], []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(3):
            try:
                rl.admit(ctx(), MODEL, 1)
                outcome = admitted
            except RateLimited:
                outcome = refused
            with lock:
                outcome.append(1)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(admitted) == 10 and len(refused) == 20


def test_usage_lists_the_current_windows_per_key_and_model() -> None:
    clock = Clock()
    rl, _ = limiter(None, clock)
    rl.admit(ctx("key000000001"), MODEL, 5)
    rl.admit(ctx("key000000002"), "credit-risk", 3)
    usage = rl.usage("acme")
    assert usage["tenant"]["m"] == {"requests": 2, "units": 8}
    assert usage["models"][MODEL]["d"] == {"requests": 1, "units": 5}
    assert set(usage["keys"]) == {"key000000001", "key000000002"}
    assert set(rl.usage("acme", key_id="key000000001")["keys"]) == {"key000000001"}
    clock.now = T0 + 30  # the next minute, day and month: all zero
    assert rl.usage("acme")["tenant"]["mo"] == {"requests": 0, "units": 0}
    assert rl.usage("other")["keys"] == {}


def test_plans_are_validated_and_cached_for_at_most_the_ttl() -> None:
    with pytest.raises(InvalidInput):
        parse_plan({"key": {"rpm": -1}})
    with pytest.raises(InvalidInput):
        parse_plan({"unknown": 1})
    with pytest.raises(InvalidInput):
        parse_plan({"exempt_keys": ["not a key id"]})
    rl, store = limiter()
    view = rl.set_plan("acme", {"tenant": {"rpm": 5}}, author="admin-key")
    assert view["plan"] == {"tenant": {"rpm": 5}, "key": {}, "models": {}, "exempt_keys": []}
    assert view["revision"] == 1 and not view["default"]
    assert rl.plan("acme") == Plan.model_validate({"tenant": {"rpm": 5}})
    reads = store.plan_reads
    rl.plan("acme")
    assert store.plan_reads == reads  # cached
    assert rl.show_plan("nobody")["default"] is True


def test_units_are_estimated_tokens_for_text_and_rows_for_tables() -> None:
    assert text_units(["abcd " * 10]) == 12  # 10 word pieces + [CLS]/[SEP]
    text = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["abcd", "a b c d"]}]}
    assert payload_units(text) == 3 + 6
    table = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [7, 3], "data": [0.0] * 21}]}
    assert payload_units(table) == 7
    assert payload_units({}) == 1
