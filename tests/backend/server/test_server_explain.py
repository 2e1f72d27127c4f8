"""`POST /v2/models/{m}/explain`: Shapley values through the model's own session, occlusion for text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from server_helpers import cpu_settings, features_request, text_request, wait_until_loaded
from starlette.testclient import TestClient
from tiny_models import tabular_graph, write_dtypes, write_embedding, write_model

from gpu_backend.explain import exact_shapley, session_predict_fn
from gpu_backend.explain.service import MAX_EXPLAIN_ROWS
from gpu_backend.server import create_app

RNG = np.random.default_rng(7)
NARROW, WIDE = 5, 18


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def _write_tabular(root: Path, name: str, n_features: int) -> tuple[bytes, np.ndarray]:
    weights = RNG.standard_normal((n_features, 2)).astype(np.float32)
    graph = tabular_graph(weights)
    background = RNG.standard_normal((12, n_features)).astype(np.float32)
    write_model(
        root,
        name,
        "1",
        {"model.onnx": graph, "background.npy": _npy(background)},
        {
            "task": "tabular-classification",
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, n_features]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
            "batching": {"max_batch_size": 8},
            "explain": {
                "background": "background.npy",
                "feature_names": [f"f{i}" for i in range(n_features)],
                "target_names": ["deny", "approve"],
            },
        },
    )
    return graph, background


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("explain-repository")
    narrow = _write_tabular(root, "narrow", NARROW)
    wide = _write_tabular(root, "wide", WIDE)
    write_embedding(root)
    write_dtypes(root)
    return {"root": root, "narrow": narrow, "wide": wide}


@pytest.fixture(scope="module")
def client(repository: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(repository["root"]))) as test_client:
        wait_until_loaded(test_client)
        yield test_client


def _outputs(body: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.reshape(np.array(o["data"]), o["shape"]) for o in body["outputs"]}


def test_exact_attributions_equal_a_direct_exact_shapley_call(
    client: TestClient, repository: dict[str, Any]
) -> None:
    # Given three rows of a 5-feature model and the same model in a separate ORT session
    graph, background = repository["narrow"]
    rows = RNG.standard_normal((3, NARROW)).astype(np.float32)
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    expected = exact_shapley(session_predict_fn(session, "features", "probabilities"), rows, background)

    # When the server explains them
    response = client.post("/v2/models/narrow/explain", json=features_request(rows.tolist()))

    # Then FP64 attributions [rows, features] and base_value [rows] equal the direct call
    assert response.status_code == 200, response.text
    body = response.json()
    out = {o["name"]: o for o in body["outputs"]}
    assert out["attributions"]["datatype"] == "FP64" and out["attributions"]["shape"] == [3, NARROW]
    assert out["base_value"]["shape"] == [3]
    values = _outputs(body)
    np.testing.assert_allclose(values["attributions"], expected.attributions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(values["base_value"], expected.base_value, rtol=0, atol=1e-12)
    assert body["parameters"]["method"] == "exact" and body["parameters"]["coalitions"] == 2**NARROW
    assert body["parameters"]["feature_names"] == [f"f{i}" for i in range(NARROW)]
    assert body["model_name"] == "narrow" and body["model_version"] == "1"


def test_attributions_add_up_to_prediction_minus_base_value(client: TestClient) -> None:
    # Given two rows / When explained
    rows = RNG.standard_normal((2, NARROW)).tolist()
    values = _outputs(client.post("/v2/models/narrow/explain", json=features_request(rows)).json())

    # Then efficiency holds per row, and the prediction is the model's P(class 1)
    np.testing.assert_allclose(
        values["attributions"].sum(axis=1), values["prediction"] - values["base_value"], atol=1e-9
    )
    probs = client.post("/v2/models/narrow/infer", json=features_request(rows)).json()["outputs"][0]
    np.testing.assert_allclose(values["prediction"], np.reshape(probs["data"], (2, 2))[:, 1], atol=1e-6)


def test_target_parameter_selects_the_class_by_index_or_name(client: TestClient) -> None:
    # Given one row explained for class 1 (default), class 0 and the class named "deny"
    rows = RNG.standard_normal((1, NARROW)).tolist()

    def explain(**params: Any) -> dict[str, Any]:
        response = client.post("/v2/models/narrow/explain", json=features_request(rows, parameters=params))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    default, deny, by_name = explain(), explain(target=0), explain(target="deny")

    # Then for two softmax classes the class-0 attributions are the negated class-1 ones
    np.testing.assert_allclose(_outputs(deny)["attributions"], -_outputs(default)["attributions"], atol=1e-6)
    assert _outputs(by_name)["attributions"].tolist() == _outputs(deny)["attributions"].tolist()
    assert default["parameters"]["target"] == 1 and default["parameters"]["target_name"] == "approve"
    assert deny["parameters"]["target_name"] == "deny"


@pytest.mark.parametrize("target", [2, -1, "maybe", True])
def test_an_invalid_target_is_a_400(client: TestClient, target: Any) -> None:
    response = client.post(
        "/v2/models/narrow/explain", json=features_request([[0.0] * NARROW], parameters={"target": target})
    )
    assert response.status_code == 400 and "target" in response.json()["error"]


def test_too_many_rows_is_a_400_that_says_how_many_fit(client: TestClient) -> None:
    # Given more rows than one explanation request may hold
    rows = [[0.0] * NARROW] * (MAX_EXPLAIN_ROWS + 1)

    # When explained / Then 400 naming the limit, and nothing was computed
    response = client.post("/v2/models/narrow/explain", json=features_request(rows))
    assert response.status_code == 400
    assert "split the request" in response.json()["error"]


def test_unknown_model_and_version_are_404(client: TestClient) -> None:
    rows = features_request([[0.0] * NARROW])
    assert client.post("/v2/models/nope/explain", json=rows).status_code == 404
    assert client.post("/v2/models/narrow/versions/9/explain", json=rows).status_code == 404


def test_a_model_without_explanations_and_bad_inputs_are_400(client: TestClient) -> None:
    # Given a model that is neither tabular nor text, a wrong input name and a non-finite value
    dtypes = client.post(
        "/v2/models/dtypes/explain",
        json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [1.0]}]},
    )
    wrong = client.post(
        "/v2/models/narrow/explain",
        json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, NARROW], "data": [0.0] * NARROW}]},
    )
    nan = client.post(
        "/v2/models/narrow/explain",
        content=b'{"inputs":[{"name":"features","datatype":"FP32","shape":[1,5],"data":[NaN,0,0,0,0]}]}',
    )
    # Then each is a 400 with a message
    for response in (dtypes, wrong, nan):
        assert response.status_code == 400 and response.json()["error"]


def test_over_16_features_uses_sampling_and_states_its_error(client: TestClient) -> None:
    # Given an 18-feature model (2^18 coalitions is too many for exact values)
    rows = RNG.standard_normal((1, WIDE)).tolist()

    # When explained
    response = client.post("/v2/models/wide/explain", json=features_request(rows))

    # Then the estimator is antithetic sampling, with a standard error per feature, and efficiency
    assert response.status_code == 200, response.text
    body = response.json()
    values = _outputs(body)
    assert body["parameters"]["method"] == "antithetic-permutation"
    assert values["standard_error"].shape == (1, WIDE) and (values["standard_error"] >= 0).all()
    assert body["parameters"]["max_standard_error"] == pytest.approx(values["standard_error"].max())
    assert "standard error" in body["parameters"]["error"]
    np.testing.assert_allclose(
        values["attributions"].sum(axis=1), values["prediction"] - values["base_value"], atol=1e-9
    )


def test_text_models_get_occlusion_attributions_per_word_piece(client: TestClient) -> None:
    # Given one text for the tiny embedding model
    response = client.post("/v2/models/tiny-embed/explain", json=text_request(["hello world"]))

    # Then one attribution per token: 1 - cos(full, without token); the full score is 1
    assert response.status_code == 200, response.text
    body = response.json()
    out = {o["name"]: o for o in body["outputs"]}
    tokens = out["tokens"]["data"]
    assert len(tokens) >= 2 and out["attributions"]["shape"] == [len(tokens)]
    assert body["parameters"]["method"] == "occlusion"
    assert out["score"]["data"][0] == pytest.approx(1.0, abs=1e-6)
    assert all(-1e-6 <= a <= 2.0 for a in out["attributions"]["data"])


def test_text_explanations_take_one_text_and_a_string_reference(client: TestClient) -> None:
    two = client.post("/v2/models/tiny-embed/explain", json=text_request(["a", "b"]))
    bad_reference = client.post(
        "/v2/models/tiny-embed/explain", json=text_request(["hello"], parameters={"reference": 3})
    )
    with_reference = client.post(
        "/v2/models/tiny-embed/explain", json=text_request(["hello world"], parameters={"reference": "world"})
    )
    assert two.status_code == 400 and bad_reference.status_code == 400
    assert with_reference.status_code == 200 and "reference" in with_reference.json()["parameters"]["score"]


def test_sagemaker_invocations_explain_through_the_custom_attribute(client: TestClient) -> None:
    # Given the SageMaker route with the explain attribute and the target model header
    rows = features_request([[0.1] * NARROW])
    response = client.post(
        "/invocations",
        json=rows,
        headers={
            "X-Amzn-SageMaker-Target-Model": "narrow/1",
            "X-Amzn-SageMaker-Custom-Attributes": "steward-operation=explain",
        },
    )
    # Then it answers with an explanation, not inference outputs
    assert response.status_code == 200, response.text
    assert {o["name"] for o in response.json()["outputs"]} >= {"attributions", "base_value"}
