"""Privacy adapters against moto: KMS envelope encryption and the DynamoDB policy store."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from steward.adapters.kms_encryptor import KmsEnvelopeEncryptor
from steward.adapters.policy_store import DynamoPolicyStore
from steward.privacy import PolicyError
from steward.privacy.operators import decrypt_tokens, encrypt_token
from steward.privacy.policies import PolicyBook, PolicyVersionExists
from steward.resources import ResourceNames

REGION = "us-east-1"


def test_kms_envelope_round_trip_is_bound_to_tenant_and_type(moto_endpoint: str) -> None:
    # Given a KMS key and one encryptor per request for tenant acme
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    encryptor = KmsEnvelopeEncryptor(key_id, "acme", region=REGION)
    # When two values are encrypted in the request
    a = encrypt_token("US_SSN", "536-22-8714", encryptor, "acme")
    b = encrypt_token("EMAIL_ADDRESS", "jane@example.com", encryptor, "acme")
    # Then they decrypt (in a fresh object, as a later reader would) to the values
    reader = KmsEnvelopeEncryptor(key_id, "acme", region=REGION)
    assert decrypt_tokens(f"{a} / {b}", reader, "acme") == "536-22-8714 / jane@example.com"
    assert "536-22-8714" not in a
    # And another tenant's context can't open them (KMS refuses the data key)
    with pytest.raises(ClientError):
        decrypt_tokens(a, KmsEnvelopeEncryptor(key_id, "globex", region=REGION), "globex")
    # And a token moved to another entity type fails authentication
    forged = a.replace("US_SSN", "EMAIL_ADDRESS")
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM's InvalidTag
        decrypt_tokens(forged, reader, "acme")


def test_dynamo_policy_store_versions_are_never_overwritten(names: ResourceNames) -> None:
    store = DynamoPolicyStore(names.policies_table.name, region=REGION)
    book = PolicyBook(store, ttl_s=0)
    first = book.save("t-int", None, {"entities": {"EMAIL_ADDRESS": {"operator": "redact"}}}, author="k1")
    book.save("t-int", "m", {"entities": {"US_SSN": {"operator": "block"}}}, author="k1")
    second = book.save("t-int", None, {"entities": {"EMAIL_ADDRESS": {"operator": "mask"}}}, author="k1")
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(PolicyVersionExists):
        store.put_policy(first, author="k2")
    assert book.in_force("t-int", "m").label == "model:m@v1"
    assert book.in_force("t-int", "other").label == "tenant@v2"
    assert [(p.model, p.version) for p in book.history("t-int")] == [(None, 2), (None, 1), ("m", 1)]
    with pytest.raises(PolicyError):
        book.save("t-int", None, {"threshold": 3}, author="k1")
