"""Routing plans, version history and serving counters on DynamoDB (moto server, real wire path)."""

from __future__ import annotations

import threading
import uuid

import pytest
from steward import admin
from steward.adapters.registry_store import DynamoRegistryStore
from steward.adapters.serving_stats_store import DynamoServingStatsStore
from steward.auth.principal import Principal
from steward.catalog.lifecycle import ModelLifecycle
from steward.catalog.registry import Registry
from steward.quality.serving import call_stats, shadow_stats
from steward.resources import ResourceNames

from tests.fakes import complete_card

from .conftest import REGION

pytestmark = pytest.mark.integration
TARGET = {"kind": "http", "url": "http://127.0.0.1:9"}


def _model(store: DynamoRegistryStore) -> str:
    model = f"lifecycle-{uuid.uuid4().hex[:8]}"
    for n, version in enumerate(("1", "2", "3")):
        admin.register_model(
            model,
            version,
            target=TARGET,
            approval="approved" if version != "3" else "pending",
            task="tabular-classification",
            artifact_digest="sha256:" + "ab" * 32,
            card=complete_card(),
            make_default=n == 0,
            store=store,
        )
    return model


def test_the_plan_and_history_round_trip_and_history_stays_out_of_registry_reads(
    names: ResourceNames,
) -> None:
    store = DynamoRegistryStore(names.models_table.name, region=REGION)
    model = _model(store)
    lifecycle = ModelLifecycle(store)
    lifecycle.route(model, weights={"1": 90, "2": 10}, shadow=None, sticky=True, actor="k1")
    doc = store.get_model(model)
    assert set(doc.versions) == {"1", "2", "3"}  # no history item read as a version
    assert doc.entry is not None and doc.entry.routing.weights == (("1", 90), ("2", 10))
    assert doc.entry.routing.sticky is True
    listed = [d for d in store.list_models() if d.entry is not None and d.entry.model == model]
    assert len(listed) == 1 and set(listed[0].versions) == {"1", "2", "3"}
    lifecycle.promote(model, "2", actor="k1", reason="release")
    events = store.history(model)
    assert [e.event for e in events] == ["promoted", "routed", "registered", "registered", "registered"]
    assert events[0].version == "2" and events[0].details == {"from": "1"}
    registry = Registry(store, ttl_s=0)
    caller = Principal(tenant_id="acme", key_id="k", models=("*",), scopes=("inference",))
    assert registry.resolve(caller, model).version.version == "2"


def test_serving_counters_add_concurrently_and_read_per_tenant(
    names: ResourceNames, serial_moto: str
) -> None:
    # Concurrent callers, over moto one request at a time: its threaded server applies ADD without
    # a lock (DynamoDB applies each UpdateItem atomically), so a read-then-write adapter would still
    # lose counts here and this one must not.
    stats = DynamoServingStatsStore(names.fairness_table.name, region=REGION)
    model = f"serving-{uuid.uuid4().hex[:8]}"

    def writer() -> None:
        for _ in range(10):
            stats.add("acme", model, "1", "2026-12-01", call_stats(12.0, False))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.add("acme", model, "1", "2026-12-02", call_stats(None, True))
    stats.add("acme", model, "1", "2026-12-02", shadow_stats(40.0, False, 5, 4))
    stats.add("globex", model, "1", "2026-12-01", call_stats(900.0, False))
    days = {"2026-12-01", "2026-12-02"}
    acme = stats.read(model, "1", days, "acme")
    assert (acme.calls, acme.failures, acme.shadow_rows, acme.shadow_agreed) == (41, 1, 5, 4)
    assert acme.figures()["latency_p99_ms"] == pytest.approx(2 ** (15 / 4), rel=1e-3)  # 12 ms's bin
    assert stats.read(model, "1", {"2026-12-01"}, "acme").calls == 40
    assert stats.read(model, "1", days, "globex").calls == 1  # each tenant reads its own only


def test_a_change_based_on_a_stale_read_is_refused_not_lost(names: ResourceNames) -> None:
    from steward.errors import ModelChanged

    store = DynamoRegistryStore(names.models_table.name, region=REGION)
    model = _model(store)
    stale = store.get_model(model).entry  # an admin reads the entry ...
    assert stale is not None
    ModelLifecycle(store).promote(model, "2", actor="k1")  # ... another promotes meanwhile
    with pytest.raises(ModelChanged):  # ... so the first one's write, from its stale read, is refused
        store.put_entry(stale)
    entry = store.get_model(model).entry
    assert entry is not None and entry.default_version == "2" and entry.revision == stale.revision + 1


def test_an_approval_change_and_its_history_land_together_or_not_at_all(names: ResourceNames) -> None:
    from dataclasses import replace

    from steward.catalog.history import VersionEvent
    from steward.errors import ModelChanged

    store = DynamoRegistryStore(names.models_table.name, region=REGION)
    model = _model(store)
    stale = store.get_model(model)
    ModelLifecycle(store).promote(model, "2", actor="k1")  # lands between the read and the write
    events_before = len(store.history(model))
    assert stale.entry is not None
    retired = replace(stale.versions["1"], approval="retired")
    with pytest.raises(ModelChanged):
        store.commit(
            entry=replace(stale.entry, default_version="2"),
            version=retired,
            event=VersionEvent(0, "retired", "1", "k2", "superseded"),
        )
    assert store.get_model(model).versions["1"].approval == "approved"  # the version is untouched
    assert len(store.history(model)) == events_before  # and no event was written
    ModelLifecycle(store).set_approval(model, "3", "approved", actor="k1", reason="release")
    assert store.history(model)[0].event == "approved" and store.get_model(model).versions["3"].routable
