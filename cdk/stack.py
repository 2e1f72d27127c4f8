"""StewardStack: composes the constructs; no resources are defined here."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct
from steward.resources import ResourceNames

from cdk.api import ApiConstruct
from cdk.audit_archive import AuditArchiveConstruct
from cdk.data import DataConstruct
from cdk.events import BatchEventsConstruct
from cdk.inference import InferenceEndpointConstruct
from cdk.layers import LayersConstruct
from cdk.observability import ObservabilityConstruct
from cdk.reports import FairnessReportsConstruct
from cdk.settings import StageSettings
from cdk.waf import WafConstruct


class StewardStack(Stack):
    """One stage of Steward: data, layers, inference endpoint, API + WAF, the audit archive,
    observability, batch events, fairness reports."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "steward")
        Tags.of(self).add("stage", settings.stage)
        self.settings = settings
        self.names = ResourceNames(stage=settings.stage, account=self.account, region=self.region)

        self.data = DataConstruct(self, "Data", names=self.names, settings=settings)
        self.layers = LayersConstruct(self, "Layers", removal_policy=settings.cdk_removal_policy)
        self.inference = (
            InferenceEndpointConstruct(self, "Inference", names=self.names, settings=settings, data=self.data)
            if settings.deploy_inference
            else None
        )
        endpoint_name = self.inference.endpoint_name if self.inference else None
        self.api = ApiConstruct(
            self,
            "Api",
            names=self.names,
            settings=settings,
            data=self.data,
            layers=self.layers,
            inference_endpoint_name=endpoint_name,
        )
        self.waf = WafConstruct(
            self,
            "Waf",
            prefix=self.names.prefix,
            stage_arn=self.api.stage_arn,
            rate_limit_per_5min=settings.waf_rate_limit,
            key=self.data.key,
            log_retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
        )
        self.audit_archive = AuditArchiveConstruct(
            self, "AuditArchive", names=self.names, settings=settings, data=self.data, layers=self.layers
        )
        self.observability = ObservabilityConstruct(
            self,
            "Observability",
            prefix=self.names.prefix,
            key=self.data.key,
            rest_api=self.api.rest_api,
            api_function=self.api.api_function.function,
            authorizer_function=self.api.authorizer_function.function,
            endpoint_name=endpoint_name,
            alarm_email=settings.alarm_email,
            p99_latency_ms=settings.api_p99_latency_ms,
            tenant_alarms=settings.tenant_alarms,
            audit_archiver=self.audit_archive.function.function,
            audit_dead_letters=self.audit_archive.dead_letters,
        )
        self.events = BatchEventsConstruct(
            self,
            "Events",
            names=self.names,
            settings=settings,
            data=self.data,
            layers=self.layers,
            api_function=self.api.api_function,
            api_environment=self.api.environment,
            inference_endpoint_name=endpoint_name,
            alarm_topic=self.observability.topic,
        )
        self.observability.dashboard.add_widgets(*self.events.widgets())
        self.fairness_reports = FairnessReportsConstruct(
            self,
            "FairnessReports",
            names=self.names,
            settings=settings,
            data=self.data,
            layers=self.layers,
            alarm_topic=self.observability.topic,
        )
        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="Base URL of the Steward API")
        CfnOutput(
            self,
            "ArtifactsBucket",
            value=self.data.artifacts_bucket.bucket_name,
            description="Model repository: sync models/<name>/<version>/ here",
        )
        if endpoint_name:
            CfnOutput(
                self,
                "InferenceEndpoint",
                value=endpoint_name,
                description="SageMaker endpoint for registry targets of kind 'sagemaker'",
            )
