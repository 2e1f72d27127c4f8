"""DynamoDB adapters against moto server (the same boto3 path as in AWS)."""

from __future__ import annotations

import time

import boto3
import pytest
from steward import admin
from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.key_store import DynamoKeyStore, KeyNotFoundError
from steward.adapters.pepper import SecretsManagerPepper
from steward.adapters.registry_store import DynamoRegistryStore
from steward.audit.chain import AuditChain
from steward.auth.authorize import Authorizer
from steward.catalog.registry import Registry
from steward.errors import Unauthenticated
from steward.resources import ResourceNames
from steward.settings import AdminSettings

from tests.fakes import complete_card

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration


def test_key_lifecycle_create_authorize_revoke(names: ResourceNames) -> None:
    # Given a key created through the admin function (pepper from Secrets Manager)
    settings = AdminSettings()
    token, record = admin.create_api_key(
        "acme", models=["m1"], admin=True, expires_days=30, settings=settings
    )
    store = DynamoKeyStore(names.api_keys_table.name, region=REGION)
    # Then only its keyed hash is stored
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=names.api_keys_table.name, Key={"key_id": {"S": record.key_id}}
    )["Item"]
    assert token not in str(raw) and token.split("_")[2] not in str(raw)
    assert store.get(record.key_id) == record
    # When authorized with the Secrets Manager pepper
    authorizer = Authorizer(store, SecretsManagerPepper(names.pepper_secret, region=REGION), ttl_s=0)
    assert authorizer.authorize(token).is_admin
    # And revoked
    admin.revoke_api_key(record.key_id, settings=settings)
    with pytest.raises(Unauthenticated):
        authorizer.authorize(token)
    with pytest.raises(KeyNotFoundError):
        store.revoke("doesnotexist")


def test_pepper_comes_from_secrets_manager(names: ResourceNames) -> None:
    assert SecretsManagerPepper(names.pepper_secret, region=REGION)() == PEPPER.encode()


def test_registry_round_trip_and_listing(names: ResourceNames) -> None:
    settings = AdminSettings()
    store = DynamoRegistryStore(names.models_table.name, region=REGION)
    manifest = {
        "name": "emb-int",
        "version": "1",
        "task": "sentence-embedding",
        "model_file": "model.onnx",
        "artifacts": {"model.onnx": {"sha256": "ab" * 32, "bytes": 1}},
        "approval": "approved",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}],
        "card": complete_card(description="d", owner="ml", training_data="not summarised"),
    }
    admin.register_from_manifest(manifest, target={"kind": "http", "url": "http://b"}, settings=settings)
    admin.register_model(
        "emb-int",
        "2",
        target={"kind": "sagemaker", "endpoint_name": "ep", "variant": "v2"},
        make_default=False,
        settings=settings,
    )
    doc = store.get_model("emb-int")
    assert doc.entry is not None and doc.entry.default_version == "1" and doc.entry.owner == "ml"
    assert doc.versions["1"].artifact_digest == "sha256:" + "ab" * 32
    assert doc.versions["1"].card == complete_card(
        description="d", owner="ml", training_data="not summarised"
    )
    assert doc.versions["2"].target.endpoint_name == "ep" and doc.versions["2"].approval == "pending"
    from steward.auth.principal import Principal

    caller = Principal("acme", "k", frozenset(), frozenset({"*"}))
    assert Registry(store).resolve(caller, "emb-int").ref == "emb-int@1"
    assert "emb-int" in [r.entry.model for r in Registry(store).list_for(caller)]


def test_audit_store_is_tenant_scoped_newest_first_with_ttl_and_paging(names: ResourceNames) -> None:
    store = DynamoAuditStore(names.audit_table.name, region=REGION, chain=AuditChain(PEPPER.encode))
    base = int(time.time())
    for i in range(3):
        store.put(
            {
                "tenant_id": "t-audit",
                "sk": f"2030-01-01T00:00:0{i}.000Z#r{i}",
                "request_id": f"r{i}",
                "key_id": "k1" if i < 2 else "k2",
                "expires_at": base + 100,
            }
        )
    store.put({"tenant_id": "t-other", "sk": "2030-01-01T00:00:09.000Z#x", "request_id": "x", "key_id": "k1"})
    page, next_sk = store.query("t-audit", limit=2, after_sk=None, key_id=None)
    assert [r["request_id"] for r in page] == ["r2", "r1"] and next_sk
    rest, _ = store.query("t-audit", limit=2, after_sk=next_sk, key_id=None)
    assert [r["request_id"] for r in rest] == ["r0"]
    own, _ = store.query("t-audit", limit=10, after_sk=None, key_id="k1")
    assert [r["request_id"] for r in own] == ["r1", "r0"]
    ttl = boto3.client("dynamodb", region_name=REGION).describe_time_to_live(TableName=names.audit_table.name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
