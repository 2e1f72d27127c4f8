"""Everything Steward stores: the CMK, DynamoDB tables, S3 buckets and the pepper secret.

Names and key schemas come from ``steward.resources.ResourceNames`` (never re-typed here), so the
local moto stack and AWS create the same resources. Every store is encrypted with one
customer-managed key: one key policy to audit and one place to revoke.

The audit bucket (`steward.audit.archive`) is versioned under S3 Object Lock with the stage's
mode and default retention, and is always retained: audit evidence must outlive the stack (and
CloudFormation could not empty it while objects are locked).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from steward.resources import ResourceNames, TableSpec

from cdk.nag import acknowledge
from cdk.settings import StageSettings


class DataConstruct(Construct):
    """The encrypted stores; other constructs get least-privilege grants on these objects."""

    def __init__(self, scope: Construct, construct_id: str, *, names: ResourceNames, settings: StageSettings):
        super().__init__(scope, construct_id)
        removal = settings.cdk_removal_policy
        self.names = names

        self.key = kms.Key(
            self,
            "Key",
            alias=names.kms_alias,
            description=f"Steward {names.stage}: data at rest (tables, buckets, logs, secret)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if removal == RemovalPolicy.RETAIN else RemovalPolicy.DESTROY,
            pending_window=Duration.days(7 if removal == RemovalPolicy.DESTROY else 30),
        )
        self._allow_cloudwatch_logs()

        self.tables: dict[str, dynamodb.Table] = {
            spec.name: self._table(spec, removal) for spec in names.tables
        }

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logging only delivers to SSE-S3 buckets, hence not the CMK here.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=removal,
        )
        self.artifacts_bucket = self._bucket("ArtifactsBucket", names.artifacts_bucket, removal)
        self.results_bucket = self._bucket("ResultsBucket", names.results_bucket, removal)
        # Batch API files: input files, chunks, per-chunk results, output and error files (each
        # sealed under its tenant by the application, `steward.batches.sealing`), expiring with
        # the files' retention.
        self.batch_bucket = self._bucket(
            "BatchBucket",
            names.batch_bucket,
            removal,
            expiration=Duration.days(settings.batch_file_retention_days),
        )
        self.audit_bucket = self._audit_bucket(names.audit_bucket, settings)

        self.pepper_secret = secretsmanager.Secret(
            self,
            "ApiKeyPepper",
            secret_name=names.pepper_secret,
            description="HMAC pepper for API key hashes; never logged, never returned",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN if removal == RemovalPolicy.RETAIN else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.pepper_secret,
            "AwsSolutions-SMG4",
            "Rotating the pepper invalidates every stored key hash; it is rotated by re-issuing keys "
            "under a new pepper version, a planned operation rather than a scheduled Lambda.",
        )

    def table(self, spec: TableSpec) -> dynamodb.Table:
        """The table created for ``spec`` (e.g. ``data.table(names.audit_table)``)."""
        return self.tables[spec.name]

    def _allow_cloudwatch_logs(self) -> None:
        """Let CloudWatch Logs use the key, but only for this account's log groups."""
        stack = Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def _table(self, spec: TableSpec, removal: RemovalPolicy) -> dynamodb.Table:
        string = dynamodb.AttributeType.STRING
        table = dynamodb.Table(
            self,
            _construct_id(spec.name, self.names.prefix),
            table_name=spec.name,
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=string),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=string) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
            deletion_protection=removal == RemovalPolicy.RETAIN,
            removal_policy=removal,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=string) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _bucket(
        self, construct_id: str, name: str, removal: RemovalPolicy, expiration: Duration | None = None
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # fewer KMS calls for the many small model/result objects
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{construct_id}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=expiration,
                    noncurrent_version_expiration=Duration.days(1 if expiration else 90),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
        )

    def _audit_bucket(self, name: str, settings: StageSettings) -> s3.Bucket:
        retention = Duration.days(settings.audit_retention_days)
        lock = (
            s3.ObjectLockRetention.compliance(retention)
            if settings.audit_lock_mode == "COMPLIANCE"
            else s3.ObjectLockRetention.governance(retention)
        )
        return s3.Bucket(
            self,
            "AuditBucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=lock,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="AuditBucket/",
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=RemovalPolicy.RETAIN,
        )


def _construct_id(table_name: str, prefix: str) -> str:
    """``steward-dev-api-keys`` -> ``ApiKeysTable`` (stable logical ids across stages)."""
    short = table_name.removeprefix(f"{prefix}-")
    return "".join(part.capitalize() for part in short.split("-")) + "Table"
