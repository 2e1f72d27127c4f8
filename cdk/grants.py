"""IAM statements more than one function's role needs, written once.

Both the api function and the batch worker seal per-tenant data (the privacy ``encrypt`` operator,
batch objects) and call the inference endpoint; their roles must get exactly the same rights.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct
from steward.adapters.kms_encryptor import TENANT_CONTEXT_KEY  # what every per-tenant data key carries


def tenant_data_keys(sid: str, key: kms.IKey) -> iam.PolicyStatement:
    """Data keys from ``key`` only under a tenant encryption context (called directly, so no
    ``kms:ViaService`` condition)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["kms:GenerateDataKey", "kms:Decrypt"],
        resources=[key.key_arn],
        conditions={
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": [TENANT_CONTEXT_KEY]},
            "Null": {"kms:EncryptionContextKeys": "false"},
        },
    )


def invoke_endpoint(scope: Construct, endpoint_name: str) -> iam.PolicyStatement:
    """``sagemaker:InvokeEndpoint`` on the one inference endpoint of the stage."""
    return iam.PolicyStatement(
        sid="InvokeInferenceEndpoint",
        actions=["sagemaker:InvokeEndpoint"],
        resources=[
            Stack.of(scope).format_arn(
                service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower()
            )
        ],
    )
