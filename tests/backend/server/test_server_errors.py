"""Bad input is a 4xx with an OIP {"error": ...} body that says what is wrong; never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from server_helpers import cpu_settings, features_request, text_request, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.server import create_app

TABULAR = "/v2/models/tiny-tabular/versions/1/infer"
EMBED = "/v2/models/tiny-embed/infer"


def features(shape: list[int], data: Any, datatype: str = "FP32", name: str = "features") -> dict[str, Any]:
    return {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v2/models/nope/infer", features_request([[1, 2, 3, 4]]), 404, "unknown model 'nope'"),
        (
            "/v2/models/tiny-tabular/versions/7/infer",
            features_request([[1, 2, 3, 4]]),
            404,
            "unknown version '7'",
        ),
        (TABULAR, features([1, 4], [1, 2, 3, 4], name="feats"), 400, "unexpected input(s) ['feats']"),
        (TABULAR, {"inputs": []}, 400, "'inputs' must be a non-empty list"),
        (TABULAR, {"outputs": [{"name": "probabilities"}]}, 400, "'inputs' must be a non-empty list"),
        (TABULAR, features([1, 4], [1, 2, 3, 4], datatype="FP64"), 400, "has datatype FP64 but model"),
        (TABULAR, features([1, 3], [1, 2, 3]), 400, "expects [-1, 4]"),
        (TABULAR, features([4], [1, 2, 3, 4]), 400, "expects [-1, 4]"),
        (TABULAR, features([2, 4], [1, 2, 3, 4]), 400, "needs 8 elements"),
        (TABULAR, features([0, 4], []), 400, "empty batch"),
        (TABULAR, features([9, 4], [0.0] * 36), 400, "exceeds model 'tiny-tabular' max_batch_size 8"),
        (TABULAR, features([1, 4], [1, "x", 3, 4]), 400, "must be numbers"),
        (
            TABULAR,
            {**features_request([[1, 2, 3, 4]]), "outputs": [{"name": "logits"}]},
            400,
            "unknown output 'logits'",
        ),
        (TABULAR, {**features_request([[1, 2, 3, 4]]), "id": 5}, 400, "'id' must be a string"),
        (TABULAR, [1, 2], 400, "must be a JSON object"),
        (EMBED, text_request([]), 400, "empty batch"),
        (
            EMBED,
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [3]}]},
            400,
            "must be a string",
        ),
        ("/v2/models/fixed/infer", features([2, 3], [0.0] * 6, name="x"), 400, "expects [1, 3]"),
    ],
)
def test_bad_requests_get_a_4xx_that_names_the_problem(
    client: TestClient, path: str, body: Any, status: int, message: str
) -> None:
    # Given a request with one thing wrong
    # When it is posted
    response = client.post(path, json=body)
    # Then the status and the OIP error message say what
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_missing_input_is_named(client: TestClient) -> None:
    # Given the identity model, which takes thirteen inputs, sent only one
    body = {"inputs": [{"name": "in_INT8", "datatype": "INT8", "shape": [1, 2], "data": [1, 2]}]}
    # When posted
    response = client.post("/v2/models/dtypes/infer", json=body)
    # Then 400 lists what is missing
    assert response.status_code == 400
    assert "missing input(s) ['in_BOOL'" in response.json()["error"]


def test_nan_and_infinity_are_refused_where_the_model_forbids_them(client: TestClient) -> None:
    # Given a model whose manifest says allow_non_finite=false, and rows with NaN / Infinity literals
    for literal in ("NaN", "Infinity", "-Infinity"):
        tensor = f'{{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [1, {literal}, 0, 0]}}'
        raw = f'{{"inputs": [{tensor}]}}'
        # When posted
        response = client.post(TABULAR, content=raw, headers={"content-type": "application/json"})
        # Then 400 says non-finite values are not accepted
        assert response.status_code == 400, literal
        assert "NaN or infinite" in response.json()["error"]


def test_invalid_json_and_non_utf8_bodies_are_400(client: TestClient) -> None:
    # Given a truncated JSON body and one with a raw invalid UTF-8 byte inside a BYTES string
    bad_utf8 = b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["caf\xe9"]}]}'
    # When posted
    truncated = client.post(TABULAR, content=b'{"inputs": [', headers={"content-type": "application/json"})
    non_utf8 = client.post(EMBED, content=bad_utf8, headers={"content-type": "application/json"})
    # Then both are 400 and say why
    assert truncated.status_code == 400 and "not valid JSON" in truncated.json()["error"]
    assert non_utf8.status_code == 400 and "not valid UTF-8" in non_utf8.json()["error"]


def test_a_lone_surrogate_escape_in_bytes_is_400(client: TestClient) -> None:
    # Given a BYTES element that is a lone UTF-16 surrogate escape (not encodable as UTF-8)
    raw = '{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["x\\ud800"]}]}'
    # When posted
    response = client.post(EMBED, content=raw, headers={"content-type": "application/json"})
    # Then 400 says the element is not UTF-8
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]


def test_inputs_with_different_batch_sizes_are_400(client: TestClient) -> None:
    # Given the identity model with one input of 1 row and the rest of 2 rows
    inputs = []
    for datatype, value in (("BOOL", True), ("BYTES", "a")):
        inputs.append({"name": f"in_{datatype}", "datatype": datatype, "shape": [2, 2], "data": [value] * 4})
    for datatype in (
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP16",
        "FP32",
        "FP64",
    ):
        inputs.append({"name": f"in_{datatype}", "datatype": datatype, "shape": [2, 2], "data": [1] * 4})
    inputs[-1] = {"name": "in_FP64", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}
    # When posted
    response = client.post("/v2/models/dtypes/infer", json={"inputs": inputs})
    # Then 400 says the batch sizes disagree
    assert response.status_code == 400
    assert "disagree on the batch size" in response.json()["error"]


@pytest.mark.parametrize("model", ["tampered", "malformed", "fixed-mismatch"])
def test_inference_on_a_model_that_did_not_load_is_503_with_the_reason(
    client: TestClient, model: str
) -> None:
    # Given a model refused at load
    # When inference is requested
    response = client.post(f"/v2/models/{model}/infer", json=features_request([[1, 2, 3, 4]]))
    # Then 503 says it is not ready and why
    assert response.status_code == 503
    assert "is not ready" in response.json()["error"]


def test_a_body_over_the_limit_is_413(tiny_repository: Path) -> None:
    # Given a server with a 1 KiB body limit
    app = create_app(cpu_settings(tiny_repository, max_body_bytes=1024))
    with TestClient(app) as client:
        wait_until_loaded(client)
        body = json.dumps(features_request([[0.0, 0.0, 0.0, 0.0]] * 8)).encode() + b" " * 1024
        # When a larger body is posted (with and without Content-Length)
        declared = client.post(TABULAR, content=body, headers={"content-type": "application/json"})
        chunked = client.post(TABULAR, content=iter([body[:600], body[600:]]))
        small = client.post(TABULAR, json=features_request([[0.0, 0.0, 0.0, 0.0]]))
    # Then both big ones are 413 naming the limit, and a small one still works
    for response in (declared, chunked):
        assert response.status_code == 413
        assert "limit of 1024 bytes" in response.json()["error"]
    assert small.status_code == 200


@pytest.mark.parametrize("path", [TABULAR, "/invocations"])
def test_a_bug_on_the_inference_path_is_a_500_without_internals(
    client: TestClient, path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a data plane that fails with an unexpected exception (a bug)
    from gpu_backend.dataplane import DataPlane

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(DataPlane, "infer", broken)
    # When an inference request arrives on either inference route
    response = client.post(path, json=features_request([[1, 2, 3, 4]]))
    # Then it is a 500 with a generic OIP error, and the detail goes to the log only
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error"}
    assert "secret internal detail" in caplog.text
