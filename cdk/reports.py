"""Scheduled fairness reports: an EventBridge rule runs the report function, which writes JSON and
HTML reports to the results bucket (SSE-KMS under the stage key), emits CloudWatch metrics
(namespace ``Steward``, dimensions model/version) and the fleet-wide minimum demographic parity
ratio, on which an alarm notifies the stage's alarm topic; likewise the fleet-wide count of
model quality threshold breaches (``QualityThresholdBreaches``, `steward.quality.report`).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct
from steward.resources import ResourceNames

from cdk.data import DataConstruct
from cdk.function import StewardFunction
from cdk.layers import LayersConstruct
from cdk.nag import acknowledge, logical_id
from cdk.schedule_dead_letters import MAX_EVENT_AGE, RETRY_ATTEMPTS, ScheduleDeadLetters
from cdk.settings import StageSettings

SERVICE = "steward-fairness-report"  # also the metrics' "service" dimension (Powertools)
NAMESPACE = "Steward"
MIN_DP_RATIO_METRIC = "MinDemographicParityRatio"
QUALITY_BREACHES_METRIC = "QualityThresholdBreaches"
REPORT_PREFIX = "reports/fairness"
DRIFT_PREFIX = "reports/drift"
#: Fleet-wide drift maxima (only periods with enough rows, `steward.quality.drift_monitor.MIN_SAMPLES`).
MAX_SHARE_DRIFTED_METRIC = "MaxShareDriftedFeatures"
MAX_PREDICTION_PSI_METRIC = "MaxPredictionPSI"
SHARE_DRIFTED_ALARM = 0.5  # more than half of the input features drifted (PSI > 0.2 or JS > 0.1)
PREDICTION_PSI_ALARM = 0.2  # the customary "significant shift" level of PSI
REPORT_TIMEOUT = Duration.minutes(5)


class FairnessReportsConstruct(Construct):
    """Report function + schedule + threshold alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: StageSettings,
        data: DataConstruct,
        layers: LayersConstruct,
        alarm_topic: sns.ITopic,
    ):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function = StewardFunction(
            self,
            "ReportFunction",
            name="fairness_report",
            service=SERVICE,
            description="Steward fairness reports from aggregate counters (scheduled)",
            layers=layers.all,
            environment={
                "STEWARD_STAGE": names.stage,
                "STEWARD_ACCOUNT": stack.account,
                "STEWARD_REGION": stack.region,
                "STEWARD_MODELS_TABLE": names.models_table.name,
                "STEWARD_FAIRNESS_TABLE": names.fairness_table.name,
                "STEWARD_RESULTS_BUCKET": data.results_bucket.bucket_name,
                "STEWARD_KMS_KEY_ID": data.key.key_arn,
                "STEWARD_FAIRNESS_LOOKBACK_DAYS": str(settings.fairness_lookback_days),
                "STEWARD_FAIRNESS_DP_RATIO_THRESHOLD": str(settings.fairness_dp_ratio_alarm),
            },
            key=data.key,
            log_retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
            memory_mb=512,
            timeout=REPORT_TIMEOUT,
            log_level=settings.log_level,
            reserved_concurrency=1,  # one run at a time; overlapping runs would only repeat work
        )
        self._grant(self.function.role, names, data)

        self.missed = ScheduleDeadLetters(self, "MissedRuns", schedule="fairness report")
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Run the Steward fairness report",
            schedule=events.Schedule.rate(Duration.hours(settings.fairness_report_interval_hours)),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                    dead_letter_queue=self.missed.queue,
                )
            ],
        )

        self.min_dp_ratio = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=MIN_DP_RATIO_METRIC,
            dimensions_map={"service": SERVICE},
            statistic="Minimum",
            period=Duration.hours(settings.fairness_report_interval_hours),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DemographicParityAlarm",
            metric=self.min_dp_ratio,
            threshold=settings.fairness_dp_ratio_alarm,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"A model version's demographic parity ratio fell below {settings.fairness_dp_ratio_alarm} "
                f"(see s3://{names.results_bucket}/{REPORT_PREFIX}/ and the DemographicParityRatio "
                "metric per model/version)"
            ),
        )
        self.quality_alarm = self._quality_alarm(names, settings)
        self.drift_alarm = self._drift_alarm(settings, names)
        for alarm in (self.alarm, self.quality_alarm, self.drift_alarm, self.missed.alarm):
            alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
            alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))

    def _quality_alarm(self, names: ResourceNames, settings: StageSettings) -> cloudwatch.Alarm:
        """Any model version's accuracy, F1 or ROC AUC below its threshold (with enough labels)."""
        self.quality_breaches = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=QUALITY_BREACHES_METRIC,
            dimensions_map={"service": SERVICE},
            statistic="Maximum",
            period=Duration.hours(settings.fairness_report_interval_hours),
        )
        return cloudwatch.Alarm(
            self,
            "QualityThresholdAlarm",
            metric=self.quality_breaches,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                "A model version's accuracy, F1 or ROC AUC fell below its quality threshold (see the "
                f"quality section of s3://{names.results_bucket}/{REPORT_PREFIX}/ and the Accuracy, F1 "
                "and RocAuc metrics per tenant/model/version)"
            ),
        )

    def _drift_alarm(self, settings: StageSettings, names: ResourceNames) -> cloudwatch.Alarm:
        """Drift of any tenant's traffic to any model version: more than half the input features
        drifted, or the prediction's PSI above 0.2 (one metric-math alarm over the fleet maxima)."""
        period = Duration.hours(settings.fairness_report_interval_hours)
        share, psi = (
            cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SERVICE},
                statistic="Maximum",
                period=period,
            )
            for name in (MAX_SHARE_DRIFTED_METRIC, MAX_PREDICTION_PSI_METRIC)
        )
        breach = cloudwatch.MathExpression(
            expression=f"IF(share > {SHARE_DRIFTED_ALARM} OR psi > {PREDICTION_PSI_ALARM}, 1, 0)",
            using_metrics={"share": share, "psi": psi},
            period=period,
            label="DriftBreach",
        )
        return cloudwatch.Alarm(
            self,
            "DriftAlarm",
            metric=breach,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"A model version's inputs drifted (share of drifted features > {SHARE_DRIFTED_ALARM}) or "
                f"its predictions did (PSI > {PREDICTION_PSI_ALARM}) over at least 100 rows (see "
                f"s3://{names.results_bucket}/{DRIFT_PREFIX}/ and ShareDriftedFeatures / PredictionPSI)"
            ),
        )

    def _grant(self, role: iam.IRole, names: ResourceNames, data: DataConstruct) -> None:
        """Read the registry and counters, write report summaries and report objects: nothing else
        (the registry is only listed, `DynamoRegistryStore.list_models`)."""
        models = data.table(names.models_table)
        fairness = data.table(names.fairness_table)
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="RegistryRead", actions=["dynamodb:Scan"], resources=[models.table_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="FairnessCountersReadSummaryWrite",
                actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[fairness.table_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReportsWrite",
                actions=["s3:PutObject"],
                resources=[
                    data.results_bucket.arn_for_objects(f"{REPORT_PREFIX}/*"),
                    data.results_bucket.arn_for_objects(f"{DRIFT_PREFIX}/*"),
                ],
            )
        )
        region = Stack.of(self).region
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReportsKms",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"s3.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"]
                    }
                },
            )
        )
        bucket_id = logical_id(data.results_bucket)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{REPORT_PREFIX}/*]",
            "Report objects are written per model/version/window under the reports/fairness/ prefix only.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{DRIFT_PREFIX}/*]",
            "Drift reports are written per tenant/model/version/window under the reports/drift/ prefix only.",
        )
