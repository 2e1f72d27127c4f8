"""Model registry: only approved versions of enabled models, for entitled callers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from steward.auth.principal import Principal
from steward.catalog.registry import Registry, split_model_ref
from steward.errors import ModelNotFound

from tests.fakes import InMemoryRegistryStore, demo_model


def caller(models: tuple[str, ...] = ("*",)) -> Principal:
    return Principal("acme", "k1", frozenset(), frozenset(models))


@pytest.fixture
def store() -> InMemoryRegistryStore:
    store = InMemoryRegistryStore()
    entry, v1 = demo_model("emb", "1")
    store.put_entry(entry)
    store.put_version(v1)
    store.put_version(replace(v1, version="2", approval="pending"))
    return store


def test_default_version_resolves(store: InMemoryRegistryStore) -> None:
    resolved = Registry(store).resolve(caller(), "emb")
    assert resolved.ref == "emb@1"
    assert resolved.version.artifact_digest.startswith("sha256:")


def test_unapproved_unknown_disabled_and_not_entitled_all_look_alike(store: InMemoryRegistryStore) -> None:
    registry = Registry(store, ttl_s=0)
    errors = []
    for principal, model, version in [
        (caller(), "emb", "2"),  # pending
        (caller(), "emb", "9"),  # no such version
        (caller(), "missing", None),  # no such model
        (caller(("other",)), "emb", None),  # not entitled
    ]:
        with pytest.raises(ModelNotFound) as info:
            registry.resolve(principal, model, version)
        errors.append((info.value.status, info.value.code, info.value.detail))
    store.put_entry(replace(store.entries["emb"], enabled=False))
    with pytest.raises(ModelNotFound) as info:
        registry.resolve(caller(), "emb")
    errors.append((info.value.status, info.value.code, info.value.detail))
    assert len(set(errors)) == 1


def test_not_entitled_caller_causes_no_read(store: InMemoryRegistryStore) -> None:
    with pytest.raises(ModelNotFound):
        Registry(store).resolve(caller(("other",)), "emb")
    assert store.reads == 0


def test_listing_shows_only_usable_entitled_models(store: InMemoryRegistryStore) -> None:
    entry, v = demo_model("draft-only", "1", approval="pending")
    store.put_entry(entry)
    store.put_version(v)
    entry, v = demo_model("secret", "1")
    store.put_entry(entry)
    store.put_version(v)
    names = [r.entry.model for r in Registry(store).list_for(caller(("emb", "draft-only")))]
    assert names == ["emb"]


def test_documents_are_cached_within_ttl(store: InMemoryRegistryStore) -> None:
    now = [0.0]
    registry = Registry(store, ttl_s=30, monotonic=lambda: now[0])
    registry.resolve(caller(), "emb")
    registry.resolve(caller(), "emb")
    assert store.reads == 1
    now[0] = 31.0
    registry.resolve(caller(), "emb")
    assert store.reads == 2


def test_model_ref_may_pin_a_version() -> None:
    assert split_model_ref("emb@2") == ("emb", "2")
    assert split_model_ref("emb") == ("emb", None)
