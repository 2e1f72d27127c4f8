"""The GPU inference endpoint: the ``gpu_backend`` image on a SageMaker real-time endpoint.

SageMaker has no stable L2 constructs in aws-cdk-lib (only the alpha module), so this uses the
L1 ``CfnModel`` / ``CfnEndpointConfig`` / ``CfnEndpoint``. The image is a ``DockerImageAsset``
built from the repository root with ``gpu_backend/Dockerfile`` (so the Dockerfile may copy
``pyproject.toml``/``uv.lock``); at synth the asset is only staged, Docker runs at deploy time.
The model repository is the artifacts bucket's ``models/`` prefix, copied uncompressed to
``/opt/ml/model`` (the backend's default repository) when an instance starts.

A fresh endpoint never starts empty: the built repository (``modelRepository``, ``models/`` by
default) is verified against its manifests at synth (`steward.catalog.publish`) and shipped to the
prefix by a ``BucketDeployment`` the model depends on, so the endpoint is created only once the
files are there. Its digest is in the container's environment: a deploy that changes the
repository replaces the model and endpoint config, and SageMaker rolls the endpoint onto new
instances (blue/green), which load the new prefix. Versions added with ``steward models publish``
are served after the next roll (``-c steward:modelsRevision=<anything new>`` forces one). Nothing
is pruned: published versions stay.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Annotations, ArnFormat, DefaultStackSynthesizer, Duration, IgnoreMode, Size, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct
from steward.catalog.publish import MODELS_PREFIX, VersionDirectory, read_version_directory
from steward.resources import ResourceNames

from cdk.data import DataConstruct
from cdk.nag import acknowledge, logical_id
from cdk.paths import ALWAYS_EXCLUDED, GPU_BACKEND_DOCKERFILE, REPO_ROOT
from cdk.settings import StageSettings

VARIANT = "AllTraffic"
# Instance families with local NVMe storage: SageMaker encrypts it in hardware and rejects a
# KmsKeyId on their endpoint configs (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
# API_CreateEndpointConfig.html#sagemaker-CreateEndpointConfig-request-KmsKeyId).
LOCAL_NVME_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "m5d", "c5d", "r5d", "inf2")


def image_context(context_dir: Path, dockerfile: str) -> list[str]:
    """Exclude rules for the image asset: the Dockerfile's own `.dockerignore`, one list for both.

    BuildKit reads `<Dockerfile>.dockerignore` for a local `docker build`; CDK stages the same files
    (only what the image needs: no .venv, models, .git, build or benchmark code), plus the
    Dockerfile and that ignore file, which the deploy-time `docker build` in the staged copy reads.
    """
    rules = (context_dir / f"{dockerfile}.dockerignore").read_text().splitlines()
    kept = [rule.strip() for rule in rules if rule.strip() and not rule.lstrip().startswith("#")]
    return [*kept, f"!{dockerfile}", f"!{dockerfile}.dockerignore", *ALWAYS_EXCLUDED]


def endpoint_name(names: ResourceNames) -> str:
    """The endpoint's name, derived from the stage prefix (the api function gets it as env)."""
    return f"{names.prefix}-inference"


#: A context value that, when changed, rolls the endpoint (it reloads ``models/``).
REVISION_CONTEXT_KEY = "steward:modelsRevision"


def model_repository(root: Path) -> list[VersionDirectory]:
    """Every ``<name>/<version>/`` under ``root``, each verified against its manifest (sha256 and
    size of every artifact, safe names): a corrupt build fails the synth instead of the endpoint."""
    return [read_version_directory(manifest.parent) for manifest in sorted(root.glob("*/*/manifest.json"))]


def repository_digest(versions: list[VersionDirectory]) -> str:
    """One digest of what is shipped: each version's prefix and manifest (which lists the sha256
    of every artifact), so any changed byte changes it."""
    digest = hashlib.sha256()
    for version in versions:
        digest.update(version.prefix.encode() + b"\0" + hashlib.sha256(version.manifest_bytes).digest())
    return digest.hexdigest()


