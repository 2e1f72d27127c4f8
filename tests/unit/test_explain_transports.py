"""Backend transports carry the explain operation: an /explain path over HTTP, a custom attribute
on SageMaker (whose only route is /invocations)."""

from __future__ import annotations

import io
from dataclasses import replace

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from steward.adapters.sagemaker_transport import EXPLAIN_ATTRIBUTE, SageMakerTransport
from steward.catalog.registry import Target
from steward.routing.http_transport import infer_path
from steward.routing.transport import BackendRequest

REQUEST = BackendRequest("credit-risk", "1", {"inputs": []}, operation="explain")


def test_http_paths_name_the_operation_and_refuse_unknown_ones() -> None:
    assert infer_path("credit-risk", "1", "explain") == "/v2/models/credit-risk/versions/1/explain"
    assert infer_path("a/b", "", "infer") == "/v2/models/a%2Fb/infer"
    with pytest.raises(ValueError, match="unknown backend operation"):
        infer_path("m", "1", "delete")


def test_sagemaker_explain_sets_the_custom_attribute_and_inference_does_not() -> None:
    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    transport = SageMakerTransport(lambda: client)
    target = Target(kind="sagemaker", endpoint_name="ep")
    with Stubber(client) as stubber:
        for request, attributes in (
            (REQUEST, EXPLAIN_ATTRIBUTE),
            (replace(REQUEST, operation="infer"), None),
        ):
            expected = {"EndpointName": "ep", "Body": ANY, "ContentType": "application/json", "Accept": ANY}
            if attributes:
                expected["CustomAttributes"] = attributes
            stubber.add_response(
                "invoke_endpoint", {"Body": StreamingBody(io.BytesIO(b"{}"), 2)}, expected_params=expected
            )
            assert transport.send(target, request, 1.0).status == 200
        stubber.assert_no_pending_responses()
    assert EXPLAIN_ATTRIBUTE == "steward-operation=explain"  # what gpu_backend.server reads
