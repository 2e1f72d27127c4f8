"""Changes to keys, the registry and privacy policies are in force within 5 s in a warm process.

Every cache is driven by an injected clock: the staleness measured here is the cache's own
bound, stepped in 0.1 s increments from the moment of the change (the worst case: the change
lands right after the process read the item).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
from pydantic import ValidationError
from steward.auth.authorize import Authorizer
from steward.auth.keys import KeyRecord, generate_key
from steward.auth.principal import Principal
from steward.catalog.registry import ModelDocument, ModelVersion, Registry
from steward.errors import ModelNotFound, Unauthenticated
from steward.privacy.policies import BUILTIN_LABEL, PolicyBook
from steward.settings import ApiSettings, AuthorizerSettings, StewardSettings

from tests.fakes import InMemoryKeyStore, InMemoryPolicyStore, InMemoryRegistryStore, demo_model

BOUND_S = 5.0
STEP_S = 0.1
PEPPER = b"f" * 32
CALLER = Principal("acme", "k1", frozenset(), frozenset({"*"}))
CACHE_FIELDS = (
    (AuthorizerSettings, "auth_cache_ttl_s"),
    (ApiSettings, "registry_cache_ttl_s"),
    (ApiSettings, "policy_cache_ttl_s"),
)


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


def seconds_until(visible: Callable[[], bool], clock: Clock, limit_s: float = 120.0) -> float:
    """Step the clock until ``visible()`` holds; the seconds it took (bounded by ``limit_s``)."""
    start = clock.now
    while not visible():
        clock.now += STEP_S
        assert clock.now - start <= limit_s, "change never became visible"
    return clock.now - start


def raises(fn: Callable[[], object], error: type[Exception]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            fn()
        except error:
            return True
        return False

    return check


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "field"), CACHE_FIELDS)
def test_cache_settings_default_within_the_bound_and_refuse_more(
    model: type[StewardSettings], field: str
) -> None:
    assert 0 < getattr(model(stage="test"), field) <= BOUND_S
    assert getattr(model(stage="test", **{field: 0}), field) == 0
    with pytest.raises(ValidationError):
        model(stage="test", **{field: BOUND_S + 0.5})


def test_domain_defaults_are_within_the_bound() -> None:
    # Objects built without a TTL (tests, scripts, tools) promise the same as the settings.
    clock = Clock()
    store, token, key_id = _key_store()
    authorizer = Authorizer(store, lambda: PEPPER, clock=clock, monotonic=clock)
    authorizer.authorize(token)
    store.revoke(key_id)
    assert seconds_until(raises(lambda: authorizer.authorize(token), Unauthenticated), clock) <= BOUND_S

    registry_store, v1 = _registry_store()
    registry = Registry(registry_store, monotonic=clock)
    registry.resolve(CALLER, "emb")
    registry_store.put_version(replace(v1, approval="retired"))
    assert seconds_until(raises(lambda: registry.resolve(CALLER, "emb"), ModelNotFound), clock) <= BOUND_S

    policies = InMemoryPolicyStore()
    book = PolicyBook(policies, clock=clock)
    book.in_force("acme", None)
    PolicyBook(policies).save("acme", None, _POLICY, author="k")
    assert seconds_until(lambda: book.in_force("acme", None).label != BUILTIN_LABEL, clock) <= BOUND_S


# -- keys -----------------------------------------------------------------------------------------


def _key_store() -> tuple[InMemoryKeyStore, str, str]:
    store = InMemoryKeyStore()
    token, record = generate_key("acme", pepper=PEPPER, models=("emb",))
    store.put(record)
    return store, token, record.key_id


def test_a_revoked_key_is_refused_within_5s_with_the_default_settings() -> None:
    settings = AuthorizerSettings(stage="test")
    clock = Clock()
    store, token, key_id = _key_store()
    authorizer = Authorizer(
        store, lambda: PEPPER, ttl_s=settings.auth_cache_ttl_s, clock=clock, monotonic=clock
    )
    authorizer.authorize(token)  # warm: the record is cached
    store.revoke(key_id)
    assert seconds_until(raises(lambda: authorizer.authorize(token), Unauthenticated), clock) <= BOUND_S


def test_the_wiring_uses_the_settings_ttl() -> None:
    from steward.bootstrap import build_authorizer

    settings = AuthorizerSettings(stage="test", pepper="p" * 32, auth_cache_ttl_s=1.5)
    assert build_authorizer(settings).ttl_s == 1.5


class GatedKeyStore(InMemoryKeyStore):
    """Each read waits until ``threads`` readers are in, or 0.5 s: concurrent misses overlap."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(threads)
        self.lock = threading.Lock()

    def get(self, key_id: str) -> KeyRecord | None:
        with self.lock:
            self.reads += 1
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=0.5)
        return self.records.get(key_id)


def _concurrently(threads: int, fn: Callable[[], object]) -> list[object]:
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            outcome: object = fn()
        except Exception as error:  # collected, not raised: every thread must finish
            outcome = error
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert not any(w.is_alive() for w in workers)
    return results


