"""Prometheus /metrics: per-model counts, latency split, batch sizes, execution provider."""

from __future__ import annotations

import re

from server_helpers import features_request
from starlette.testclient import TestClient


def sample(text: str, name: str, **labels: str) -> float | None:
    """Value of one sample in the exposition text, matched on the given labels."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_failures_latency_batches_and_provider(client: TestClient) -> None:
    # Given two good requests and one bad one to tiny-tabular v1, and one to an unknown model
    path = "/v2/models/tiny-tabular/versions/1/infer"
    for _ in range(2):
        assert client.post(path, json=features_request([[0.0, 1.0, 2.0, 3.0]])).status_code == 200
    assert client.post(path, json=features_request([[0.0, 1.0, 2.0]])).status_code == 400
    assert client.post("/v2/models/ghost/infer", json=features_request([[0.0]])).status_code == 404
    # When /metrics is scraped
    response = client.get("/metrics")
    text = response.text
    # Then it is Prometheus text with the counts, the latency split, batch sizes and the provider
    assert response.headers["content-type"].startswith("text/plain")
    v1 = {"model": "tiny-tabular", "version": "1"}
    assert sample(text, "steward_backend_inference_requests_total", **v1) == 3
    assert sample(text, "steward_backend_inference_failures_total", reason="invalid_input", **v1) == 1
    assert sample(text, "steward_backend_inference_failures_total", model="_unknown", reason="not_found") == 1
    for histogram in ("queue", "compute", "request"):
        assert sample(text, f"steward_backend_{histogram}_duration_seconds_count", **v1) == 2, histogram
    assert sample(text, "steward_backend_batch_size_count", **v1) == 2
    assert sample(text, "steward_backend_batch_size_bucket", le="1.0", **v1) == 2
    assert sample(text, "steward_backend_batch_executions_total", **v1) == 2
    assert (
        sample(
            text,
            "steward_backend_model_info",
            execution_provider="CPUExecutionProvider",
            precision="fp32",
            **v1,
        )
        == 1
    )
    assert sample(text, "steward_backend_model_ready", **v1) == 1
    assert sample(text, "steward_backend_model_ready", model="tampered", version="1") == 0
    assert sample(text, "steward_backend_ready") == 1


def test_metrics_never_carry_request_content(client: TestClient) -> None:
    # Given a request to a model name made of would-be personal data
    client.post("/v2/models/jane.doe@example.com/infer", json=features_request([[1.0]]))
    # When /metrics is scraped
    # Then that text is nowhere in it (unknown models share one label value)
    assert "jane.doe" not in client.get("/metrics").text
