"""CUDA execution provider: IO binding and the fp16 variant. Skipped without a CUDA device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from server_helpers import features_request, text_request, wait_until_loaded
from starlette.testclient import TestClient
from tiny_models import embed_reference

from gpu_backend.server import create_app
from gpu_backend.settings import Settings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        "CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs onnxruntime-gpu and CUDA"
    ),
]


@pytest.fixture
def gpu_client(tiny_repository: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_repository=tiny_repository, use_gpu=True))) as client:
        wait_until_loaded(client)
        yield client


def test_models_report_the_cuda_provider_they_run_on(gpu_client: TestClient) -> None:
    # Given a CUDA machine
    # When model metadata is read
    params = gpu_client.get("/v2/models/tiny-embed").json()["parameters"]
    # Then the provider read back from the session is CUDA
    assert params["execution_provider"] == "CUDAExecutionProvider"


def test_io_binding_results_match_the_cpu_reference(gpu_client: TestClient) -> None:
    # Given sentences and tabular rows
    texts = ["hello world", "a man is eating food"]
    # When they run on CUDA through IO binding
    embed = gpu_client.post("/v2/models/tiny-embed/infer", json=text_request(texts)).json()
    tab = gpu_client.post("/v2/models/tiny-tabular/infer", json=features_request([[1.0, 2.0, 3.0, 4.0]]))
    # Then the embeddings match the CPU reference and the tabular model answers
    out = np.array(embed["outputs"][0]["data"]).reshape(2, -1)
    np.testing.assert_allclose(out, embed_reference(texts), atol=1e-4)
    assert tab.status_code == 200


def test_fp16_variant_is_used_on_cuda(model_repository: Path) -> None:
    # Given the real MiniLM build, which ships model.fp16.onnx, served with fp16 on
    settings = Settings(model_repository=model_repository, use_gpu=True, fp16=True)
    with TestClient(create_app(settings)) as client:
        wait_until_loaded(client)
        # When metadata is read and a sentence embedded
        params = client.get("/v2/models/all-minilm-l6-v2").json()["parameters"]
        response = client.post(
            "/v2/models/all-minilm-l6-v2/infer", json=text_request(["A man is eating food."])
        )
    # Then the fp16 graph runs on CUDA and returns a unit-length FP32 embedding
    assert (params["execution_provider"], params["precision"]) == ("CUDAExecutionProvider", "fp16")
    vector = np.array(response.json()["outputs"][0]["data"])
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-2