def has_local_nvme(instance_type: str) -> bool:
    return instance_type.removeprefix("ml.").split(".")[0] in LOCAL_NVME_FAMILIES


class InferenceEndpointConstruct(Construct):
    """Image asset, execution role, model, endpoint config, endpoint and its autoscaling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: StageSettings,
        data: DataConstruct,
        context_dir: Path = REPO_ROOT,
        dockerfile: str = GPU_BACKEND_DOCKERFILE,
    ):
        super().__init__(scope, construct_id)
        if not (context_dir / dockerfile).is_file():
            raise FileNotFoundError(
                f"{context_dir / dockerfile} is missing: build the backend image definition first, or "
                f"set deployInference=false for stage {names.stage!r}"
            )
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name(names)

        self.image = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(context_dir),
            file=dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,
            exclude=image_context(context_dir, dockerfile),
            ignore_mode=IgnoreMode.DOCKER,  # '*' then '!dir' re-includes, as in .dockerignore
        )

        self.log_group_name = f"/aws/sagemaker/Endpoints/{self.endpoint_name}"  # fixed by SageMaker
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=self.log_group_name,
            encryption_key=data.key,
            retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
        )
        self.role = self._execution_role(data)
        self.models_deployment, digest = self._ship_repository(settings, data)
        revision = self.node.try_get_context(REVISION_CONTEXT_KEY)

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,  # the container cannot call out: no exfiltration path
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image.image_uri,
                mode="SingleModel",
                model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=f"s3://{data.artifacts_bucket.bucket_name}/{MODELS_PREFIX}",
                        s3_data_type="S3Prefix",
                        compression_type="None",
                    )
                ),
                environment={
                    "STEWARD_MODEL_REPOSITORY": "/opt/ml/model",
                    "STEWARD_BACKEND_LOG_LEVEL": settings.log_level.lower(),
                    # Not read by the server: a new value replaces the model, rolling the endpoint.
                    "STEWARD_MODEL_REPOSITORY_DIGEST": digest,
                    **({"STEWARD_MODELS_REVISION": str(revision)} if revision else {}),
                },
            ),
        )
        self.model.node.add_dependency(self.role)
        if self.models_deployment is not None:
            self.model.node.add_dependency(self.models_deployment)

        local_nvme = has_local_nvme(settings.sagemaker_instance_type)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            # No DataCaptureConfig: capturing payloads would store raw (possibly personal) input.
            # Volumes use the CMK unless the instance has local NVMe (hardware-encrypted; SageMaker
            # then rejects a KmsKeyId), as ml.g5.* does.
            kms_key_id=None if local_nvme else data.key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=self.model.attr_model_name,
                    instance_type=settings.sagemaker_instance_type,
                    initial_instance_count=settings.initial_instance_count,
                    initial_variant_weight=1.0,
                    container_startup_health_check_timeout_in_seconds=settings.container_startup_timeout_s,
                    model_data_download_timeout_in_seconds=settings.model_download_timeout_s,
                )
            ],
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.endpoint.node.add_dependency(self.log_group)

        self.scaling = appscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=settings.min_instance_count,
            max_capacity=settings.max_instance_count,
            # The service-linked role (created on first use); no custom role to maintain.
            role=iam.Role.from_role_arn(
                self,
                "ScalingRole",
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                ),
            ),
        )
        self.scaling.node.add_dependency(self.endpoint)
        self.scaling.scale_to_track_metric(
            "InvocationsPerInstance",
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            target_value=settings.invocations_per_instance_target,
            scale_out_cooldown=Duration.minutes(3),
            scale_in_cooldown=Duration.minutes(10),  # GPU instances take minutes to come back
        )

    def _ship_repository(
        self, settings: StageSettings, data: DataConstruct
    ) -> tuple[s3deploy.BucketDeployment | None, str]:
        """The built repository into ``models/`` (verified first), and its digest ("" if none)."""
        if settings.model_repository is None:
            return None, ""
        root = REPO_ROOT / settings.model_repository  # an absolute setting replaces the root
        versions = model_repository(root) if root.is_dir() else []
        if not versions:
            Annotations.of(self).add_warning(
                f"no built models under {root}: the endpoint starts with an empty model repository "
                "until versions are published (run `make models` before deploying, or `steward "
                "models publish`, then roll the endpoint)"
            )
            return None, ""
        size = sum(a.size for v in versions for a in v.artifacts)
        log_group = logs.LogGroup(
            self,
            "ModelsDeploymentLogs",
            encryption_key=data.key,
            retention=settings.log_retention,
            removal_policy=settings.cdk_removal_policy,
        )
        deployment = s3deploy.BucketDeployment(
            self,
            "Models",
            sources=[
                s3deploy.Source.asset(
                    str(root), exclude=[".*", "**/.*", *ALWAYS_EXCLUDED], ignore_mode=IgnoreMode.GLOB
                )
            ],
            destination_bucket=data.artifacts_bucket,
            destination_key_prefix=MODELS_PREFIX,
            prune=False,  # versions published since stay; a version's files never change
            retain_on_delete=True,  # the bucket's removal policy decides what outlives the stack
            memory_limit=1024,
            # The zip and its unpacked files both sit in /tmp while the handler syncs them.
            ephemeral_storage_size=Size.mebibytes(min(10240, max(1024, 3 * size // (1 << 20) + 512))),
            log_group=log_group,
        )
        self._acknowledge_deployment_handler(data.artifacts_bucket)
        return deployment, repository_digest(versions)

    def _acknowledge_deployment_handler(self, bucket: s3.IBucket) -> None:
        """The BucketDeployment's handler is a stack-level singleton that CDK owns (its role,
        policy and runtime are not configurable): acknowledge exactly its findings, with reasons."""
        stack = Stack.of(self)
        handlers = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        for handler in handlers:
            acknowledge(
                handler,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's BucketDeployment handler role; the managed policy only lets it write its own logs.",
            )
            for finding in (
                *(f"Action::{a}" for a in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*")),
                *(f"Action::{a}" for a in ("s3:DeleteObject*", "kms:GenerateDataKey*", "kms:ReEncrypt*")),
                f"Resource::arn:<AWS::Partition>:s3:::cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-"
                "assets-<AWS::AccountId>-<AWS::Region>/*",
                f"Resource::<{logical_id(bucket)}.Arn>/*",
            ):
                acknowledge(
                    handler,
                    f"AwsSolutions-IAM5[{finding}]",
                    "CDK's BucketDeployment grants (not configurable): read its asset in the CDK "
                    "assets bucket, sync into the artifacts bucket with the stage key; limited to "
                    "those two buckets and that key.",
                )
            acknowledge(
                handler,
                "AwsSolutions-L1",
                "The BucketDeployment handler's runtime is pinned by the CDK version (it bundles the "
                "AWS CLI as a layer); it moves with aws-cdk-lib upgrades.",
            )

    def _execution_role(self, data: DataConstruct) -> iam.Role:
        """Pull the image, read ``models/`` from the artifacts bucket, write the endpoint's logs."""
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Steward inference endpoint (least privilege, no managed policies)",
        )
        self.image.repository.grant_pull(role)
        bucket = data.artifacts_bucket
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ModelRepositoryRead",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ModelRepositoryList",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{MODELS_PREFIX}*"]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ModelRepositoryDecrypt",
                actions=["kms:Decrypt"],
                resources=[data.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EndpointLogs",
                actions=[
                    "logs:CreateLogGroup",  # pre-created here; SageMaker still asks
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"{self.log_group_name}:log-stream:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    ),
                    self.log_group.log_group_arn,
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        for finding, reason in (
            (
                "Resource::*",
                "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource "
                "scoping; PutMetricData is limited to the /aws/sagemaker/* namespaces by condition.",
            ),
            (
                f"Resource::<{logical_id(bucket)}.Arn>/{MODELS_PREFIX}*",
                "Read-only access to the model repository prefix, whose objects change with each release.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                f"{self.log_group_name}:log-stream:*",
                "Log streams of the endpoint's own log group; SageMaker names a stream per instance.",
            ),
        ):
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return role
