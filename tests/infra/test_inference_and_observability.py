"""InferenceEndpointConstruct and ObservabilityConstruct."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from steward.resources import ResourceNames

from cdk.inference import has_local_nvme
from cdk.settings import StageSettings

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def test_the_endpoint_serves_the_backend_image_with_models_from_the_artifacts_bucket(synth: Synth) -> None:
    # Given the dev stage with the inference endpoint enabled
    endpoint = next(iter(synth.resources("AWS::SageMaker::Endpoint").values()))["Properties"]
    config = next(iter(synth.resources("AWS::SageMaker::EndpointConfig").values()))["Properties"]
    model = next(iter(synth.resources("AWS::SageMaker::Model").values()))["Properties"]

    # Then the endpoint, its config and model are wired as the backend expects
    assert endpoint["EndpointName"] == f"{NAMES.prefix}-inference"
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.xlarge" and variant["InitialInstanceCount"] == 1
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    assert "DataCaptureConfig" not in config  # payload capture stays off (privacy)
    assert "KmsKeyId" not in config  # g5 has hardware-encrypted NVMe; SageMaker rejects a key
    assert model["EnableNetworkIsolation"] is True
    source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source["S3DataType"] == "S3Prefix" and source["CompressionType"] == "None"
    assert json.dumps(source["S3Uri"]).endswith('/models/"]]}')
    assert model["PrimaryContainer"]["Environment"]["STEWARD_MODEL_REPOSITORY"] == "/opt/ml/model"


def test_the_endpoint_scales_on_invocations_per_instance(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "MinCapacity": 1, "MaxCapacity": 2},
    )
    policy = next(iter(synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()))["Properties"]
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_the_execution_role_reads_only_the_models_prefix(synth: Synth) -> None:
    role_id = synth.logical_id(synth.stack.inference.role)  # type: ignore[union-attr]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3 = [s for s in statements if "s3:GetObject" in json.dumps(s["Action"])]
    assert len(s3) == 1 and json.dumps(s3[0]["Resource"]).endswith('/models/*"]]}')
    assert not any("s3:PutObject" in json.dumps(s["Action"]) for s in statements)


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [("ml.g5.xlarge", True), ("ml.g4dn.xlarge", True), ("ml.g6.2xlarge", True), ("ml.p3.2xlarge", False)],
)
def test_local_nvme_detection_decides_whether_a_volume_key_is_set(instance_type: str, expected: bool) -> None:
    assert has_local_nvme(instance_type) is expected


def test_without_inference_there_is_no_endpoint_and_no_invoke_permission(
    synth_without_inference: Synth,
) -> None:
    # Given a stage with deployInference=false
    synth = synth_without_inference
    # Then no SageMaker resources exist and nobody may invoke an endpoint
    for cfn_type in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"):
        synth.template.resource_count_is(cfn_type, 0)
    policies = json.dumps(synth.resources("AWS::IAM::Policy"))
    assert "sagemaker:InvokeEndpoint" not in policies


def test_alarms_notify_an_encrypted_topic(synth: Synth) -> None:
    # Given the alarms / Then the expected ones exist and all notify the CMK-encrypted topic
    topic_id = synth.logical_id(synth.stack.observability.topic)
    synth.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [synth.logical_id(synth.stack.data.key), "Arn"]}}
    )
    synth.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    alarms = synth.resources("AWS::CloudWatch::Alarm").values()
    metrics = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms}
    assert {
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
    } <= metrics
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_tenant_alarms_query_every_tenant_with_the_stage_thresholds(synth: Synth) -> None:
    # Given the dev stage's defaults
    defaults = StageSettings()
    alarms = {
        logical_id: resource["Properties"]
        for logical_id, resource in synth.resources("AWS::CloudWatch::Alarm").items()
        if "Tenant" in logical_id
    }
    schema = 'FROM SCHEMA("Steward/Tenants", Tenant, service) GROUP BY Tenant'
    expected = {
        "TenantRequestSpike": (f"SELECT SUM(Requests) {schema}", defaults.tenant_requests_alarm),
        "TenantRateLimited": (f"SELECT SUM(RateLimited) {schema}", defaults.tenant_rate_limited_alarm),
        "TenantBlockRate": (f"SELECT SUM(BlockedExcess) {schema}", defaults.tenant_block_excess_alarm),
    }
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}
    for name, (query, threshold) in expected.items():
        (props,) = [p for logical_id, p in alarms.items() if logical_id.startswith(f"Observability{name}")]
        # Then each is one Metrics Insights query over all tenants (one contributor per tenant)
        (metric,) = props["Metrics"]
        assert metric["Expression"] == f"{query} ORDER BY SUM() DESC LIMIT 100"
        assert metric["Period"] == 300 and metric["ReturnData"] is True
        assert props["Threshold"] == threshold
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic]
    # And the api function emits BlockedExcess against the share the block-rate alarm tolerates
    api = synth.resources("AWS::Lambda::Function")[synth.logical_id(synth.stack.api.api_function.function)]
    variables = api["Properties"]["Environment"]["Variables"]
    assert float(variables["STEWARD_TENANT_BLOCK_SHARE"]) == defaults.tenant_block_share_alarm
    # And the dashboard graphs the tenants with the most traffic, blocks and 429s
    body = json.dumps(next(iter(synth.resources("AWS::CloudWatch::Dashboard").values())))
    assert "SELECT AVG(Blocked)" in body and "LIMIT 10" in body
