"""The asynchronous path: the batch jobs queue, its dead-letter queue, the batch worker and the
expiry schedule.

``POST /v1/batches`` (api function) queues a plan job; the worker (SQS event source, batches of
ten, partial batch responses) plans, runs chunks and finalises (`steward.batches.worker`). A job
that fails ``maxReceiveCount`` times moves to the dead-letter queue, which alarms. Both queues are
encrypted with the stage key and refuse plain HTTP. The queue's visibility timeout is six times
the worker's timeout (AWS's advice for SQS event sources: a job the worker still holds is never
handed to a second worker by a retry of the event source's own). The worker's reserved
concurrency and the event source's maximum concurrency are the same cap, so batches never take
more of the backend, the tables or the account's concurrency than that.

Grants are what each function's code calls (`steward.adapters`), table by table and prefix by
prefix: the api function reads and writes files and batches and sends jobs; the worker also reads
chunks and writes results and output files, and consumes the queue.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_s3 import IBucketRef
from constructs import Construct
from steward.batches import signals
from steward.resources import JOBS_MAX_RECEIVES, OPEN_BATCHES_INDEX, ResourceNames, TableSpec

from cdk.data import DataConstruct
from cdk.function import StewardFunction
from cdk.grants import invoke_endpoint, tenant_data_keys
from cdk.layers import LayersConstruct
from cdk.nag import acknowledge, logical_id
from cdk.schedule_dead_letters import MAX_EVENT_AGE, RETRY_ATTEMPTS, ScheduleDeadLetters
from cdk.settings import StageSettings

SERVICE = "steward-batch-worker"
WORKER_TIMEOUT = Duration.minutes(5)
#: AWS: a queue feeding Lambda should have a visibility timeout of at least six times its timeout.
VISIBILITY_FACTOR = 6
SQS_BATCH_SIZE = 10
#: Jobs queue retention; the worker's idempotency records outlive it (`functions.batch_worker`).
JOBS_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)
#: An unprocessed job older than this alarms (the worker is stuck, throttled or failing).
OLDEST_JOB_ALARM_S = 3600
PERIOD = Duration.minutes(5)
#: How often the expiry sweep runs: a batch ends at most this long after its 24 h window.
SWEEP_INTERVAL = Duration.minutes(15)
#: Prefixes of the batch bucket (`steward.batches`): input and output files, chunks, results.
FILES, CHUNKS, RESULTS, INCOMING = "files/*", "chunks/*", "results/*", "incoming/*"


class BatchEventsConstruct(Construct):
    """Jobs queue + DLQ + batch worker + alarms; wires the api function to the Batch API."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: StageSettings,
        data: DataConstruct,
        layers: LayersConstruct,
        api_function: StewardFunction,
        api_environment: dict[str, str],
        inference_endpoint_name: str | None,
        alarm_topic: sns.ITopic,
    ):
        super().__init__(scope, construct_id)
        self._names, self._data = names, data
        self.dead_letter_queue = sqs.Queue(
            self,
            "JobsDeadLetterQueue",
            queue_name=names.jobs_dead_letter_queue,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This is the dead-letter queue of the batch jobs queue; jobs here are redriven by an operator.",
        )
        self.queue = sqs.Queue(
            self,
            "JobsQueue",
            queue_name=names.jobs_queue,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            data_key_reuse=Duration.minutes(5),  # fewer KMS calls per job: ids only, one key for all
            enforce_ssl=True,
            retention_period=JOBS_RETENTION,
            visibility_timeout=Duration.seconds(WORKER_TIMEOUT.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=JOBS_MAX_RECEIVES, queue=self.dead_letter_queue
            ),
        )

        batch_environment = {  # steward.settings.ApiSettings: the Batch API's part
            "STEWARD_BATCHES_TABLE": names.batches_table.name,
            "STEWARD_BATCH_BUCKET": data.batch_bucket.bucket_name,
            "STEWARD_JOBS_QUEUE_URL": self.queue.queue_url,
            "STEWARD_BATCH_CHUNK_LINES": str(settings.batch_chunk_lines),
        }
        for name, value in batch_environment.items():
            api_function.function.add_environment(name, value)
        self._grant_api(api_function.role)

        self.worker = StewardFunction(
            self,
            "WorkerFunction",
            name="batch_worker",
            service=SERVICE,
            description="Steward batch worker (SQS jobs: plan, chunk, finalise)",
            layers=layers.all,
            environment={  # steward.settings.WorkerSettings
                **api_environment,
                **batch_environment,
                "STEWARD_IDEMPOTENCY_TABLE": names.idempotency_table.name,
            },
            key=data.key,
            log_retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
            memory_mb=settings.batch_worker_memory_mb,
            timeout=WORKER_TIMEOUT,
            log_level=settings.log_level,
            reserved_concurrency=settings.batch_worker_concurrency,
        )
        self.worker.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=settings.batch_worker_concurrency,
            )
        )
        self._grant_worker(self.worker.role, inference_endpoint_name)

        # The S3 drop-in (`steward.batches.dropin`): a file written under incoming/<tenant>/ notifies
        # the jobs queue; the worker turns it into a sealed input file and a batch.
        data.batch_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            _JobsQueueDestination(self.queue, data, names.batch_bucket),
            s3.NotificationKeyFilter(prefix=INCOMING.rstrip("*")),
        )
        handler = Stack.of(self).node.try_find_child(
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
        )
        if handler is not None:
            acknowledge(
                handler,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's own handler that writes the bucket's notification configuration at deploy time; "
                "it only needs to write its logs.",
            )
            acknowledge(
                handler,
                "AwsSolutions-IAM5[Resource::*]",
                "CDK's bucket-notification handler: s3:PutBucketNotification is granted by CDK on the "
                "bucket it configures; the wildcard is CDK's, at deploy time only.",
            )

        # The expiry sweep: a job on the same queue (the worker reads the open-batches index and
        # queues one expire job per batch past its window). ``batch_id`` carries the event's time,
        # so each run is its own job for idempotency.
        self.missed_sweeps = ScheduleDeadLetters(self, "MissedSweeps", schedule="batch expiry sweep")
        self.sweep = events.Rule(
            self,
            "ExpirySweep",
            description="Queue the batch expiry sweep (batches past their 24 h window)",
            schedule=events.Schedule.rate(SWEEP_INTERVAL),
            targets=[
                targets.SqsQueue(
                    self.queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                    dead_letter_queue=self.missed_sweeps.queue,
                    message=events.RuleTargetInput.from_object(
                        {
                            "kind": "sweep",
                            "tenant_id": "-",
                            "batch_id": f"sweep_{events.EventField.time}",
                            "chunk": 0,
                        }
                    ),
                )
            ],
        )

        self.alarms = [
            self._alarm(
                "DeadLetterJobs",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                1,
                "Batch jobs failed every try and wait in the dead-letter queue (see the batch's failures)",
            ),
            self._alarm(
                "OldestJobAge",
                self.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                OLDEST_JOB_ALARM_S,
                "A batch job waited over an hour (the worker is failing, throttled or stuck)",
            ),
            self._alarm(
                "WorkerErrors",
                self.worker.function.metric_errors(period=PERIOD),
                1,
                "The batch worker failed whole invocations (not single jobs)",
            ),
        ]
        self.alarms.append(self.missed_sweeps.alarm)
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
            alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))

    def widgets(self) -> list[cloudwatch.IWidget]:
        """The dashboard row of the asynchronous half: the queue, the worker, what it answered."""

        def counted(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=signals.NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SERVICE},
                statistic="Sum",
                period=PERIOD,
            )

        return [
            cloudwatch.GraphWidget(
                title="Batch jobs: queued, oldest (s), dead letters",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
                    for queue in (self.queue, self.dead_letter_queue)
                ],
                right=[self.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Max")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Batch lines answered and refused; chunks handed back",
                left=[counted(signals.LINES_COMPLETED), counted(signals.LINES_FAILED)],
                right=[counted(signals.CHUNKS_DEFERRED)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Batches ended by status; worker errors and throttles",
                left=[counted(signals.ended_metric(s)) for s in signals.ENDED_STATUSES],
                right=[
                    self.worker.function.metric_errors(period=PERIOD),
                    self.worker.function.metric_throttles(period=PERIOD),
                ],
                width=8,
            ),
        ]

    # --- grants ----------------------------------------------------------------------------
    def _table(self, role: iam.IRole, sid: str, actions: list[str], spec: TableSpec) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=[f"dynamodb:{a}" for a in actions],
                resources=[self._data.table(spec).table_arn],
            )
        )

    def _objects(self, role: iam.IRole, sid: str, actions: list[str], prefixes: list[str]) -> None:
        bucket = self._data.batch_bucket
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid, actions=actions, resources=[bucket.arn_for_objects(prefix) for prefix in prefixes]
            )
        )
        bucket_id = logical_id(bucket)
        for prefix in prefixes:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}]",
                f"Batch objects are keyed per tenant and id under {prefix.rstrip('*')}; the grant "
                "covers that prefix only.",
            )

    def _kms(self, role: iam.IRole, sid: str, services: list[str]) -> None:
        region = Stack.of(self).region
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self._data.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}
                },
            )
        )

    def _grant_api(self, role: iam.IRole) -> None:
        """Files and batches of the caller's tenant, and the plan job (the api's other grants,
        sealing keys included, are `cdk.api`'s)."""
        names = self._names
        # steward.adapters.batch_store: Get/Put/Delete files, Put/Get/Update batches, list (Query).
        self._table(
            role,
            "BatchRecords",
            ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
            names.batches_table,
        )
        self._objects(role, "BatchFiles", ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], [FILES])
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchJobsSend", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
            )
        )
        self._kms(role, "BatchStoresKms", ["s3", "sqs"])

    def _grant_worker(self, role: iam.IRole, endpoint_name: str | None) -> None:
        """Every line runs the governed path (registry, policies, limits, controls, audit,
        fairness, backend) under the batch's key (re-read), over the batch's objects and jobs."""
        names, data = self._names, self._data
        self._table(role, "RegistryRead", ["Query", "Scan"], names.models_table)
        self._table(role, "PolicyRead", ["Query"], names.policies_table)
        self._table(role, "AuditWrite", ["GetItem", "PutItem"], names.audit_table)
        self._table(
            role, "FairnessCounters", ["GetItem", "PutItem", "UpdateItem", "DeleteItem"], names.fairness_table
        )
        self._table(role, "LimitCounters", ["GetItem", "UpdateItem"], names.limits_table)
        self._table(role, "ControlRead", ["GetItem", "Query"], names.control_table)
        self._table(role, "KeyRecheck", ["GetItem"], names.api_keys_table)
        # A line's usage-policy flags go to the review queue as a request's do
        # (steward.review.service.ReviewService.flagged): marks read in batches, an item created
        # with its texts and marks (a transaction of Puts). Reviewing is the api's and the CLI's.
        self._table(role, "ReviewQueueFlags", ["BatchGetItem", "PutItem"], names.reviews_table)
        self._table(role, "BatchRecords", ["GetItem", "PutItem", "UpdateItem"], names.batches_table)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="OpenBatchesIndex",  # the expiry sweep (steward.adapters.batch_store.due_batches)
                actions=["dynamodb:Query"],
                resources=[f"{data.table(names.batches_table).table_arn}/index/{OPEN_BATCHES_INDEX}"],
            )
        )
        self._table(
            role, "Idempotency", ["GetItem", "PutItem", "UpdateItem", "DeleteItem"], names.idempotency_table
        )
        self._objects(role, "BatchObjectsRead", ["s3:GetObject"], [FILES, CHUNKS, RESULTS])
        # Drop-ins: read the dropped object, then remove it (its bytes live on sealed in files/).
        self._objects(role, "DropInConsume", ["s3:GetObject", "s3:DeleteObject"], [INCOMING])
        self._objects(role, "BatchObjectsWrite", ["s3:PutObject"], [FILES, CHUNKS, RESULTS])
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchJobsSend", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PepperRead",  # audit MAC keys, the ``hash`` operator, fairness group tokens
                actions=["secretsmanager:GetSecretValue"],
                resources=[data.pepper_secret.secret_arn],
            )
        )
        self._kms(role, "StoresKms", ["dynamodb", "secretsmanager", "s3", "sqs"])
        # Batch objects and the privacy ``encrypt`` operator: data keys per tenant.
        role.add_to_principal_policy(tenant_data_keys("SealingKeys", data.key))
        if endpoint_name:
            role.add_to_principal_policy(invoke_endpoint(self, endpoint_name))

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )


