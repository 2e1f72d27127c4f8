"""A tampered artifact or malformed manifest: that model is not loaded, says why, the rest serve."""

from __future__ import annotations

import pytest
from server_helpers import features_request
from starlette.testclient import TestClient


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("tampered", "integrity check failed for 'model.onnx': sha256"),
        ("malformed", "malformed manifest: 'inputs' must be a non-empty list"),
        ("fixed-mismatch", "has shape [1, 3] in the graph"),
    ],
)
def test_a_refused_model_is_not_ready_and_its_metadata_says_why(
    client: TestClient, model: str, reason: str
) -> None:
    # Given a repository where this model version was refused at load
    # When its readiness and metadata are requested
    ready = client.get(f"/v2/models/{model}/ready")
    metadata = client.get(f"/v2/models/{model}")
    # Then it is not ready (OIP: a 4xx) and the metadata carries the reason
    assert ready.status_code == 400 and ready.json()["ready"] is False
    assert metadata.status_code == 200
    assert metadata.json()["parameters"]["state"] == "UNAVAILABLE"
    assert reason in metadata.json()["parameters"]["reason"]


def test_the_other_models_still_serve_and_the_server_is_ready(client: TestClient) -> None:
    # Given the same repository with three refused models
    # When the server and a good model are used
    # Then the server is ready and the good model answers
    assert client.get("/v2/health/ready").status_code == 200
    response = client.post("/v2/models/tiny-tabular/infer", json=features_request([[1.0, 2.0, 3.0, 4.0]]))
    assert response.status_code == 200
