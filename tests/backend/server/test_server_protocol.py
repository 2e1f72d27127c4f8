"""Open Inference Protocol v2 REST conformance (as Triton/KServe implement it), over the ASGI app."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from server_helpers import features_request, text_request
from starlette.testclient import TestClient
from tiny_models import DTYPES, EMBED_DIM, embed_reference, tabular_weights

from gpu_backend.codec import NUMPY_DTYPES


def softmax_reference(rows: list[list[float]], version: int) -> np.ndarray:
    logits = np.array(rows, dtype=np.float32) @ tabular_weights(version) + np.array(
        [0.1, -0.1], dtype=np.float32
    )
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_server_metadata_names_the_server_and_its_extensions(client: TestClient) -> None:
    # Given a running server
    # When GET /v2
    body = client.get("/v2").json()
    # Then it has name, version and extensions
    assert body["name"] == "steward-gpu-backend"
    assert isinstance(body["version"], str)
    assert "binary_tensor_data" in body["extensions"]


def test_health_live_and_ready(client: TestClient) -> None:
    # Given a server that finished loading
    # When the health endpoints are called
    # Then both answer 200
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_model_metadata_lists_versions_tensors_and_execution_provider(client: TestClient) -> None:
    # Given a model with two versions
    # When its metadata is read without and with a version
    latest = client.get("/v2/models/tiny-tabular").json()
    v1 = client.get("/v2/models/tiny-tabular/versions/1").json()
    # Then it follows the OIP metadata shape, the newest version is the default, and the provider is reported
    assert latest["name"] == "tiny-tabular"
    assert latest["versions"] == ["1", "2"]
    assert latest["platform"] == "onnxruntime_onnx"
    assert latest["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    assert latest["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]
    assert latest["parameters"]["version"] == "2"
    assert v1["parameters"]["version"] == "1"
    assert latest["parameters"]["execution_provider"] == "CPUExecutionProvider"
    assert latest["parameters"]["state"] == "READY"


def test_model_ready_endpoints(client: TestClient) -> None:
    # Given loaded models
    # When their ready endpoints are called
    # Then ready ones answer 200 with ready true
    for path in ("/v2/models/tiny-embed/ready", "/v2/models/tiny-tabular/versions/1/ready"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.json()["ready"] is True


def test_tabular_infer_returns_the_models_probabilities_and_echoes_the_id(client: TestClient) -> None:
    # Given two feature rows
    rows = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    # When they are sent to version 1 with an id and request parameters
    response = client.post(
        "/v2/models/tiny-tabular/versions/1/infer",
        json=features_request(rows, id="req-42", parameters={"note": "x"}),
    )
    # Then the response carries the id, model, version and the right probabilities
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["model_name"], body["model_version"]) == ("req-42", "tiny-tabular", "1")
    (out,) = body["outputs"]
    assert (out["name"], out["datatype"], out["shape"]) == ("probabilities", "FP32", [2, 2])
    np.testing.assert_allclose(np.array(out["data"]).reshape(2, 2), softmax_reference(rows, 1), rtol=1e-5)


def test_the_default_version_is_the_newest(client: TestClient) -> None:
    # Given the same rows
    rows = [[0.5, -1.0, 2.0, 0.0]]
    # When sent without a version
    body = client.post("/v2/models/tiny-tabular/infer", json=features_request(rows)).json()
    # Then version 2 answered, with version 2's weights
    assert body["model_version"] == "2"
    np.testing.assert_allclose(body["outputs"][0]["data"], softmax_reference(rows, 2)[0], rtol=1e-5)
    assert "id" not in body


def test_embedding_infer_tokenizes_buckets_and_matches_a_direct_ort_run(client: TestClient) -> None:
    # Given sentences of different lengths (they fall into different sequence buckets)
    texts = ["hello", "a man is eating food", "quarterly revenue grew while operating costs stayed flat and"]
    # When embedded through the server
    response = client.post("/v2/models/tiny-embed/infer", json=text_request(texts))
    # Then each row equals the model run on that sentence alone (padding did not change it)
    assert response.status_code == 200, response.text
    (out,) = response.json()["outputs"]
    assert out["shape"] == [3, EMBED_DIM]
    np.testing.assert_allclose(np.array(out["data"]).reshape(3, EMBED_DIM), embed_reference(texts), atol=1e-5)


def test_every_datatype_round_trips_through_an_identity_model(client: TestClient) -> None:
    # Given one tensor of every OIP datatype
    samples = {
        "BOOL": [True, False, True, True], "UINT8": [0, 255, 1, 2], "UINT16": [0, 65535, 1, 2],
        "UINT32": [0, 4294967295, 1, 2], "UINT64": [0, 2**64 - 1, 1, 2], "INT8": [-128, 127, 0, 1],
        "INT16": [-32768, 32767, 0, 1], "INT32": [-(2**31), 2**31 - 1, 0, 1],
        "INT64": [-(2**63), 2**63 - 1, 0, 1], "FP16": [0.5, -2.0, 65504.0, 0.0],
        "FP32": [0.25, -1.5, 1e30, float("nan")], "FP64": [0.1, -1e300, 3.0, float("inf")],
        "BYTES": ["hello", "wörld", "", "🚀"],
    }  # fmt: skip
    assert set(samples) == set(DTYPES)
    inputs = [{"name": f"in_{t}", "datatype": t, "shape": [2, 2], "data": v} for t, v in samples.items()]
    # When sent to a model that returns its inputs (this model allows non-finite values)
    response = client.post(
        "/v2/models/dtypes/infer",
        content=json.dumps({"inputs": inputs}),
        headers={"content-type": "application/json"},
    )
    # Then every output has the same datatype, shape and values
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in json.loads(response.text)["outputs"]}
    for datatype, values in samples.items():
        out = outputs[f"out_{datatype}"]
        assert (out["datatype"], out["shape"]) == (datatype, [2, 2]), datatype
        if datatype == "BYTES":
            assert out["data"] == values
        else:
            dtype = NUMPY_DTYPES[datatype]
            np.testing.assert_array_equal(np.array(out["data"], dtype=dtype), np.array(values, dtype=dtype))


def test_requested_outputs_limit_the_response(client: TestClient) -> None:
    # Given the identity model
    inputs = [
        {"name": f"in_{t}", "datatype": t, "shape": [1, 2], "data": [1, 1] if t != "BYTES" else ["a", "b"]}
        for t in DTYPES
    ]
    inputs[0]["data"] = [True, False]  # BOOL
    # When only two outputs are requested
    body = client.post(
        "/v2/models/dtypes/infer",
        json={"inputs": inputs, "outputs": [{"name": "out_INT8"}, {"name": "out_BYTES"}]},
    ).json()
    # Then exactly those come back, in the requested order
    assert [o["name"] for o in body["outputs"]] == ["out_INT8", "out_BYTES"]


def test_binary_tensor_data_extension_round_trip(client: TestClient) -> None:
    # Given a Triton-client style request: binary input data and a binary output requested
    rows = np.array([[0.5, -1.0, 2.0, 0.0]], dtype="<f4")
    header = json.dumps(
        {
            "inputs": [
                {"name": "features", "datatype": "FP32", "shape": [1, 4],
                 "parameters": {"binary_data_size": rows.nbytes}}
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()  # fmt: skip
    # When posted with Inference-Header-Content-Length
    response = client.post(
        "/v2/models/tiny-tabular/versions/1/infer",
        content=header + rows.tobytes(),
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "content-type": "application/octet-stream",
        },
    )
    # Then the response's JSON header is followed by the little-endian output
    assert response.status_code == 200, response.text
    n = int(response.headers["inference-header-content-length"])
    meta = json.loads(response.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 8
    probs = np.frombuffer(response.content[n:], dtype="<f4").reshape(1, 2)
    np.testing.assert_allclose(probs, softmax_reference(rows.tolist(), 1), rtol=1e-5)


def test_binary_bytes_input_is_decoded(client: TestClient) -> None:
    # Given text sent as binary BYTES (4-byte little-endian length + UTF-8)
    blob = b"".join(struct.pack("<I", len(s)) + s for s in (b"hello", b"a man is eating food"))
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
    ).encode()
    # When posted
    response = client.post(
        "/v2/models/tiny-embed/infer",
        content=header + blob,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    # Then it is embedded like the JSON form
    assert response.status_code == 200, response.text
    out = np.array(response.json()["outputs"][0]["data"]).reshape(2, EMBED_DIM)
    np.testing.assert_allclose(out, embed_reference(["hello", "a man is eating food"]), atol=1e-5)


def test_fixed_shape_model_serves_its_one_shape(client: TestClient) -> None:
    # Given a model whose graph takes exactly [1, 3]
    # When a [1, 3] tensor is sent
    body = client.post(
        "/v2/models/fixed/infer",
        json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [-1, 0, 2]}]},
    ).json()
    # Then the model ran
    assert body["outputs"][0]["data"] == [0.0, 0.0, 2.0]


def test_repository_index_lists_every_version_with_its_state(client: TestClient) -> None:
    # Given the tiny repository
    # When the repository index is requested
    index = {(e["name"], e["version"]): e for e in client.post("/v2/repository/index").json()}
    # Then loaded and refused versions are both listed
    assert index[("tiny-tabular", "2")]["state"] == "READY"
    assert index[("tampered", "1")]["state"] == "UNAVAILABLE"


@pytest.mark.parametrize(
    "path", ["/v2/models/none", "/v2/models/none/ready", "/v2/models/tiny-tabular/versions/9"]
)
def test_unknown_models_and_versions_are_404_with_an_oip_error(client: TestClient, path: str) -> None:
    # Given a name or version that does not exist
    # When its metadata or readiness is requested
    response = client.get(path)
    # Then 404 with an {"error": ...} body
    assert response.status_code == 404
    assert "unknown" in response.json()["error"]


def test_unknown_routes_get_json_errors(client: TestClient) -> None:
    # Given paths/methods the server does not have
    # When called
    # Then the errors are OIP-shaped JSON
    missing = client.get("/v3/whatever")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong_method = client.get("/v2/models/tiny-tabular/infer")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
