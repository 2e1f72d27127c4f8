"""SageMaker adapter: request shape and error mapping, with botocore's Stubber (no network)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from steward.adapters.sagemaker_transport import SageMakerTransport
from steward.catalog.registry import Target
from steward.routing.transport import BackendRequest

TARGET = Target(
    kind="sagemaker", endpoint_name="steward-prod-inference", variant="blue", target_model="m.tar.gz"
)
REQUEST = BackendRequest(
    "credit-risk", "1", {"inputs": [{"name": "features", "shape": [1, 1], "datatype": "FP32", "data": [0.0]}]}
)


@pytest.fixture
def stubbed() -> Iterator[tuple[SageMakerTransport, Stubber]]:
    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stubber:
        yield SageMakerTransport(lambda: client), stubber


def test_invoke_endpoint_carries_model_in_body_and_variant(
    stubbed: tuple[SageMakerTransport, Stubber],
) -> None:
    transport, stubber = stubbed
    answer = b'{"outputs": []}'
    body = {**REQUEST.payload, "model_name": "credit-risk", "model_version": "1"}
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        {
            "EndpointName": "steward-prod-inference",
            "Body": json.dumps(body, separators=(",", ":")).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
            "TargetVariant": "blue",
            "TargetModel": "m.tar.gz",
        },
    )
    response = transport.send(TARGET, REQUEST, 5.0)
    assert (response.status, response.body) == (200, answer)


@pytest.mark.parametrize(
    ("code", "extra", "status"),
    [
        ("ModelError", {"OriginalStatusCode": 400}, 400),
        ("ServiceUnavailable", {}, 503),
        ("ThrottlingException", {}, 429),
        ("ValidationError", {}, 404),
    ],
)
def test_errors_map_to_statuses_without_text(
    stubbed: tuple[SageMakerTransport, Stubber], code: str, extra: dict[str, int], status: int
) -> None:
    transport, stubber = stubbed
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code=code,
        service_message="internal detail",
        modeled_fields=extra or None,
    )
    response = transport.send(TARGET, REQUEST, 5.0)
    assert (response.status, response.body) == (status, b"")
