"""One Steward Lambda function with its own role, log group and the shared runtime settings.

Each function gets a dedicated role with no managed policies: it may write to its own log group
and X-Ray, and everything else is granted explicitly by the construct that wires it up.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.layers import ARCHITECTURE, RUNTIME
from cdk.nag import acknowledge
from cdk.paths import ALWAYS_EXCLUDED, REPO_ROOT

# The asset is the `functions` package itself (not one function's folder), so handlers import
# `functions.<name>...` exactly as in tests; the domain and third-party code come from layers.
_FUNCTIONS_ONLY = ["*", ".*", "!functions", "!functions/**", *ALWAYS_EXCLUDED]


class StewardFunction(Construct):
    """A Python Lambda running ``functions/<name>/handler.py:handler`` behind Steward's layers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        service: str,
        description: str,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        memory_mb: int,
        timeout: Duration,
        log_level: str,
        reserved_concurrency: int | None = None,
    ):
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Steward {name} function (least privilege, no managed policies)",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"functions.{name}.handler.handler",
            code=lambda_.Code.from_asset(str(REPO_ROOT), exclude=_FUNCTIONS_ONLY),
            layers=layers,
            role=self.role,
            memory_size=memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[log_level.upper()],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": "Steward",
                "POWERTOOLS_LOG_LEVEL": log_level.upper(),
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",  # events carry prompts and keys
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # responses carry model output
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12: the dependency layer's wheels are built for cp312 and "
            "pyproject.toml requires Python < 3.13.",
        )
