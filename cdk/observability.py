"""Dashboard and alarms for the request path, the inference endpoint and each tenant's traffic.

Alarms notify one CMK-encrypted SNS topic (subscribe an email per stage via ``alarmEmail``).
Thresholds favour paging on user-visible failure: any gateway 5xx burst, p99 latency, any
authorizer error (it fails closed, so errors are refused calls), and endpoint invocation errors.

Tenant alarms (`steward.tenant_signals`) watch abuse and misuse per tenant: a request spike, a
burst of 429s, and a block rate above the tolerated share. Tenants are created at run time, so
no alarm can name one at deploy time: each is a Metrics Insights query grouped by tenant, which
CloudWatch evaluates per returned series (one contributor per tenant, named in the alarm's state
reason). Static thresholds, not anomaly detection: a detector models one series, not a query's
changing set of tenants.
The audit archive pages before a record could be lost: the stream keeps records 24 hours, so an
archiver that lags (iterator age), fails, or gives a batch up (dead-letter queue) alarms at once.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from steward import tenant_signals as signals

from cdk.inference import VARIANT
from cdk.settings import TenantAlarmThresholds

PERIOD = Duration.minutes(5)
#: Contributors a Metrics Insights alarm keeps in ALARM (CloudWatch's cap is 100); the query
#: returns the tenants with the highest values first.
TOP_TENANTS = 100


def tenant_query(function: str, metric: str, *, limit: int = TOP_TENANTS) -> str:
    """Metrics Insights: ``function(metric)`` per tenant, highest first (`steward.tenant_signals`)."""
    schema = f'SCHEMA("{signals.NAMESPACE}", {signals.TENANT_DIMENSION}, {signals.SERVICE_DIMENSION})'
    return (
        f"SELECT {function}({metric}) FROM {schema} GROUP BY {signals.TENANT_DIMENSION} "  # noqa: S608 (constants)
        f"ORDER BY {function}() DESC LIMIT {limit}"
    )


def tenant_metric(function: str, metric: str, *, limit: int = TOP_TENANTS) -> cloudwatch.MathExpression:
    """No label: CloudWatch names each series of the result by its tenant."""
    return cloudwatch.MathExpression(expression=tenant_query(function, metric, limit=limit), period=PERIOD)


#: The archiver's lag that pages (the stream keeps records for 24 h; it normally lags seconds).
ARCHIVE_LAG_ALARM = Duration.minutes(15)


class ObservabilityConstruct(Construct):
    """Alarm topic, alarms and a one-page dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        key: kms.IKey,
        rest_api: apigw.RestApi,
        api_function: lambda_.IFunction,
        authorizer_function: lambda_.IFunction,
        endpoint_name: str | None,
        alarm_email: str | None,
        p99_latency_ms: int,
        tenant_alarms: TenantAlarmThresholds,
        audit_archiver: lambda_.IFunction | None = None,
        audit_dead_letters: sqs.IQueue | None = None,
    ):
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Alarms", display_name=f"{prefix} alarms", master_key=key, enforce_ssl=True
        )
        # CloudWatch publishes to the encrypted topic, so it needs the key (this account's alarms only).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        api_5xx = rest_api.metric_server_error(period=PERIOD, statistic="Sum")
        api_4xx = rest_api.metric_client_error(period=PERIOD, statistic="Sum")
        api_p99 = rest_api.metric_latency(period=PERIOD, statistic="p99")
        self.alarms: list[cloudwatch.Alarm] = [
            self._alarm("Api5xx", api_5xx, 5, "API Gateway returned 5xx responses"),
            self._alarm("ApiP99Latency", api_p99, p99_latency_ms, "API p99 latency above target", periods=3),
            self._alarm(
                "AuthorizerErrors",
                authorizer_function.metric_errors(period=PERIOD),
                1,
                "The authorizer failed (callers were refused)",
            ),
            self._alarm(
                "ApiFunctionErrors",
                api_function.metric_errors(period=PERIOD),
                5,
                "The api function raised unhandled errors",
            ),
            self._alarm(
                "ApiFunctionThrottles",
                api_function.metric_throttles(period=PERIOD),
                1,
                "The api function was throttled (concurrency limit)",
            ),
        ]
        self.alarms += self._tenant_alarms(tenant_alarms)
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api_4xx, api_5xx],
                right=[rest_api.metric_count(period=PERIOD)],
                width=12,
            ),
            cloudwatch.GraphWidget(title="API latency p99 (ms)", left=[api_p99], width=12),
            cloudwatch.GraphWidget(
                title="Functions: errors, throttles",
                left=[
                    api_function.metric_errors(period=PERIOD),
                    authorizer_function.metric_errors(period=PERIOD),
                    api_function.metric_throttles(period=PERIOD),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p99 (ms)",
                left=[
                    api_function.metric_duration(period=PERIOD, statistic="p99"),
                    authorizer_function.metric_duration(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        ]
        widgets += [
            cloudwatch.GraphWidget(
                title="Requests per tenant (top 10)",
                left=[tenant_metric("SUM", signals.REQUESTS, limit=10)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Block rate per tenant (top 10)",
                left=[tenant_metric("AVG", signals.BLOCKED, limit=10)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="429s of the plan per tenant (top 10)",
                left=[tenant_metric("SUM", signals.RATE_LIMITED, limit=10)],
                width=8,
            ),
        ]
        if endpoint_name:
            errors = self._endpoint_metric(endpoint_name, "Invocation5XXErrors", "Sum")
            model_latency = self._endpoint_metric(endpoint_name, "ModelLatency", "p99")
            invocations = self._endpoint_metric(endpoint_name, "InvocationsPerInstance", "Sum")
            self.alarms.append(
                self._alarm("EndpointErrors", errors, 1, "The inference endpoint returned 5xx")
            )
            widgets += [
                cloudwatch.GraphWidget(
                    title="Endpoint 5xx and invocations per instance",
                    left=[errors],
                    right=[invocations],
                    width=9,
                ),
                cloudwatch.GraphWidget(
                    title="Endpoint model latency p99 (us)", left=[model_latency], width=9
                ),
            ]
        if audit_archiver is not None and audit_dead_letters is not None:
            widgets.append(self._watch_archive(audit_archiver, audit_dead_letters))
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-overview")
        self.dashboard.add_widgets(*widgets)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)
        )

    def _tenant_alarms(self, thresholds: TenantAlarmThresholds) -> list[cloudwatch.Alarm]:
        share = f"{thresholds.block_share:.0%}"
        return [
            self._alarm(
                "TenantRequestSpike",
                tenant_metric("SUM", signals.REQUESTS),
                thresholds.requests,
                f"A tenant sent at least {thresholds.requests} requests in 5 minutes",
            ),
            self._alarm(
                "TenantRateLimited",
                tenant_metric("SUM", signals.RATE_LIMITED),
                thresholds.rate_limited,
                f"A tenant's plan refused it (429) at least {thresholds.rate_limited} times in 5 minutes",
            ),
            self._alarm(
                "TenantBlockRate",
                tenant_metric("SUM", signals.BLOCKED_EXCESS),
                thresholds.block_excess,
                f"Guardrails blocked more than {share} of a tenant's requests in 5 minutes, "
                f"{thresholds.block_excess} or more beyond that share (BlockedExcess)",
            ),
        ]

    def _watch_archive(self, archiver: lambda_.IFunction, dead_letters: sqs.IQueue) -> cloudwatch.IWidget:
        lag = archiver.metric("IteratorAge", period=PERIOD, statistic="Maximum")
        given_up = dead_letters.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        errors = archiver.metric_errors(period=PERIOD)
        self.alarms += [
            self._alarm(
                "AuditArchiveLag",
                lag,
                ARCHIVE_LAG_ALARM.to_milliseconds(),
                "The audit archiver lags its stream (records are lost after 24 h)",
            ),
            self._alarm(
                "AuditArchiveDeadLetters",
                given_up,
                1,
                "Audit records were not archived: copy them with `steward audit archive` within 24 h",
            ),
            self._alarm("AuditArchiverErrors", errors, 1, "The audit archiver failed a batch (it retries)"),
        ]
        return cloudwatch.GraphWidget(
            title="Audit archive: iterator age (ms), errors, dead letters",
            left=[lag],
            right=[errors, given_up],
            width=12,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )

    @staticmethod
    def _endpoint_metric(endpoint_name: str, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT},
            period=PERIOD,
            statistic=statistic,
        )
