"""The real models from `python -m gpu_backend.build` through the server: MiniLM matches the
PyTorch reference embeddings, and the credit-risk classifier answers with probabilities."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_helpers import cpu_settings, features_request, text_request, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.server import create_app

pytestmark = pytest.mark.slow
# Reference embeddings from the upstream pipeline (torch + transformers), kept with the tests.
REFERENCE = Path(__file__).resolve().parents[2] / "fixtures" / "minilm_reference_embeddings.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def real_client(model_repository: Path) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(model_repository, intra_op_threads=0))) as client:
        wait_until_loaded(client)
        yield client


def test_both_real_models_load_on_the_cpu_provider(real_client: TestClient) -> None:
    # Given the built model repository
    # When the metadata of both models is read
    for name in ("all-minilm-l6-v2", "credit-risk"):
        body = real_client.get(f"/v2/models/{name}").json()
        # Then each is ready on the CPU provider
        assert body["parameters"]["state"] == "READY", body
        assert body["parameters"]["execution_provider"] == "CPUExecutionProvider"


def test_minilm_through_the_server_matches_the_pytorch_reference(
    real_client: TestClient, reference: dict[str, Any]
) -> None:
    # Given the reference sentences (one very long) and their PyTorch embeddings
    sentences: list[str] = reference["sentences"]
    expected = np.array(reference["embeddings"], dtype=np.float64)
    # When they are embedded through the server in one request
    response = real_client.post("/v2/models/all-minilm-l6-v2/infer", json=text_request(sentences))
    # Then every embedding has cosine >= 0.9999 with the reference
    assert response.status_code == 200, response.text
    out = np.array(response.json()["outputs"][0]["data"], dtype=np.float64).reshape(len(sentences), 384)
    cosine = (out * expected).sum(1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(expected, axis=1))
    assert cosine.min() >= 0.9999, cosine


def test_minilm_rows_do_not_depend_on_what_they_were_batched_with(
    real_client: TestClient, reference: dict[str, Any]
) -> None:
    # Given a short sentence sent alone and together with a very long one (another bucket)
    sentences: list[str] = reference["sentences"]
    longest = max(sentences, key=len)
    alone = real_client.post("/v2/models/all-minilm-l6-v2/infer", json=text_request([sentences[0]])).json()
    mixed = real_client.post(
        "/v2/models/all-minilm-l6-v2/infer", json=text_request([sentences[0], longest])
    ).json()
    # When the short sentence's embeddings are compared
    a = np.array(alone["outputs"][0]["data"])
    b = np.array(mixed["outputs"][0]["data"][:384])
    # Then they agree
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_credit_risk_returns_a_probability_distribution(real_client: TestClient) -> None:
    # Given two applicants with ten features each
    metadata = real_client.get("/v2/models/credit-risk").json()
    width = metadata["inputs"][0]["shape"][1]
    rows = [[0.5] * width, [1.0] * width]
    # When classified
    response = real_client.post("/v2/models/credit-risk/infer", json=features_request(rows))
    # Then each row is a probability distribution over the two classes
    assert response.status_code == 200, response.text
    probs = np.array(response.json()["outputs"][0]["data"]).reshape(2, 2)
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_credit_risk_refuses_nan_features(real_client: TestClient) -> None:
    # Given a row with NaN (the manifest forbids non-finite values)
    tensor = '{"name": "features", "datatype": "FP32", "shape": [1, 10], "data": [NaN,0,0,0,0,0,0,0,0,0]}'
    raw = '{"inputs": [' + tensor + "]}"
    # When classified
    response = real_client.post(
        "/v2/models/credit-risk/infer", content=raw, headers={"content-type": "application/json"}
    )
    # Then 400
    assert response.status_code == 400
    assert "NaN or infinite" in response.json()["error"]
