"""Routing between model versions: weighted canary, sticky callers, shadow copies, promote,
rollback, retire, and the rule that only approved versions ever answer."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from typing import Any

import pytest
from steward.auth.principal import Principal
from steward.catalog.lifecycle import ModelLifecycle
from steward.catalog.registry import Registry
from steward.catalog.routing_plan import RoutePlan, parse_weights
from steward.errors import InvalidInput, ModelNotFound, RollbackUnavailable, VersionNotRoutable
from steward.routing.transport import BackendRequest, BackendResponse

from tests.fakes import InMemoryRegistryStore, complete_card, demo_model

MODEL = "credit-risk"


def principal(key_id: str = "k1") -> Principal:
    return Principal(tenant_id="acme", key_id=key_id, models=("*",), scopes=("inference",))


def store_with(*versions: tuple[str, str]) -> InMemoryRegistryStore:
    """``MODEL`` with (version, approval) pairs; the first is the default."""
    store = InMemoryRegistryStore()
    for n, (version, approval) in enumerate(versions):
        entry, mv = demo_model(MODEL, version, approval=approval, task="tabular-classification")
        store.put_version(replace(mv, created_at=n + 1, card=complete_card()))
        if n == 0:
            store.put_entry(entry)
    return store


def registry(store: InMemoryRegistryStore, seed: int = 7) -> Registry:
    return Registry(store, ttl_s=0, draw=random.Random(seed).randrange)


def test_a_weighted_split_holds_within_binomial_tolerance_over_2000_calls() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights="1=90,2=10", shadow=None, sticky=None, actor="t")
    reg = registry(store)
    n = 2000
    to_two = sum(reg.resolve(principal(), MODEL).version.version == "2" for _ in range(n))
    sigma = math.sqrt(n * 0.1 * 0.9)
    assert abs(to_two - n * 0.1) <= 4 * sigma, to_two


def test_sticky_routing_keeps_each_key_on_one_version_and_still_splits_keys() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights="1=50,2=50", shadow=None, sticky=True, actor="t")
    reg = registry(store)
    seen: dict[str, set[str]] = {}
    for key in (f"key{i}" for i in range(200)):
        seen[key] = {reg.resolve(principal(key), MODEL).version.version for _ in range(5)}
    assert all(len(versions) == 1 for versions in seen.values())
    on_two = sum(versions == {"2"} for versions in seen.values())
    assert 60 <= on_two <= 140, on_two  # 200 keys at 50 %: 4 sigma is about 28


def test_a_pending_version_is_never_routed_nor_shadowed() -> None:
    store = store_with(("1", "approved"), ("2", "pending"))
    lifecycle = ModelLifecycle(store)
    with pytest.raises(VersionNotRoutable):
        lifecycle.route(MODEL, weights="1=90,2=10", shadow=None, sticky=None, actor="t")
    with pytest.raises(VersionNotRoutable):
        lifecycle.route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    with pytest.raises(VersionNotRoutable):
        lifecycle.promote(MODEL, "2", actor="t")
    with pytest.raises(ModelNotFound):  # pinned: still refused
        registry(store).resolve(principal(), MODEL, "2")
    assert store.entries[MODEL].routing == RoutePlan()


def test_a_version_leaving_the_approved_state_leaves_the_split_at_once() -> None:
    store = store_with(("1", "approved"), ("2", "approved"), ("3", "approved"))
    lifecycle = ModelLifecycle(store)
    lifecycle.route(MODEL, weights="1=50,2=50", shadow="3", sticky=None, actor="t")
    lifecycle.set_approval(MODEL, "2", "pending", actor="t", reason="quality")
    lifecycle.set_approval(MODEL, "3", "retired", actor="t", reason="superseded")
    plan = store.entries[MODEL].routing
    assert plan.weights == (("1", 50),) and plan.shadow == ""
    reg = registry(store)
    assert {reg.resolve(principal(f"k{i}"), MODEL).version.version for i in range(50)} == {"1"}
    # Even a plan written around the rules (a hand edit) never routes to a pending version.
    store.entries[MODEL] = replace(store.entries[MODEL], routing=RoutePlan(weights=(("2", 100),), shadow="2"))
    resolved = reg.resolve(principal(), MODEL)
    assert resolved.version.version == "1" and resolved.shadow is None


def test_the_shadow_is_resolved_for_routed_requests_only() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    reg = registry(store)
    routed = reg.resolve(principal(), MODEL)
    assert routed.version.version == "1" and routed.shadow is not None and routed.shadow.version == "2"
    assert reg.resolve(principal(), MODEL, "1").shadow is None  # the caller pinned a version


def test_promote_then_rollback_moves_the_default_and_ends_the_split() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    lifecycle = ModelLifecycle(store, clock=lambda: 1_800_000_000)
    with pytest.raises(RollbackUnavailable):
        lifecycle.rollback(MODEL, actor="t")
    lifecycle.route(MODEL, weights="1=90,2=10", shadow=None, sticky=True, actor="t")
    view = lifecycle.promote(MODEL, "2", actor="key-9", reason="release")
    assert view["default_version"] == "2" and view["effective_weights"] == {"2": 1}
    assert view["previous_default"] == "1" and view["sticky"] is True
    assert registry(store).resolve(principal(), MODEL).version.version == "2"
    view = lifecycle.rollback(MODEL, actor="key-9")
    assert view["default_version"] == "1" and view["previous_default"] == "2"
    events = lifecycle.history(MODEL)
    assert [(e["event"], e["version"], e["actor"], e["reason"]) for e in events[:2]] == [
        ("rolled_back", "1", "key-9", "incident"),
        ("promoted", "2", "key-9", "release"),
    ]
    assert events[0]["details"] == {"from": "2"} and events[0]["at"] == 1_800_000_000


@pytest.mark.parametrize(
    "spec",
    ["", "1", "1=x", "1=-1", "1=0", "1=5,1=5", ",".join(f"{i}=1" for i in range(9)), "1=10001"],
)
def test_bad_weights_are_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_weights(spec)


def test_route_refuses_unknown_versions_reasons_and_a_shadow_that_takes_traffic() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    lifecycle = ModelLifecycle(store)
    with pytest.raises(InvalidInput):
        lifecycle.route(MODEL, weights="1=90,2=10", shadow="2", sticky=None, actor="t")
    with pytest.raises(InvalidInput):
        lifecycle.route(MODEL, weights="1=1", shadow=None, sticky=None, actor="t", reason="because I said so")
    with pytest.raises(ModelNotFound):
        lifecycle.route("no-such-model", weights="1=1", shadow=None, sticky=None, actor="t")
    assert store.entries[MODEL].routing == RoutePlan()


def test_registering_again_keeps_the_plan() -> None:
    from steward import admin

    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights="1=90,2=10", shadow=None, sticky=None, actor="t")
    _, mv = demo_model(MODEL, "3", approval="pending", task="tabular-classification")
    admin.register_model(MODEL, "3", target=mv.target, store=store, make_default=False)
    assert store.entries[MODEL].routing.weights == (("1", 90), ("2", 10))
    assert store.history(MODEL)[0].event == "registered"


# --- through the API: the shadow's answer is never returned, and is counted ---------------------


def _probabilities(first: float) -> dict[str, Any]:
    return {"outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [2, 2],
                         "data": [first, 1 - first, 0.2, 0.8]}]}  # fmt: skip


ROWS = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 2], "data": [0.1, 0.2, 0.3, 0.4]}]}


def test_a_shadow_answer_is_never_returned_and_its_agreement_is_counted(
    client: Any, registry_store: InMemoryRegistryStore, transport: Any, make_key: Any, use_cases: Any
) -> None:
    from steward.quality.serving import ServingStats

    _, v2 = demo_model(MODEL, "2", task="tabular-classification")
    registry_store.put_version(replace(v2, created_at=5))
    answers = {"1": _probabilities(0.9), "2": _probabilities(0.1)}  # row 0 disagrees, row 1 agrees

    def respond(_target: Any, request: BackendRequest) -> BackendResponse:
        return BackendResponse(200, json.dumps(answers[request.version]).encode())

    transport.respond = respond
    kept: list[tuple[str, str, str, ServingStats]] = []

    class Sink:
        def add(self, tenant: str, model: str, version: str, window: str, stats: ServingStats) -> None:
            kept.append((tenant, model, version, stats))

    use_cases.inference.serving._sink = Sink()
    ModelLifecycle(registry_store).route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    headers = {"Authorization": f"Bearer {make_key('acme', (MODEL,))}"}
    response = client.post(f"/v2/models/{MODEL}/infer", json=ROWS, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1" and response.headers["x-steward-model-version"] == "1"
    assert body["outputs"][0]["data"][:2] == pytest.approx([0.9, 0.1])  # the answering version's
    assert sorted(r.version for _, r, _ in transport.calls) == ["1", "2"]
    shadow = [s for _, _, v, s in kept if v == "2"]
    assert len(shadow) == 1 and (shadow[0].shadow_rows, shadow[0].shadow_agreed) == (2, 1)
    assert [s.calls for _, _, v, s in kept if v == "1"] == [1]
    assert all(tenant == "acme" for tenant, *_ in kept)


def test_a_failing_shadow_never_fails_the_request(
    client: Any, registry_store: InMemoryRegistryStore, transport: Any, make_key: Any
) -> None:
    _, v2 = demo_model(MODEL, "2", task="tabular-classification")
    registry_store.put_version(v2)

    def respond(_target: Any, request: BackendRequest) -> BackendResponse:
        if request.version == "2":
            return BackendResponse(500, b"shadow down")
        return BackendResponse(200, json.dumps(_probabilities(0.9)).encode())

    transport.respond = respond
    ModelLifecycle(registry_store).route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    headers = {"Authorization": f"Bearer {make_key('acme', (MODEL,))}"}
    for _ in range(3):
        response = client.post(f"/v2/models/{MODEL}/infer", json=ROWS, headers=headers)
        assert response.status_code == 200 and response.json()["model_version"] == "1"


def test_every_default_move_is_kept_for_rollback() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    lifecycle = ModelLifecycle(store)
    lifecycle.set_approval(MODEL, "2", "approved", actor="t", reason="release", make_default=True)
    assert store.entries[MODEL].previous_default == "1"
    assert lifecycle.rollback(MODEL, actor="t")["default_version"] == "1"
    lifecycle.set_approval(MODEL, "1", "retired", actor="t", reason="superseded", new_default="2")
    assert store.entries[MODEL].previous_default == "1"  # retired: a rollback to it is refused
    with pytest.raises(VersionNotRoutable):
        lifecycle.rollback(MODEL, actor="t")


def test_read_only_views_get_the_default_while_a_canary_runs() -> None:
    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights="1=1,2=99", shadow=None, sticky=None, actor="t")
    reg = registry(store)
    assert {reg.resolve(principal(f"k{i}"), MODEL, routed=False).version.version for i in range(30)} == {"1"}
    assert "2" in {reg.resolve(principal(f"k{i}"), MODEL).version.version for i in range(30)}


def test_a_shadow_that_is_switched_off_gets_no_copy() -> None:
    from steward.audit.record import AuditDraft
    from steward.catalog.service import Catalog
    from steward.context import RequestContext

    class Switches:
        def check_model(self, draft: AuditDraft, model: str, version: str) -> None:
            assert version == "1"  # the answering version is checked (and not switched off)

        def switched_off(self, model: str, version: str) -> bool:
            return version == "2"

    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    catalog = Catalog(registry(store), switches=Switches())
    draft = AuditDraft(request_id="r", method="POST", route="/infer", started_at=0.0)
    resolved = catalog.resolve(RequestContext(principal(), draft), MODEL, None)
    assert resolved.version.version == "1" and resolved.shadow is None


def test_shadow_copies_beyond_the_free_slots_are_skipped_and_counted() -> None:
    import threading

    from steward.inference.serving_monitor import ServingMonitor
    from steward.routing.router import BackendResult

    release = threading.Event()

    class SlowRouter:
        def call(self, _target: Any, _request: Any) -> BackendResult:
            release.wait(5)
            return BackendResult(_probabilities(0.9), 1, 3.0)

    kept: list[Any] = []

    class Sink:
        def add(self, *args: Any) -> None:
            kept.append(args[-1])

        def read(self, *args: Any) -> Any:
            raise NotImplementedError

    store = store_with(("1", "approved"), ("2", "approved"))
    ModelLifecycle(store).route(MODEL, weights=None, shadow="2", sticky=None, actor="t")
    resolved = registry(store).resolve(principal(), MODEL)
    monitor = ServingMonitor(Sink(), shadow_wait_s=0.01, workers=2)
    request = BackendRequest(model=MODEL, version="1", payload=ROWS)
    started = [monitor.start_shadow("acme", SlowRouter(), resolved, request) for _ in range(5)]  # type: ignore[arg-type]
    assert sum(f is not None for f in started) == 2  # no queue: the rest are skipped
    assert sum(s.shadow_skipped for s in kept) == 3
    for future in started:
        monitor.finish_shadow("acme", resolved, future, _probabilities(0.9))  # waits 10 ms, never raises
    release.set()
    for future in started:
        if future is not None:
            future.result(5)
    deadline = __import__("time").monotonic() + 5
    while sum(s.shadow_calls for s in kept) < 2 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.01)
    assert sum(s.shadow_calls for s in kept) == 2  # late copies are counted when they end
    assert sum(s.shadow_agreed for s in kept) == 4


def test_two_admins_at_once_one_wins_the_other_is_told() -> None:
    from steward.errors import ModelChanged

    store = store_with(("1", "approved"), ("2", "approved"))
    lifecycle = ModelLifecycle(store)
    real_get = store.get_model
    reads: list[Any] = []

    def get_then_race(model: str) -> Any:
        doc = real_get(model)
        if not reads:  # the first read of the route: another admin promotes right after it
            reads.append(doc)
            lifecycle.promote(MODEL, "2", actor="other")
        return doc

    store.get_model = get_then_race  # type: ignore[method-assign]
    with pytest.raises(ModelChanged):
        lifecycle.route(MODEL, weights="1=90,2=10", shadow=None, sticky=None, actor="me")
    store.get_model = real_get  # type: ignore[method-assign]
    assert store.entries[MODEL].default_version == "2" and store.entries[MODEL].routing.weights == ()