@pytest.mark.parametrize("known", [True, False])
def test_concurrent_misses_for_one_key_cost_one_read(known: bool) -> None:
    # Given 16 requests with the same key arriving together on a cold cache
    store = GatedKeyStore(16)
    token, record = generate_key("acme", pepper=PEPPER, models=("emb",))
    if known:
        store.put(record)  # otherwise: a well-formed key that doesn't exist (negative caching)
    authorizer = Authorizer(store, lambda: PEPPER, ttl_s=4)
    results = _concurrently(16, lambda: authorizer.authorize(token))
    # Then the table is read once, and every request gets the same answer
    assert store.reads == 1
    expected = Principal if known else Unauthenticated
    assert all(isinstance(r, expected) for r in results)
    # And repeated junk within the TTL costs no further reads
    for _ in range(50):
        with contextlib.suppress(Unauthenticated):
            authorizer.authorize(token)
    assert store.reads == 1


def test_a_failed_read_is_shared_by_waiters_and_not_cached() -> None:
    class Down(GatedKeyStore):
        def get(self, key_id: str) -> KeyRecord | None:
            super().get(key_id)
            raise ConnectionError("table down")

    store = Down(8)
    token, _ = generate_key("acme", pepper=PEPPER)
    authorizer = Authorizer(store, lambda: PEPPER, ttl_s=4)
    results = _concurrently(8, lambda: authorizer.authorize(token))
    assert all(isinstance(r, ConnectionError) for r in results)
    assert store.reads == 1  # the waiters got the leader's failure, not a read each
    with pytest.raises(ConnectionError):
        authorizer.authorize(token)  # a failure is never cached
    assert store.reads == 2


# -- registry -------------------------------------------------------------------------------------


def _registry_store() -> tuple[InMemoryRegistryStore, ModelVersion]:
    store = InMemoryRegistryStore()
    entry, v1 = demo_model("emb", "1")
    store.put_entry(entry)
    store.put_version(v1)
    store.put_version(replace(v1, version="2", approval="pending"))
    return store, v1


def test_a_retired_version_stops_resolving_and_listing_within_5s() -> None:
    settings = ApiSettings(stage="test")
    clock = Clock()
    store, v1 = _registry_store()
    registry = Registry(store, ttl_s=settings.registry_cache_ttl_s, monotonic=clock)
    registry.resolve(CALLER, "emb")
    assert [r.ref for r in registry.list_for(CALLER)] == ["emb@1"]
    store.put_version(replace(v1, approval="retired"))
    assert seconds_until(raises(lambda: registry.resolve(CALLER, "emb"), ModelNotFound), clock) <= BOUND_S
    clock.now += STEP_S
    store.put_version(replace(v1, approval="rejected"))
    assert seconds_until(lambda: registry.list_for(CALLER) == [], clock) <= BOUND_S


def test_a_newly_approved_version_appears_within_5s() -> None:
    settings = ApiSettings(stage="test")
    clock = Clock()
    store, v1 = _registry_store()
    registry = Registry(store, ttl_s=settings.registry_cache_ttl_s, monotonic=clock)
    with pytest.raises(ModelNotFound):
        registry.resolve(CALLER, "emb", "2")  # pending: cached as not routable
    registry.list_for(CALLER)
    store.put_version(replace(v1, version="2", approval="approved"))
    store.put_entry(replace(store.entries["emb"], default_version="2"))

    def resolves() -> bool:
        return not raises(lambda: registry.resolve(CALLER, "emb", "2"), ModelNotFound)()

    assert seconds_until(resolves, clock) <= BOUND_S
    assert seconds_until(lambda: [r.ref for r in registry.list_for(CALLER)] == ["emb@2"], clock) <= BOUND_S


def test_concurrent_registry_misses_cost_one_read() -> None:
    store, _ = _registry_store()
    gate = threading.Barrier(12)
    original = store.get_model
    lock = threading.Lock()
    reads: list[str] = []

    def gated(model: str) -> ModelDocument:
        with lock:
            reads.append(model)
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=0.5)
        return original(model)

    store.get_model = gated  # type: ignore[method-assign]
    registry = Registry(store, ttl_s=4)
    results = _concurrently(12, lambda: registry.resolve(CALLER, "emb").ref)
    assert results == ["emb@1"] * 12
    assert reads == ["emb"]


# -- privacy policies -------------------------------------------------------------------------------

_POLICY = {"entities": {"EMAIL_ADDRESS": {"operator": "mask"}}}


def test_a_policy_stored_by_another_process_is_in_force_within_5s() -> None:
    settings = ApiSettings(stage="test")
    clock = Clock()
    store = InMemoryPolicyStore()
    warm = PolicyBook(store, ttl_s=settings.policy_cache_ttl_s, clock=clock)
    assert warm.in_force("acme", None).label == BUILTIN_LABEL  # cached in this process
    PolicyBook(store, ttl_s=0).save("acme", None, _POLICY, author="admin")  # another process
    assert seconds_until(lambda: warm.in_force("acme", None).label != BUILTIN_LABEL, clock) <= BOUND_S
