"""The local API Gateway emulation mirrors the deployed authorizer contract."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from scripts.local.api_gateway import build_authorizer_event, with_authorizer

SEEN: list[dict[str, Any]] = []


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    SEEN.append(scope["aws.event"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_authorizer_event_has_the_rest_request_shape() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/models",
        "query_string": b"a=1&a=2",
        "headers": [(b"authorization", b"Bearer k")],
    }
    event = build_authorizer_event(scope, "rid", region="us-east-1", account="1", api_id="api", stage="local")
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:1:api/local/GET/v1/models"
    assert event["headers"]["authorization"] == "Bearer k"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["requestContext"]["requestId"] == "rid"


def test_allow_passes_context_and_request_id_to_the_app() -> None:
    def allow(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "principalId": "k1",
            "context": {"tenant_id": "acme"},
            "policyDocument": {"Statement": [{"Effect": "Allow"}]},
        }

    response = TestClient(with_authorizer(echo_app, allow)).get(
        "/v1/models", headers={"Authorization": "Bearer k"}
    )
    assert response.status_code == 200
    authorizer = SEEN[-1]["requestContext"]["authorizer"]
    assert authorizer == {"tenant_id": "acme", "principalId": "k1"}
    assert SEEN[-1]["requestContext"]["requestId"]


def test_unauthorized_deny_and_failure_become_gateway_problems() -> None:
    def unauthorized(event: dict[str, Any]) -> dict[str, Any]:
        raise Exception("Unauthorized")

    def deny(event: dict[str, Any]) -> dict[str, Any]:
        return {"principalId": "k1", "policyDocument": {"Statement": [{"Effect": "Deny"}]}}

    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("table missing")

    for authorize, status, code in [
        (unauthorized, 401, "auth.invalid_key"),
        (deny, 403, "auth.forbidden"),
        (broken, 503, "auth.unavailable"),
    ]:
        response = TestClient(with_authorizer(echo_app, authorize)).get(
            "/v1/models", headers={"Authorization": "Bearer k"}
        )
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert response.headers["content-type"] == "application/problem+json"
        assert "table missing" not in response.text


def test_missing_identity_source_is_refused_without_calling_the_authorizer() -> None:
    # Given an authorizer that would allow anything
    calls: list[dict[str, Any]] = []

    def allow(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        return {"principalId": "k1", "policyDocument": {"Statement": [{"Effect": "Allow"}]}}

    # When a request comes without the Authorization header (as API Gateway with a cached
    # identity source would see it), even with an x-api-key header
    response = TestClient(with_authorizer(echo_app, allow)).get("/v1/models", headers={"x-api-key": "k"})
    # Then the gateway itself answers 401 and the authorizer never runs
    assert (response.status_code, response.json()["code"]) == (401, "auth.invalid_key")
    assert calls == []
