"""The default-version rule: the default always points at an approved version when one exists.

Registering, approving and retiring versions must never take a model offline by accident.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr
from steward import admin
from steward.auth.principal import Principal
from steward.catalog.registry import Registry
from steward.errors import DefaultVersionConflict, KeyNotFound, ModelNotFound, VersionNotFound
from steward.settings import AdminSettings

from tests.fakes import InMemoryKeyStore, InMemoryRegistryStore, complete_card

TARGET = {"kind": "http", "url": "http://b"}
DIGEST = "sha256:" + "ab" * 32
SETTINGS = AdminSettings(stage="test", pepper=SecretStr("p" * 32))
CALLER = Principal("acme", "k1", frozenset(), frozenset({"*"}))


@pytest.fixture
def store() -> InMemoryRegistryStore:
    return InMemoryRegistryStore()


def register(store: InMemoryRegistryStore, version: str, **kwargs: Any) -> None:
    admin.register_model(
        "emb", version, target=TARGET, task="sentence-embedding", artifact_digest=DIGEST,
        card=complete_card(), settings=SETTINGS, store=store, now=float(version), **kwargs,
    )  # fmt: skip


def default_of(store: InMemoryRegistryStore) -> str:
    return store.entries["emb"].default_version


def served(store: InMemoryRegistryStore) -> str:
    return Registry(store, ttl_s=0).resolve(CALLER, "emb").ref


@pytest.fixture
def live(store: InMemoryRegistryStore) -> InMemoryRegistryStore:
    """A model serving approved version 1."""
    register(store, "1", approval="approved")
    return store


def test_registering_a_pending_version_keeps_the_approved_default(live: InMemoryRegistryStore) -> None:
    # When a new version is registered as the CLI does by default (pending, make_default)
    register(live, "2")
    # Then the model keeps serving version 1
    assert default_of(live) == "1" and served(live) == "emb@1"
    assert live.versions["emb"]["2"].approval == "pending"


def test_registering_approved_with_make_default_switches_and_no_default_keeps(
    live: InMemoryRegistryStore,
) -> None:
    register(live, "2", approval="approved", make_default=False)
    assert default_of(live) == "1"
    register(live, "3", approval="approved")
    assert default_of(live) == "3" and served(live) == "emb@3"


def test_first_version_holds_the_slot_and_is_served_once_approved(store: InMemoryRegistryStore) -> None:
    register(store, "1")
    assert default_of(store) == "1"
    register(store, "2", approval="approved", make_default=False)
    # No approved default existed, so the approved version becomes the default despite make_default=False
    assert default_of(store) == "2" and served(store) == "emb@2"


def test_approving_moves_the_default_only_when_asked_or_when_none_is_approved(
    store: InMemoryRegistryStore,
) -> None:
    register(store, "1")
    register(store, "2")
    admin.set_approval("emb", "2", "approved", store=store)
    assert default_of(store) == "2" and served(store) == "emb@2"  # no approved default before
    register(store, "3")
    admin.set_approval("emb", "3", "approved", store=store)
    assert default_of(store) == "2"  # an approved default exists: not moved unasked
    admin.set_approval("emb", "3", "approved", make_default=True, store=store)
    assert default_of(store) == "3" and served(store) == "emb@3"


def test_a_version_that_is_not_approved_cannot_be_made_default(live: InMemoryRegistryStore) -> None:
    register(live, "2")
    with pytest.raises(DefaultVersionConflict):
        admin.set_approval("emb", "2", "pending", make_default=True, store=live)
    assert default_of(live) == "1"


def test_retiring_the_default_needs_another_approved_default(live: InMemoryRegistryStore) -> None:
    register(live, "2", approval="approved", make_default=False)
    with pytest.raises(DefaultVersionConflict) as refused:
        admin.set_approval("emb", "1", "retired", store=live)
    assert refused.value.status == 409 and refused.value.code == "model.default_conflict"
    assert "2" in refused.value.detail  # names the approved candidates
    assert live.versions["emb"]["1"].approval == "approved" and served(live) == "emb@1"
    # A pending version can't take over
    register(live, "3")
    with pytest.raises(DefaultVersionConflict):
        admin.set_approval("emb", "1", "retired", new_default="3", store=live)
    # Naming an approved one moves the default, then retires
    admin.set_approval("emb", "1", "retired", new_default="2", store=live)
    assert default_of(live) == "2" and served(live) == "emb@2"
    assert live.versions["emb"]["1"].approval == "retired"


def test_retiring_the_only_approved_version_needs_take_offline(live: InMemoryRegistryStore) -> None:
    with pytest.raises(DefaultVersionConflict):
        admin.set_approval("emb", "1", "rejected", store=live)
    assert served(live) == "emb@1"
    admin.set_approval("emb", "1", "retired", take_offline=True, store=live)
    assert live.versions["emb"]["1"].approval == "retired"


def test_retiring_a_version_that_is_not_the_default_is_free(live: InMemoryRegistryStore) -> None:
    register(live, "2", approval="approved", make_default=False)
    admin.set_approval("emb", "2", "retired", store=live)
    assert default_of(live) == "1" and live.versions["emb"]["2"].approval == "retired"


def test_re_registering_the_default_as_pending_is_refused(live: InMemoryRegistryStore) -> None:
    with pytest.raises(DefaultVersionConflict):
        register(live, "1")
    assert live.versions["emb"]["1"].approval == "approved" and served(live) == "emb@1"
    register(live, "1", approval="approved")  # re-registering as approved (seeding again) is fine


def test_a_stored_default_that_is_not_approved_falls_back_to_the_newest_approved(
    live: InMemoryRegistryStore,
) -> None:
    # Given data written by the old rule: the default points at a pending version
    register(live, "2", approval="approved", make_default=False)
    register(live, "3")
    live.put_entry(replace(live.entries["emb"], default_version="3"))
    # Then requests without a version get the newest approved version, pins still obey approval
    registry = Registry(live, ttl_s=0)
    assert registry.resolve(CALLER, "emb").ref == "emb@2"
    assert [r.ref for r in registry.list_for(CALLER)] == ["emb@2"]
    assert registry.resolve(CALLER, "emb", "1").ref == "emb@1"
    with pytest.raises(ModelNotFound):
        registry.resolve(CALLER, "emb", "3")
    # And the next registration repairs the stored default
    register(live, "4")
    assert default_of(live) == "2"


def test_unknown_version_and_unknown_key_are_clear_errors(live: InMemoryRegistryStore) -> None:
    with pytest.raises(VersionNotFound) as missing:
        admin.set_approval("emb", "9", "approved", store=live)
    assert isinstance(missing.value, LookupError) and missing.value.code == "model.version_not_found"
    with pytest.raises(KeyNotFound) as unknown:
        admin.revoke_api_key("nokey", settings=SETTINGS, store=InMemoryKeyStore())
    assert unknown.value.code == "key.not_found"


@pytest.mark.parametrize("days", [-1.0, 0.0, float("nan"), float("inf"), 3651.0])
def test_key_expiry_must_be_a_positive_bounded_number_of_days(days: float) -> None:
    keys = InMemoryKeyStore()
    with pytest.raises(ValueError, match="expires_days"):
        admin.create_api_key(
            "acme", models=["*"], expires_days=days, settings=SETTINGS, store=keys, pepper=lambda: b"p"
        )
    assert keys.records == {}
