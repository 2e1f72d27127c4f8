"""Create Steward's AWS resources in an (emulated) account, exactly as named for CDK.

The CDK constructs create these resources in AWS; this module creates the same ones in moto for
the local stack and the integration tests, from the same :class:`ResourceNames`, so names and key
schemas cannot drift between the two.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from steward.resources import JOBS_MAX_RECEIVES, ResourceNames, TableSpec

#: Locally a failed batch job comes back after this many seconds (AWS: 6x the worker's timeout),
#: so a retry is seen within a test's patience.
LOCAL_VISIBILITY_TIMEOUT_S = 20


@dataclass(frozen=True)
class ProvisionedResources:
    """Identifiers that only exist after creation (the KMS key id, the queues' URLs)."""

    kms_key_id: str
    jobs_queue_url: str = ""
    jobs_queue_arn: str = ""
    jobs_dead_letter_queue_url: str = ""


def table_definition(spec: TableSpec) -> dict[str, Any]:
    """``CreateTable`` arguments for ``spec`` (string keys, on-demand billing, GSIs)."""
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    attributes = {spec.partition_key}
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
        attributes.add(spec.sort_key)
    indexes = []
    for index in spec.indexes:
        index_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        attributes.add(index.partition_key)
        if index.sort_key:
            index_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
            attributes.add(index.sort_key)
        indexes.append(
            {"IndexName": index.name, "KeySchema": index_keys, "Projection": {"ProjectionType": "ALL"}}
        )
    definition: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    if spec.stream:
        definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    return definition


def create_audit_bucket(s3: Any, names: ResourceNames, key_id: str, *, retention_days: int = 400) -> None:
    """The audit archive's bucket as CDK makes it (non-prod): Object Lock on (which turns
    versioning on), GOVERNANCE default retention, SSE-KMS under the stage key; idempotent."""
    bucket = names.audit_bucket
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError:
        pass
    location = (
        {}
        if names.region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": names.region}}
    )
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **location)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": retention_days}},
        },
    )
    _encrypt(s3, bucket, key_id)


def _encrypt(s3: Any, bucket: str, key_id: str) -> None:
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}
            ]
        },
    )


def provision(names: ResourceNames, session: Any) -> ProvisionedResources:
    """Create every table, bucket, key and secret Steward needs; idempotent.

    ``session`` is a ``boto3.session.Session`` whose clients already point at the target
    endpoint (moto locally).
    """
    kms = session.client("kms")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    key_id = aliases.get(names.kms_alias)
    if key_id is None:
        key_id = kms.create_key(Description=f"{names.prefix} data key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=names.kms_alias, TargetKeyId=key_id)

    dynamodb = session.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for spec in names.tables:
        if spec.name in existing:
            continue
        dynamodb.create_table(
            **table_definition(spec),
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id},
        )
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=spec.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )

    s3 = session.client("s3")
    for bucket in names.buckets:
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            if names.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": names.region}
                )
            _encrypt(s3, bucket, key_id)
    create_audit_bucket(s3, names, key_id)

    queues = provision_queues(names, session.client("sqs"), key_id)
    # The S3 drop-in (`steward.batches.dropin`): objects created under incoming/ notify the jobs queue.
    s3.put_bucket_notification_configuration(
        Bucket=names.batch_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queues["jobs_queue_arn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )

    secrets_client = session.client("secretsmanager")
    try:
        secrets_client.describe_secret(SecretId=names.pepper_secret)
    except secrets_client.exceptions.ResourceNotFoundException:
        secrets_client.create_secret(
            Name=names.pepper_secret,
            KmsKeyId=key_id,
            SecretString=secrets.token_hex(32),
            Description="HMAC pepper for Steward API key hashes",
        )
    return ProvisionedResources(kms_key_id=key_id, **queues)


def provision_queues(names: ResourceNames, sqs: Any, key_id: str) -> dict[str, str]:
    """The jobs queue and its dead-letter queue (KMS, redrive after `JOBS_MAX_RECEIVES`)."""
    encryption = {"KmsMasterKeyId": key_id}
    dlq_url = sqs.create_queue(
        QueueName=names.jobs_dead_letter_queue,
        Attributes={**encryption, "MessageRetentionPeriod": str(14 * 86_400)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(JOBS_MAX_RECEIVES)})
    url = sqs.create_queue(
        QueueName=names.jobs_queue,
        Attributes={
            **encryption,
            "VisibilityTimeout": str(LOCAL_VISIBILITY_TIMEOUT_S),
            "MessageRetentionPeriod": str(4 * 86_400),
            "RedrivePolicy": redrive,
        },
    )["QueueUrl"]
    arn = _arn(sqs, url)
    return {"jobs_queue_url": url, "jobs_queue_arn": arn, "jobs_dead_letter_queue_url": dlq_url}


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
