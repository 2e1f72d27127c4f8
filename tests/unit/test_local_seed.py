"""The local stack's seed: every built version is registered, each model's oldest one is its default."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from steward import admin
from steward.auth.principal import Principal
from steward.catalog.registry import Registry

from gpu_backend.build.registry import build_models
from scripts.local import seed as local_seed
from tests.fakes import InMemoryKeyStore, InMemoryRegistryStore

BACKEND = "http://127.0.0.1:9"
CALLER = Principal("demo", "k", frozenset(), frozenset({"*"}))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding both shipped credit-risk versions, as ``make models`` writes them."""
    output = tmp_path_factory.mktemp("seed-models")
    build_models(output, ["credit-risk"])
    return output


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> InMemoryRegistryStore:
    """The seed's registry and key writes go to in-memory stores."""
    registry = InMemoryRegistryStore()
    monkeypatch.setattr(
        local_seed, "register_from_manifest", functools.partial(admin.register_from_manifest, store=registry)
    )
    monkeypatch.setattr(
        local_seed,
        "create_api_key",
        functools.partial(admin.create_api_key, store=InMemoryKeyStore(), pepper=lambda: b"p" * 32),
    )
    return registry


def test_seed_keeps_version_1_default_and_registers_version_2_approved(
    built: Path, store: InMemoryRegistryStore
) -> None:
    # Given a repository with credit-risk@1 and the reweighed credit-risk@2 (both approved manifests)
    # When the local stack is seeded from it
    seeded = local_seed.seed(built, BACKEND)
    # Then both versions are registered approved with their cards, and version 1 takes the traffic
    doc = store.get_model("credit-risk")
    assert doc.entry is not None and doc.entry.default_version == "1"
    assert {v: mv.approval for v, mv in doc.versions.items()} == {"1": "approved", "2": "approved"}
    assert doc.versions["2"].card["fairness"]["mitigation"]["method"] == "reweighing"
    assert doc.versions["2"].target.url == BACKEND
    assert Registry(store).resolve(CALLER, "credit-risk").ref == "credit-risk@1"
    assert Registry(store).resolve(CALLER, "credit-risk", "2").ref == "credit-risk@2"
    assert seeded.models == ["credit-risk"]


def test_seeding_again_leaves_the_default_where_it_was(built: Path, store: InMemoryRegistryStore) -> None:
    # Given a seeded registry
    local_seed.seed(built, BACKEND)
    # When it is seeded a second time
    local_seed.seed(built, BACKEND)
    # Then version 1 is still the default
    entry = store.get_model("credit-risk").entry
    assert entry is not None and entry.default_version == "1"


def test_manifests_come_in_numeric_version_order(tmp_path: Path) -> None:
    # Given versions 10, 2 and 1 of one model and version 1 of another, plus a broken manifest
    for name, version in (("m", "10"), ("m", "2"), ("m", "1"), ("a", "1")):
        path = tmp_path / name / version / "manifest.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"name": name, "version": version}))
    (tmp_path / "m" / "3").mkdir()
    (tmp_path / "m" / "3" / "manifest.json").write_text("{broken")
    # When they are listed
    found = [(m["name"], m["version"]) for m in local_seed.manifests(tmp_path)]
    # Then each model's versions come oldest first by number, and the broken one is skipped
    assert found == [("a", "1"), ("m", "1"), ("m", "2"), ("m", "10")]
