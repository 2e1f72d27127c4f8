"""The audit archive's writer: the audit table's stream invokes the archiver function, which writes
each batch's records to the audit bucket under Object Lock (`steward.audit.archive`).

The event source mapping starts at the stream's oldest record, drops what the function would skip
(REMOVE events; the chain head, rewritten on every write) before invoking it, reports partial batch
failures, bisects a failing batch and retries it; a batch that still fails is named (shard and
sequence range, no record content) in an encrypted dead-letter queue, within the stream's 24 hours,
so ``steward audit archive`` can copy those records from the table in time. The observability
construct alarms on the mapping's iterator age, the queue's depth and the function's errors.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from steward.audit.chain import HEAD_SK
from steward.resources import AUDIT_ARCHIVE_PREFIX, ResourceNames

from cdk.data import DataConstruct
from cdk.function import StewardFunction
from cdk.layers import LayersConstruct
from cdk.nag import acknowledge, logical_id
from cdk.settings import StageSettings

SERVICE = "steward-audit-archiver"
#: Records per invocation, gathered for up to `BATCH_WINDOW`: more records per object (fewer PUTs)
#: for a small delay; a batch's objects are written in parallel (`steward.audit.archive`).
BATCH_SIZE = 500
BATCH_WINDOW = Duration.seconds(10)
RETRY_ATTEMPTS = 10
ARCHIVER_TIMEOUT = Duration.minutes(1)


@jsii.implements(lambda_.IEventSourceDlq)
class _QueueDestination:
    """The dead-letter queue as the mapping's on-failure destination, without `SqsDlq`'s grant
    (encrypt, decrypt and re-encrypt with the stage key, from anywhere): `_grant` allows the send
    and the key only through SQS."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, target: lambda_.IEventSourceMapping, target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


class AuditArchiveConstruct(Construct):
    """Archiver function + stream event source + dead-letter queue, with least-privilege grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: StageSettings,
        data: DataConstruct,
        layers: LayersConstruct,
    ):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the audit stream's event source "
            "mapping (batch positions that could not be archived); it has no consumer to fail.",
        )
        self.function = StewardFunction(
            self,
            "ArchiverFunction",
            name="audit_archiver",
            service=SERVICE,
            description="Steward audit archiver: the audit table's stream into the Object Lock bucket",
            layers=layers.all,
            environment={  # steward.settings.ArchiverSettings
                "STEWARD_STAGE": names.stage,
                "STEWARD_ACCOUNT": stack.account,
                "STEWARD_REGION": stack.region,
                "STEWARD_AUDIT_BUCKET": data.audit_bucket.bucket_name,
                "STEWARD_KMS_KEY_ID": data.key.key_arn,
                "STEWARD_AUDIT_LOCK_MODE": settings.audit_lock_mode,
                "STEWARD_AUDIT_RETENTION_DAYS": str(settings.audit_retention_days),
            },
            key=data.key,
            log_retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
            memory_mb=256,
            timeout=ARCHIVER_TIMEOUT,
            log_level=settings.log_level,
        )
        table = data.table(names.audit_table)
        self.function.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                max_batching_window=BATCH_WINDOW,
                bisect_batch_on_error=True,
                retry_attempts=RETRY_ATTEMPTS,
                report_batch_item_failures=True,
                on_failure=_QueueDestination(self.dead_letters),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
                            "dynamodb": {"Keys": {"sk": {"S": lambda_.FilterRule.not_equals(HEAD_SK)}}},
                        }
                    )
                ],
            )
        )
        self._grant(self.function.role, data)

    def _grant(self, role: iam.IRole, data: DataConstruct) -> None:
        """Create archive objects with their retention under the archive prefix; name a failed
        batch in the dead-letter queue; use the key only through S3 (SSE-KMS) and SQS. The stream
        reads (and the key's decrypt for them) are granted by the event source itself."""
        objects = data.audit_bucket.arn_for_objects(f"{AUDIT_ARCHIVE_PREFIX}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AuditArchiveWrite",
                actions=["s3:PutObject", "s3:PutObjectRetention"],
                resources=[objects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AuditDeadLetterSend",
                actions=["sqs:SendMessage"],
                resources=[self.dead_letters.queue_arn],
            )
        )
        region = Stack.of(self).region
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AuditArchiveKms",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[data.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in ("s3", "sqs")]}
                },
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(data.audit_bucket)}.Arn>/{AUDIT_ARCHIVE_PREFIX}*]",
            "Archive objects are created per tenant and day under the audit/ prefix only.",
        )
