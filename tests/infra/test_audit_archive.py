"""The audit archive: the Object Lock bucket, the audit table's stream into the archiver function
(filters, bisect, retries, partial failures, an encrypted dead-letter queue), the archiver's
least-privilege role, and the alarms that page before a record could be lost."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from steward.audit.chain import HEAD_SK
from steward.resources import ResourceNames
from steward.settings import ArchiverSettings

from cdk.audit_archive import BATCH_SIZE, RETRY_ATTEMPTS, SERVICE
from cdk.data import DataConstruct
from cdk.settings import StageSettings
from tests.infra.conftest import REPO_ROOT, cdk_context

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def _key_arn(synth: Synth) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(synth.stack.data.key), "Arn"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_audit_bucket_is_locked_encrypted_versioned_logged_and_retained(synth: Synth) -> None:
    bucket = synth.resources("AWS::S3::Bucket")[synth.logical_id(synth.stack.data.audit_bucket)]
    props = bucket["Properties"]
    assert props["BucketName"] == {
        "Fn::Join": ["", ["steward-dev-audit-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]
    }
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 400}},
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": _key_arn(synth),
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": synth.logical_id(synth.stack.data.access_logs_bucket)
    }
    # Audit evidence outlives the stack, even on a stage whose other stores are destroyed with it
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"


def test_prod_locks_in_compliance_mode() -> None:
    # Given the prod stage as cdk.json defines it
    stages = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["steward:stages"]
    prod = StageSettings.from_context("prod", stages)
    assert prod.audit_lock_mode == "COMPLIANCE"
    # When its data construct is synthesised / Then the bucket's default retention is COMPLIANCE
    stack = Stack(App(context=cdk_context()), "Prod", env={"account": "123456789012", "region": "eu-west-1"})
    DataConstruct(stack, "Data", names=ResourceNames("prod", "123456789012", "eu-west-1"), settings=prod)
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}},
            }
        },
    )


def test_the_stream_feeds_the_archiver_with_retries_bisect_and_a_dead_letter_queue(synth: Synth) -> None:
    archive = synth.stack.audit_archive
    table = synth.stack.data.table(NAMES.audit_table)
    assert synth.resources("AWS::DynamoDB::Table")[synth.logical_id(table)]["Properties"][
        "StreamSpecification"
    ] == {"StreamViewType": "NEW_IMAGE"}
    archiver = {"Ref": synth.logical_id(archive.function.function)}
    (mapping,) = [
        m
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == archiver  # the batch worker has its own (SQS)
    ]
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(table), "StreamArn"]}
    assert props["FunctionName"] == archiver
    assert props["StartingPosition"] == "TRIM_HORIZON" and props["BatchSize"] == BATCH_SIZE
    assert props["BisectBatchOnFunctionError"] is True and props["MaximumRetryAttempts"] == RETRY_ATTEMPTS
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_arn = {"Fn::GetAtt": [synth.logical_id(archive.dead_letters), "Arn"]}
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    # What the function would skip never invokes it: removals and the chain head
    (pattern,) = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"Keys": {"sk": {"S": [{"anything-but": [HEAD_SK]}]}}},
    }
    queue = synth.resources("AWS::SQS::Queue")[synth.logical_id(archive.dead_letters)]["Properties"]
    assert queue["KmsMasterKeyId"] == _key_arn(synth) and queue["MessageRetentionPeriod"] == 14 * 86_400


def test_the_archiver_runs_with_its_settings(synth: Synth) -> None:
    function = synth.stack.audit_archive.function.function
    props = synth.resources("AWS::Lambda::Function")[synth.logical_id(function)]["Properties"]
    assert props["Handler"] == "functions.audit_archiver.handler.handler"
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert env["STEWARD_AUDIT_LOCK_MODE"] == "GOVERNANCE" and env["STEWARD_AUDIT_RETENTION_DAYS"] == "400"
    assert env["STEWARD_AUDIT_BUCKET"] == {"Ref": synth.logical_id(synth.stack.data.audit_bucket)}
    assert env["STEWARD_KMS_KEY_ID"] == _key_arn(synth)
    steward_env = {name.removeprefix("STEWARD_").lower() for name in env if name.startswith("STEWARD_")}
    assert steward_env <= set(ArchiverSettings.model_fields)
    api = synth.resources("AWS::Lambda::Function")[synth.logical_id(synth.stack.api.api_function.function)]
    assert api["Properties"]["Environment"]["Variables"]["STEWARD_AUDIT_RETENTION_DAYS"] == "400"


def test_the_archiver_may_only_create_archive_objects(synth: Synth) -> None:
    statements = _statements(synth, synth.stack.audit_archive.function.role)
    actions = {a for s in statements for a in _as_list(s["Action"])}
    s3 = {a for a in actions if a.startswith("s3:")}
    assert s3 == {"s3:PutObject", "s3:PutObjectRetention"}  # no read, delete or bypass of the lock
    (write,) = [s for s in statements if s.get("Sid") == "AuditArchiveWrite"]
    bucket_id = synth.logical_id(synth.stack.data.audit_bucket)
    assert write["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/audit/*"]]}
    # The key: no wildcard action, and data keys only through S3 and SQS
    kms = [s for s in statements if any(a.startswith("kms:") for a in _as_list(s["Action"]))]
    assert not any("*" in a for s in kms for a in _as_list(s["Action"]))
    for statement in kms:
        if "kms:GenerateDataKey" in _as_list(statement["Action"]):
            via = statement["Condition"]["StringEquals"]["kms:ViaService"]
            assert [v["Fn::Join"][1][0] for v in via] == ["s3.", "sqs."]
    assert not any(a.startswith("dynamodb:") and a not in {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"
    } for a in actions)  # fmt: skip


def test_archive_lag_failures_and_dead_letters_alarm(synth: Synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    function_ref = {"Ref": synth.logical_id(synth.stack.audit_archive.function.function)}
    watched = {
        a["MetricName"]: a
        for a in alarms
        if {"Name": "FunctionName", "Value": function_ref} in a.get("Dimensions", [])
    }
    assert watched["IteratorAge"]["Statistic"] == "Maximum" and watched["IteratorAge"]["Threshold"] == 900_000
    assert watched["Errors"]["Threshold"] == 1
    queue = {"Fn::GetAtt": [synth.logical_id(synth.stack.audit_archive.dead_letters), "QueueName"]}
    depth = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": queue}]
    ]
    assert len(depth) == 1
    assert depth[0]["Threshold"] == 1
