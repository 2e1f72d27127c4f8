"""DataConstruct: CMK, tables per ResourceNames, buckets, pepper secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from aws_cdk.assertions import Match
from steward.resources import ResourceNames

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def _key_ref(synth: Synth) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [synth.logical_id(synth.stack.data.key), "Arn"]}


def test_the_cmk_rotates_and_carries_the_stage_alias(synth: Synth) -> None:
    # Given the dev stage synthesised / When reading its KMS resources
    # Then one customer-managed key rotates and has the alias from ResourceNames
    synth.template.resource_count_is("AWS::KMS::Key", 1)
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    synth.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": NAMES.kms_alias})


@pytest.mark.parametrize("spec", NAMES.tables, ids=lambda spec: spec.name)
def test_every_table_of_resource_names_exists_encrypted_with_pitr(synth: Synth, spec) -> None:  # type: ignore[no-untyped-def]
    # Given a table spec from ResourceNames / When looking it up by name in the template
    tables = synth.template.find_resources("AWS::DynamoDB::Table", {"Properties": {"TableName": spec.name}})

    # Then it exists once, with the key schema, CMK encryption, PITR, TTL and GSIs of the spec
    assert len(tables) == 1, f"{spec.name} missing"
    props = next(iter(tables.values()))["Properties"]
    expected_keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        expected_keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    assert props["KeySchema"] == expected_keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": _key_ref(synth),
    }
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert sorted(i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])) == sorted(
        i.name for i in spec.indexes
    )
    if spec.stream:
        assert props["StreamSpecification"] == {"StreamViewType": spec.stream}
    else:
        assert "StreamSpecification" not in props


def test_every_bucket_blocks_public_access_and_denies_plain_http(synth: Synth) -> None:
    # Given the synthesised buckets and bucket policies
    buckets = synth.resources("AWS::S3::Bucket")
    policies = synth.resources("AWS::S3::BucketPolicy").values()

    # Then each bucket blocks all public access and its policy denies non-TLS requests
    assert len(buckets) == 5  # artifacts, results, batch files, audit, server access logs
    for logical_id, bucket in buckets.items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        policy = next(p for p in policies if p["Properties"]["Bucket"] == {"Ref": logical_id})
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
            for s in statements
        ), f"{logical_id} allows plain HTTP"


def test_artifacts_and_results_buckets_use_the_cmk_with_versioning_and_access_logs(synth: Synth) -> None:
    # Given the two data buckets
    for bucket in (synth.stack.data.artifacts_bucket, synth.stack.data.results_bucket):
        props = synth.resources("AWS::S3::Bucket")[synth.logical_id(bucket)]["Properties"]

        # Then they are KMS-encrypted with the CMK, versioned and log to the access log bucket
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": _key_ref(synth),
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {
            "Ref": synth.logical_id(synth.stack.data.access_logs_bucket)
        }


def test_the_pepper_secret_is_generated_and_encrypted_with_the_cmk(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": NAMES.pepper_secret,
            "KmsKeyId": _key_ref(synth),
            "GenerateSecretString": Match.object_like({"PasswordLength": 64}),
        },
    )
