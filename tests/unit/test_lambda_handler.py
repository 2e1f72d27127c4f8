"""A full Lambda invocation of the api function through Mangum with a REST (v1) proxy event."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from steward.gateway import Gateway
from steward.testing import InMemoryAuditStore

from .conftest import PEPPER, load_event


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch, gateway: Gateway) -> Any:
    monkeypatch.setenv("STEWARD_STAGE", "test")
    monkeypatch.setenv("STEWARD_PEPPER", PEPPER.decode())
    from steward.settings import get_settings

    get_settings.cache_clear()
    import functions.api.handler as module

    module.app.state.gateway = lambda: gateway  # the in-memory data plane instead of AWS
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
