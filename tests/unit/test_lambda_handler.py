"""A full Lambda invocation of the api function through Mangum with a REST (v1) proxy event."""

from __future__ import annotations

import base64
import json
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from steward.bootstrap import Api

from tests.fakes import FakeTransport, InMemoryAuditStore

from .conftest import PEPPER, load_event


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch, use_cases: Api) -> Any:
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", PEPPER.decode())
    from steward import bootstrap
    from steward.settings import ApiSettings

    monkeypatch.setattr(bootstrap, "api_settings", bootstrap.Lazy(ApiSettings))  # a fresh cold start
    import functions.api.handler as module

    module.app.state.api = lambda: use_cases  # the in-memory data plane instead of AWS
    return module


def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="steward-api",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:steward-api",
        aws_request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    )


def test_rest_proxy_event_returns_embeddings_and_audits_with_the_gateway_request_id(
    handler_module: Any, audit_store: InMemoryAuditStore
) -> None:
    # Given the API Gateway proxy event with the authorizer context
    event = load_event("api_gateway_rest_embeddings.json", API_KEY="unused-here")
    # When Lambda invokes the handler
    response = handler_module.handler(event, lambda_context())
    # Then the proxy response carries the embeddings and the correlation id
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert len(body["data"]) == 2 and len(body["data"][0]["embedding"]) == 384
    request_id = event["requestContext"]["requestId"]
    assert response["headers"]["x-request-id"] == request_id
    (record,) = audit_store.records
    assert (record["request_id"], record["tenant_id"], record["key_id"]) == (
        request_id,
        "acme",
        "k3y1d0000001",
    )


def test_event_without_authorizer_context_fails_closed(
    handler_module: Any, audit_store: InMemoryAuditStore
) -> None:
    event = load_event("api_gateway_rest_embeddings.json", API_KEY="x")
    del event["requestContext"]["authorizer"]
    response = handler_module.handler(event, lambda_context())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["code"] == "auth.invalid_key"
    assert audit_store.records[0]["tenant_id"] == "_unauthenticated"


def test_binary_tensor_extension_passes_through_lambda_as_base64(
    handler_module: Any, transport: FakeTransport
) -> None:
    # Given an OIP infer request in the binary extension, as API Gateway hands it over with the
    # binary media type */*: base64, and (like tritonclient) without a Content-Type
    text = b"hello world"
    tensor = struct.pack("<I", len(text)) + text
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": [1],
                    "parameters": {"binary_data_size": len(tensor)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    event = load_event("api_gateway_rest_embeddings.json", API_KEY="unused-here")
    path = "/v2/models/all-minilm-l6-v2/infer"
    extra = {"Inference-Header-Content-Length": str(len(header))}
    headers = {k: v for k, v in event["headers"].items() if k != "Content-Type"} | extra
    event.update(
        path=path,
        pathParameters={"proxy": path.lstrip("/")},
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        body=base64.b64encode(header + tensor).decode(),
        isBase64Encoded=True,
    )

    # When Lambda invokes the handler
    response = handler_module.handler(event, lambda_context())

    # Then the backend got the text, and the answer is binary, base64-encoded for API Gateway
    assert response["statusCode"] == 200, response["body"]
    assert transport.calls[0][1].payload["inputs"][0]["data"] == ["hello world"]
    assert response["isBase64Encoded"] is True
    assert response["headers"]["content-type"] == "application/octet-stream"
    body = base64.b64decode(response["body"])
    n = int(response["headers"]["inference-header-content-length"])
    output = json.loads(body[:n])["outputs"][0]
    assert output["parameters"]["binary_data_size"] == 384 * 4 == len(body) - n
    assert struct.unpack_from("<f", body, n)[0] == pytest.approx(1 / 384)
