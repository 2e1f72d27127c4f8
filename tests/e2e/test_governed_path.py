"""The governed path over HTTP against the local stack, as a client would use it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "minilm_reference_embeddings.json"
SENTENCE = "A man is eating food."


def _auth(stack: RunningStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.key}"}


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_readme_curl_returns_embeddings_matching_the_reference(stack: RunningStack) -> None:
    # Given the demo key printed by `make up`
    # When the README's curl request is sent
    response = httpx.post(
        f"{stack.api_url}/v1/embeddings",
        headers=_auth(stack),
        json={"model": "all-minilm-l6-v2", "input": SENTENCE},
        timeout=30,
    )
    # Then it returns one 384-d embedding equal to the reference pipeline's
    assert response.status_code == 200, response.text
    body = response.json()
    version = response.headers["X-Steward-Model-Version"]
    assert body["object"] == "list" and body["model"] == f"all-minilm-l6-v2@{version}"
    assert (
        response.headers["Link"] == f'</v1/models/all-minilm-l6-v2/card?version={version}>; rel="describedby"'
    )
    embedding = body["data"][0]["embedding"]
    assert len(embedding) == 384
    reference = json.loads(FIXTURE.read_text())
    expected = reference["embeddings"][reference["sentences"].index(SENTENCE)]
    assert _cosine(embedding, expected) >= 0.9999
    assert body["usage"]["prompt_tokens"] > 0


def test_openai_client_works_unchanged(stack: RunningStack) -> None:
    # Given the official openai client pointed at Steward (it asks for base64 by default)
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=stack.key, max_retries=0)
    # When it creates embeddings for a batch
    result = client.embeddings.create(model="all-minilm-l6-v2", input=["first text", "second text"])
    # Then each input gets a 384-d vector, in order
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 384 for d in result.data)
    # And the model list holds the models the demo key may use
    assert "all-minilm-l6-v2" in {m.id for m in client.models.list().data}


def test_missing_and_malformed_keys_get_problem_details(stack: RunningStack) -> None:
    # Given no key, then a malformed key
    for headers in ({}, {"Authorization": "Bearer stw_not_a_real_key"}):
        # When the caller asks for the model list
        response = httpx.get(f"{stack.api_url}/v1/models", headers=headers, timeout=10)
        # Then it is a 401 problem+json with a stable code and a request id, and no key echoed
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"].startswith("auth.")
        assert problem.get("request_id")
        assert "stw_not_a_real_key" not in response.text


def test_oip_inference_on_the_tabular_model(stack: RunningStack) -> None:
    # Given one applicant row of ten features
    request = {
        "id": "e2e-1",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 10], "data": [0.5] * 10}],
    }
    # When it goes through the gateway's OIP route
    response = httpx.post(
        f"{stack.api_url}/v2/models/credit-risk/infer", headers=_auth(stack), json=request, timeout=30
    )
    # Then the backend's probabilities come back, summing to one
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "e2e-1"
    probabilities = body["outputs"][0]["data"]
    assert len(probabilities) == 2 and abs(sum(probabilities) - 1) < 1e-5


def test_unknown_model_is_a_404_problem(stack: RunningStack) -> None:
    response = httpx.post(
        f"{stack.api_url}/v1/embeddings",
        headers=_auth(stack),
        json={"model": "no-such-model", "input": "x"},
        timeout=10,
    )
    assert response.status_code in (403, 404)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_audit_lists_own_requests_without_content(stack: RunningStack) -> None:
    # Given a request with a distinctive text
    marker = "audit-canary-text-7f3a"
    httpx.post(
        f"{stack.api_url}/v1/embeddings",
        headers=_auth(stack),
        json={"model": "all-minilm-l6-v2", "input": marker},
        timeout=30,
    ).raise_for_status()
    # When the caller reads its audit trail
    response = httpx.get(f"{stack.api_url}/v1/audit", headers=_auth(stack), timeout=10)
    # Then the request is there, with hashes but never the text or the key
    assert response.status_code == 200, response.text
    assert response.json()["data"], "no audit records"
    assert marker not in response.text
    assert stack.key not in response.text
