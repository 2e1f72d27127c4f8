"""Every inference answer names the registry version that produced it: ``X-Steward-Model-Version``,
a ``describedby`` link to that version's card, ``model_version`` in OIP bodies and ``name@version``
in OpenAI embeddings answers, for a pinned version and for the default alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest
from starlette.testclient import TestClient
from steward.routing.transport import BackendRequest, BackendResponse

from tests.fakes import FakeTransport, InMemoryRegistryStore, embedding_response

from .conftest import CREDIT, MINILM, bearer

#: What the backend calls the newer version internally: never what a caller should be told.
BACKEND_VERSION = "backend-internal-7"
TEXT = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
ROWS = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [[0.7, 0.1]]}]}


def backend(target: Any, request: BackendRequest) -> BackendResponse:
    """Embeddings for the text model, attributions for ``explain``, probabilities otherwise."""
    if request.model == MINILM:
        return BackendResponse(200, json.dumps(embedding_response(request)).encode())
    if request.operation == "explain":
        outputs = [
            {"name": "attributions", "datatype": "FP64", "shape": [1, 2], "data": [0.2, -0.1]},
            {"name": "base_value", "datatype": "FP64", "shape": [1], "data": [0.5]},
        ]
        parameters: dict[str, Any] = {"target": 1, "target_name": "approve", "feature_names": ["a", "b"]}
    else:
        outputs = [{"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.3, 0.7]}]
        parameters = {}
    body = {
        "model_name": request.model,
        "model_version": request.version,  # the backend's own name for the version
        "outputs": outputs,
        "parameters": parameters,
    }
    return BackendResponse(200, json.dumps(body).encode())


@pytest.fixture(autouse=True)
def second_versions(registry_store: InMemoryRegistryStore, transport: FakeTransport) -> None:
    """Version 2 of both models, approved but not the default (still ``1``), and served by the
    backend under a name of its own."""
    for model in (MINILM, CREDIT):
        one = registry_store.versions[model]["1"]
        registry_store.put_version(replace(one, version="2", backend_version=BACKEND_VERSION))
    transport.respond = backend


@pytest.fixture
def key(make_key: Callable[..., str]) -> str:
    return make_key("acme", (MINILM, CREDIT))


def assert_discloses(
    client: TestClient, key: str, response: httpx.Response, model: str, version: str
) -> None:
    """The version headers, and a link that leads to the card of exactly that version."""
    assert response.status_code == 200, response.text
    assert response.headers["X-Steward-Model-Version"] == version
    link = f"/v1/models/{model}/card?version={version}"
    assert response.headers["Link"] == f'<{link}>; rel="describedby"'
    card = client.get(link, headers=bearer(key))
    assert card.status_code == 200 and card.json()["version"] == version


@pytest.mark.parametrize(("path", "version"), [("", "1"), ("/versions/2", "2"), ("/versions/1", "1")])
def test_oip_infer_names_the_registry_version_not_the_backends(
    client: TestClient, key: str, path: str, version: str
) -> None:
    response = client.post(f"/v2/models/{MINILM}{path}/infer", headers=bearer(key), json=TEXT)
    assert_discloses(client, key, response, MINILM, version)
    assert response.json()["model_name"] == MINILM and response.json()["model_version"] == version


def test_oip_binary_answers_carry_the_headers_too(client: TestClient, key: str) -> None:
    body = {**ROWS, "parameters": {"binary_data_output": True}}
    response = client.post(f"/v2/models/{CREDIT}/versions/2/infer", headers=bearer(key), json=body)
    assert response.headers["content-type"] == "application/octet-stream"
    assert_discloses(client, key, response, CREDIT, "2")


@pytest.mark.parametrize(("ref", "version"), [(MINILM, "1"), (f"{MINILM}@2", "2"), (f"{MINILM}@1", "1")])
def test_embeddings_answer_names_model_at_version(
    client: TestClient, key: str, ref: str, version: str
) -> None:
    response = client.post("/v1/embeddings", headers=bearer(key), json={"model": ref, "input": "hi"})
    assert_discloses(client, key, response, MINILM, version)
    assert response.json()["model"] == f"{MINILM}@{version}"


def test_the_openai_client_reads_model_at_version(client: TestClient, key: str) -> None:
    oai = openai.OpenAI(api_key=key, base_url="http://testserver/v1", http_client=client, max_retries=0)
    assert oai.embeddings.create(model=MINILM, input="hi").model == f"{MINILM}@1"
    pinned = oai.embeddings.with_raw_response.create(model=f"{MINILM}@2", input="hi")
    assert pinned.headers["X-Steward-Model-Version"] == "2" and pinned.parse().model == f"{MINILM}@2"


@pytest.mark.parametrize(("query", "version"), [("", "1"), ("?version=2", "2")])
@pytest.mark.parametrize("accept", ["application/json", "image/svg+xml"])
def test_explanations_name_their_version(
    client: TestClient, key: str, query: str, version: str, accept: str
) -> None:
    response = client.post(
        f"/v1/models/{CREDIT}/explain{query}", headers={**bearer(key), "Accept": accept}, json=ROWS
    )
    assert_discloses(client, key, response, CREDIT, version)
    if accept == "application/json":
        assert response.json()["model_version"] == version


def test_refusals_name_no_version(client: TestClient, key: str) -> None:
    missing = client.post(f"/v2/models/{MINILM}/versions/9/infer", headers=bearer(key), json=TEXT)
    assert missing.status_code == 404
    assert "X-Steward-Model-Version" not in missing.headers and "Link" not in missing.headers


def test_the_openapi_document_declares_the_headers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/embeddings",
        "/v1/models/{model}/explain",
        "/v2/models/{model}/infer",
        "/v2/models/{model}/versions/{version}/infer",
    ):
        headers = paths[path]["post"]["responses"]["200"]["headers"]
        assert {"X-Steward-Model-Version", "Link"} <= set(headers), path


def test_a_version_name_no_header_can_hold_is_percent_encoded() -> None:
    # Given a version name with a line break and a non-Latin-1 character (names are free text)
    from fastapi import Response

    from functions.api.responses import MODEL_VERSION_HEADER, disclose_model

    response = disclose_model(Response(), "m", "v2\r\n夜")
    # Then the header is a valid value that decodes back to the name
    from urllib.parse import unquote

    assert response.headers[MODEL_VERSION_HEADER] == "v2%0D%0A%E5%A4%9C"
    assert unquote(response.headers[MODEL_VERSION_HEADER]) == "v2\r\n夜"
    assert "\n" not in response.headers["Link"]
