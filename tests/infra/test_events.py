"""BatchEventsConstruct: the jobs queue and its DLQ, the worker, its event source, grants, alarms."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from steward.resources import JOBS_MAX_RECEIVES, ResourceNames
from steward.settings import WorkerSettings

from cdk.events import OLDEST_JOB_ALARM_S, SERVICE, VISIBILITY_FACTOR, WORKER_TIMEOUT

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def _statements(synth: Synth, role: Any) -> dict[str, dict[str, Any]]:
    role_id = synth.logical_id(role)
    found: dict[str, dict[str, Any]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found.setdefault(statement.get("Sid", ""), statement)
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_jobs_queue_is_encrypted_redrives_to_its_dlq_and_outlasts_the_worker(synth: Synth) -> None:
    # Given the jobs queue and its dead-letter queue
    events = synth.stack.events
    queue = synth.resources("AWS::SQS::Queue")[synth.logical_id(events.queue)]["Properties"]
    dlq_id = synth.logical_id(events.dead_letter_queue)
    dlq = synth.resources("AWS::SQS::Queue")[dlq_id]["Properties"]
    key = {"Fn::GetAtt": [synth.logical_id(synth.stack.data.key), "Arn"]}
    # Then both are encrypted with the stage key, and jobs move to the DLQ after the receive limit
    assert queue["KmsMasterKeyId"] == key and dlq["KmsMasterKeyId"] == key
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": JOBS_MAX_RECEIVES,
    }
    # And a job is hidden for at least six times the worker's timeout while a worker holds it
    assert queue["VisibilityTimeout"] >= VISIBILITY_FACTOR * WORKER_TIMEOUT.to_seconds()
    assert queue["QueueName"] == NAMES.jobs_queue and dlq["QueueName"] == NAMES.jobs_dead_letter_queue
    # And both refuse plain HTTP
    for queue_id in (synth.logical_id(events.queue), dlq_id):
        policy = next(
            p["Properties"]
            for p in synth.resources("AWS::SQS::QueuePolicy").values()
            if {"Ref": queue_id} in p["Properties"]["Queues"]
        )
        denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_the_worker_reports_partial_batch_failures_under_a_concurrency_cap(synth: Synth) -> None:
    worker_id = synth.logical_id(synth.stack.events.worker.function)
    function = synth.resources("AWS::Lambda::Function")[worker_id]["Properties"]
    assert function["Handler"] == "functions.batch_worker.handler.handler"
    assert function["Timeout"] == WORKER_TIMEOUT.to_seconds()
    assert function["ReservedConcurrentExecutions"] == 10
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": worker_id}
    ]
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 10}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.events.queue), "Arn"]}
    # Its environment carries only what steward.settings.WorkerSettings reads
    env = function["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert env["STEWARD_IDEMPOTENCY_TABLE"] == NAMES.idempotency_table.name
    steward = {name.removeprefix("STEWARD_").lower() for name in env if name.startswith("STEWARD_")}
    assert steward <= set(WorkerSettings.model_fields)
    assert {"batches_table", "batch_bucket", "jobs_queue_url", "api_keys_table"} <= steward


def test_the_idempotency_and_batches_tables_exist_with_their_ttl(synth: Synth) -> None:
    tables = {
        t["Properties"]["TableName"]: t["Properties"]
        for t in synth.resources("AWS::DynamoDB::Table").values()
    }
    idempotency = tables[NAMES.idempotency_table.name]
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    batches = tables[NAMES.batches_table.name]
    assert batches["KeySchema"][0] == {"AttributeName": "tenant_id", "KeyType": "HASH"}
    assert batches["SSESpecification"]["SSEEnabled"] is True


def test_the_worker_may_do_what_a_line_needs_and_nothing_more(synth: Synth) -> None:
    statements = _statements(synth, synth.stack.events.worker.role)
    data = synth.stack.data
    batches = {"Fn::GetAtt": [synth.logical_id(data.table(NAMES.batches_table)), "Arn"]}
    assert statements["BatchRecords"]["Resource"] == batches
    assert set(_list(statements["BatchRecords"]["Action"])) == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"
    }  # fmt: skip
    assert _list(statements["KeyRecheck"]["Action"]) == ["dynamodb:GetItem"]
    # Flags are queued for review (marks read, an item created), never claimed or resolved here
    assert set(_list(statements["ReviewQueueFlags"]["Action"])) == {
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
    }
    assert statements["ReviewQueueFlags"]["Resource"] == {
        "Fn::GetAtt": [synth.logical_id(data.table(NAMES.reviews_table)), "Arn"]
    }
    assert set(_list(statements["AuditWrite"]["Action"])) == {"dynamodb:GetItem", "dynamodb:PutItem"}
    bucket = synth.logical_id(data.batch_bucket)
    prefixes = {r["Fn::Join"][1][1] for r in _list(statements["BatchObjectsRead"]["Resource"])}
    assert prefixes == {"/files/*", "/chunks/*", "/results/*"}
    assert all(
        r["Fn::Join"][1][0] == {"Fn::GetAtt": [bucket, "Arn"]}
        for r in statements["BatchObjectsRead"]["Resource"]
    )
    # The worker deletes nothing but a consumed drop-in (never a caller's file, chunk or result)
    deleting = [sid for sid, st in statements.items() if "s3:DeleteObject" in _list(st["Action"])]
    assert deleting == ["DropInConsume"]
    assert [r["Fn::Join"][1][1] for r in _list(statements["DropInConsume"]["Resource"])] == ["/incoming/*"]
    assert "dynamodb:Scan" not in _list(statements["BatchRecords"]["Action"])
    sealing = statements["SealingKeys"]["Condition"]
    assert sealing["ForAllValues:StringEquals"] == {"kms:EncryptionContextKeys": ["steward:tenant"]}


def test_the_api_function_reaches_files_and_sends_jobs_only(synth: Synth) -> None:
    statements = _statements(synth, synth.stack.api.api_function.role)
    objects = _list(statements["BatchFiles"]["Resource"])
    assert [r["Fn::Join"][1][1] for r in objects] == ["/files/*"]  # never chunks/ or results/
    assert _list(statements["BatchJobsSend"]["Action"]) == ["sqs:SendMessage"]
    api = synth.resources("AWS::Lambda::Function")[synth.logical_id(synth.stack.api.api_function.function)]
    env = api["Properties"]["Environment"]["Variables"]
    assert env["STEWARD_JOBS_QUEUE_URL"] == {"Ref": synth.logical_id(synth.stack.events.queue)}


def test_dead_letters_and_old_jobs_alarm_to_the_alarm_topic(synth: Synth) -> None:
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}
    alarms = {synth.logical_id(a): a for a in synth.stack.events.alarms}
    found = {
        props["MetricName"]: props
        for lid, alarm in synth.resources("AWS::CloudWatch::Alarm").items()
        if lid in alarms
        for props in [alarm["Properties"]]
    }
    dlq = found["ApproximateNumberOfMessagesVisible"]
    assert dlq["Threshold"] == 1 and dlq["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": [synth.logical_id(synth.stack.events.dead_letter_queue), "QueueName"]},
        }
    ]
    assert found["ApproximateAgeOfOldestMessage"]["Threshold"] == OLDEST_JOB_ALARM_S
    assert all(props["AlarmActions"] == [topic] for props in found.values())


def test_the_batch_bucket_is_encrypted_and_expires_its_objects(synth: Synth) -> None:
    bucket = synth.resources("AWS::S3::Bucket")[synth.logical_id(synth.stack.data.batch_bucket)]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (lifecycle,) = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == 30


def test_a_schedule_queues_the_expiry_sweep_and_the_worker_may_read_open_batches(synth: Synth) -> None:
    queue_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.events.queue), "Arn"]}
    rules = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == queue_arn for t in r["Properties"]["Targets"])
    ]
    assert len(rules) == 1 and rules[0]["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rules[0]["Targets"]
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"time": "$.time"}
    assert '"kind":"sweep"' in transformer["InputTemplate"].replace(" ", "")
    assert "sweep_<time>" in transformer["InputTemplate"]
    statements = _statements(synth, synth.stack.events.worker.role)
    index = statements["OpenBatchesIndex"]
    assert _list(index["Action"]) == ["dynamodb:Query"]
    assert "/index/open-until" in json.dumps(index["Resource"])


def test_drop_ins_under_incoming_notify_the_jobs_queue(synth: Synth) -> None:
    (notifications,) = synth.resources("Custom::S3BucketNotifications").values()
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": synth.logical_id(synth.stack.data.batch_bucket)}
    (config,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}
    assert config["QueueArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.events.queue), "Arn"]}
    key = synth.resources("AWS::KMS::Key")[synth.logical_id(synth.stack.data.key)]["Properties"]
    (s3_use,) = [st for st in key["KeyPolicy"]["Statement"] if st.get("Sid") == "S3DropInNotificationsKms"]
    assert s3_use["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "aws:SourceArn" in json.dumps(s3_use["Condition"]) and "aws:SourceAccount" in json.dumps(
        s3_use["Condition"]
    )


def test_every_schedule_target_retries_then_dead_letters_into_an_alarmed_queue(synth: Synth) -> None:
    # Given every scheduled rule of the stage (the fairness report, the batch expiry sweep)
    rules = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()]
    scheduled = [r for r in rules if "ScheduleExpression" in r]
    assert len(scheduled) >= 2
    alarmed = {
        str(dim["Value"]["Fn::GetAtt"][0])
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        for dim in alarm["Properties"].get("Dimensions", [])
        if dim["Name"] == "QueueName" and isinstance(dim["Value"], dict) and "Fn::GetAtt" in dim["Value"]
    }
    queues = synth.resources("AWS::SQS::Queue")
    for rule in scheduled:
        for target in rule["Targets"]:
            # Then each target retries within an age, then names a dead-letter queue
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 2
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600
            dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
            # And that queue is encrypted and alarms when anything lands in it
            queue = queues[dlq_id]["Properties"]
            assert queue.get("SqsManagedSseEnabled") or queue.get("KmsMasterKeyId")
            assert dlq_id in alarmed


def test_the_dashboard_shows_the_queue_the_worker_and_what_it_answered(synth: Synth) -> None:
    from steward.batches import signals

    body = json.dumps(next(iter(synth.resources("AWS::CloudWatch::Dashboard").values())))
    for metric in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        signals.LINES_COMPLETED,
        signals.LINES_FAILED,
        signals.CHUNKS_DEFERRED,
        "BatchesCompleted",
        "BatchesFailed",
        "BatchesExpired",
    ):
        assert metric in body, metric
