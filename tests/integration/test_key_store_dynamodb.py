"""The key store's lifecycle calls against moto server: the tenant index, the rotation transaction
(one successor however many rotate at once), per-key limits and revocation stamps round-trip."""

from __future__ import annotations

import threading

import pytest
from steward import admin
from steward.adapters.key_store import DynamoKeyStore
from steward.auth.keys import KeyLimits
from steward.errors import KeyConflict
from steward.resources import ResourceNames
from steward.settings import AdminSettings

from .conftest import REGION

pytestmark = pytest.mark.integration


def test_list_rotate_and_revoke_round_trip(names: ResourceNames) -> None:
    settings = AdminSettings()
    store = DynamoKeyStore(names.api_keys_table.name, region=REGION)
    token, first = admin.create_api_key(
        "lifecycle-acme", models=["m1"], rpm=60, daily=1000, monthly=20_000, settings=settings
    )
    admin.create_api_key("lifecycle-globex", models=["*"], settings=settings)
    assert store.get(first.key_id) == first and first.limits == KeyLimits(60, 1000, 20_000)

    new_token, successor, retired = admin.rotate_api_key(first.key_id, overlap_hours=1, settings=settings)
    assert new_token != token and store.get(successor.key_id) == successor
    assert store.get(first.key_id) == retired and retired.rotated_to == successor.key_id
    with pytest.raises(KeyConflict):
        admin.rotate_api_key(first.key_id, settings=settings)

    listed = admin.list_api_keys("lifecycle-acme", settings=settings)
    assert {r.key_id for r in listed} == {first.key_id, successor.key_id}
    assert all(r.tenant_id == "lifecycle-acme" for r in listed)

    revoked = admin.revoke_api_key(successor.key_id, settings=settings)
    assert revoked.revoked and revoked.revoked_at is not None
    with pytest.raises(KeyConflict):  # a revoked key is not rotated
        admin.rotate_api_key(successor.key_id, settings=settings)


def test_concurrent_rotations_leave_one_successor(names: ResourceNames, serial_moto: str) -> None:
    settings = AdminSettings()
    _, record = admin.create_api_key("lifecycle-race", models=["*"], settings=settings)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def rotate() -> None:
        barrier.wait(timeout=10)
        try:
            admin.rotate_api_key(record.key_id, settings=settings)
            outcomes.append("rotated")
        except KeyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rotate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict"] * 5 + ["rotated"]
    keys = admin.list_api_keys("lifecycle-race", settings=settings)
    assert len(keys) == 2  # the key and exactly one successor: no orphan from a lost race
