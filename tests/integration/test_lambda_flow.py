"""The deployed request path end to end in-process: authorizer Lambda -> api Lambda (Mangum) ->
HTTP backend, with keys, registry and audit in DynamoDB (moto server)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import openai
import pytest
from starlette.testclient import TestClient
from steward import admin, bootstrap
from steward.resources import ResourceNames
from steward.settings import AdminSettings, ApiSettings, AuthorizerSettings

from tests.fakes import complete_card

from .conftest import REGION, FakeBackend

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parent.parent / "events"
CONTEXT = SimpleNamespace(
    function_name="f",
    memory_limit_in_mb=512,
    aws_request_id="lambda-req",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
)


def event(name: str, token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text().replace("{{API_KEY}}", token))
    return data


@pytest.fixture
def lambdas(
    names: ResourceNames, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any, str]:
    monkeypatch.setenv("STEWARD_BACKEND_URL", backend.url)
    # fresh cold starts: each function reads this environment again
    monkeypatch.setattr(bootstrap, "api_settings", bootstrap.Lazy(ApiSettings))
    monkeypatch.setattr(bootstrap, "authorizer_settings", bootstrap.Lazy(AuthorizerSettings))
    settings = AdminSettings()
    admin.register_model(
        "all-minilm-l6-v2",
        "1",
        target={"kind": "http"},
        approval="approved",
        task="sentence-embedding",
        artifact_digest="sha256:" + "cd" * 32,
        card=complete_card(),
        settings=settings,
    )
    token, _ = admin.create_api_key("flow-tenant", models=["all-minilm-l6-v2"], settings=settings)
    import functions.api.handler as api
    import functions.authorizer.handler as authorizer

    authorizer = importlib.reload(authorizer)  # fresh cold starts with this environment
    api = importlib.reload(api)
    yield authorizer, api, token


def test_authorizer_context_drives_the_api_lambda_and_the_audit_lands_in_dynamodb(
    lambdas: tuple[Any, Any, str], names: ResourceNames, backend: FakeBackend
) -> None:
    authorizer, api, token = lambdas
    # Given API Gateway called the authorizer with the request's headers
    auth = authorizer.handler(event("authorizer_request.json", token), CONTEXT)
    assert auth["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    # When it invokes the api function with the proxy event carrying that context
    proxy = event("api_gateway_rest_embeddings.json", token)
    proxy["requestContext"]["authorizer"] = {**auth["context"], "principalId": auth["principalId"]}
    response = api.handler(proxy, CONTEXT)
    # Then the embeddings come back from the HTTP backend
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert len(body["data"]) == 2 and body["data"][0]["embedding"][0] == 0.5
    assert backend.requests[0][0] == "/v2/models/all-minilm-l6-v2/versions/1/infer"
    # And exactly one audit record, keyed by the API Gateway request id, sits in the tenant's partition
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=names.audit_table.name,
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": "flow-tenant"}},
    )["Items"]
    items = [item for item in items if "request_id" in item]  # the tenant's chain head is not a record
    assert len(items) == 1
    assert items[0]["request_id"]["S"] == proxy["requestContext"]["requestId"]
    assert items[0]["artifact_digest"]["S"] == "sha256:" + "cd" * 32
    assert "quick brown fox" not in json.dumps(items)


def test_openai_client_through_the_local_gateway_emulation(lambdas: tuple[Any, Any, str]) -> None:
    _authorizer, api, token = lambdas
    from scripts.local.api_gateway import with_authorizer
    from scripts.local.app import authorize

    app = with_authorizer(api.app, authorize)
    http = TestClient(app, base_url="http://gateway")  # an httpx.Client over the ASGI app
    client = openai.OpenAI(api_key=token, base_url="http://gateway/v1", http_client=http, max_retries=0)
    result = client.embeddings.create(model="all-minilm-l6-v2", input="hello")
    assert len(result.data[0].embedding) == 384
    audit = http.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).json()
    assert audit["data"][0]["route"] == "POST /v1/embeddings"