@jsii.implements(s3.IBucketNotificationDestination)
class _JobsQueueDestination:
    """The jobs queue as the batch bucket's notification target. CDK's ``SqsDestination`` names
    the bucket by its ARN token in the key policy, and the bucket is encrypted with that key: a
    circular dependency. Here S3 is allowed by the bucket's name, which `ResourceNames` fixes."""

    def __init__(self, queue: sqs.Queue, data: DataConstruct, bucket_name: str) -> None:
        self._queue, self._data, self._bucket_name = queue, data, bucket_name

    def bind(self, scope: Construct, bucket: IBucketRef) -> s3.BucketNotificationDestinationConfig:
        stack = Stack.of(scope)
        conditions = {
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:s3:::{self._bucket_name}"},
            "StringEquals": {"aws:SourceAccount": stack.account},
        }
        s3_principal = iam.ServicePrincipal("s3.amazonaws.com")
        result = self._queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3DropInNotifications",
                principals=[s3_principal],
                actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                resources=[self._queue.queue_arn],
                conditions=conditions,
            )
        )
        self._data.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3DropInNotificationsKms",
                principals=[s3_principal],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=conditions,
            )
        )
        dependencies = [result.policy_dependable] if result.policy_dependable is not None else []
        return s3.BucketNotificationDestinationConfig(
            arn=self._queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=dependencies,
        )
