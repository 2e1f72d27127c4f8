"""Errors on the OpenAI routes as the official ``openai`` SDK shows them: Steward's message and code.

The SDK reads ``body["error"]["message"|"type"|"code"]``; a bare RFC 9457 document left callers
with "Error code: 404" and no reason. The problem document stays as it was, with the OpenAI-style
``error`` object added as an extension member on the OpenAI routes only.
"""

from __future__ import annotations

import openai
import pytest
from starlette.testclient import TestClient
from steward.bootstrap import Api
from steward.settings import ApiSettings

from functions.api.app import create_app

from .conftest import MINILM, bearer


@pytest.fixture
def oai(client: TestClient, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url="http://testserver/v1", http_client=client, max_retries=0)


def test_a_404_shows_stewards_message_and_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.embeddings.create(model="nope", input="x")
    error = caught.value
    detail = "The model does not exist or is not available to this API key."
    assert error.message == f"Error code: 404 - {detail}"
    assert (error.code, error.type, error.param) == ("model.not_found", "invalid_request_error", None)


def test_models_retrieve_of_an_unknown_model(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.models.retrieve("nope")
    assert caught.value.code == "model.not_found" and "does not exist" in caught.value.message


def test_a_validation_error_shows_the_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oai.embeddings.create(model=MINILM, input=[])
    assert caught.value.code == "input.invalid"
    body = caught.value.body
    assert isinstance(body, dict) and body["message"]
    assert caught.value.message == f"Error code: 422 - {body['message']}"


def test_an_unauthenticated_call_says_how_to_authenticate(settings: ApiSettings, use_cases: Api) -> None:
    # The api function's own 401 (no authorizer context); API Gateway's 401s are its responses'
    with TestClient(create_app(settings, use_cases)) as bare:
        bad = openai.OpenAI(api_key="x", base_url="http://testserver/v1", http_client=bare, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.models.list()
    assert (caught.value.code, caught.value.type) == ("auth.invalid_key", "authentication_error")
    assert "Authorization: Bearer" in caught.value.message


def test_the_problem_document_keeps_its_members_and_only_openai_routes_add_error(
    client: TestClient, api_key: str
) -> None:
    response = client.post("/v1/embeddings", headers=bearer(api_key), json={"model": "nope", "input": "x"})
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail", "code", "request_id"} <= set(body)
    assert body["error"] == {
        "message": body["detail"],
        "type": "invalid_request_error",
        "param": None,
        "code": "model.not_found",
    }
    # Not on Steward's own routes; on the OIP routes "error" is the protocol's string
    for path in ("/v1/models/nope/card", "/v1/audit?cursor=%C3%A9"):
        other = client.get(path, headers=bearer(api_key))
        assert other.status_code >= 400 and "error" not in other.json(), path
    oip = client.get("/v2/models/nope", headers=bearer(api_key)).json()
    assert oip["error"] == f"{oip['detail']} [model.not_found]"
