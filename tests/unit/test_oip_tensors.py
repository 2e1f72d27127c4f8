"""OIP requests are checked before any backend call, and every string of the answer is filtered.

Strings in a non-BYTES tensor, caller-chosen tensor names and parameter keys used to reach the
backend without the privacy guard; integers wider than 64 bits failed with a 500; and the strings a
model wrote into ``parameters`` reached the caller unfiltered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from steward.catalog.registry import Target
from steward.errors import InputTooLarge, StewardError
from steward.inference.oip_tensors import (
    InvalidParameter,
    InvalidTensorName,
    TensorMismatch,
    check_request,
    check_tensor,
    without_binary_parameters,
)
from steward.routing.transport import BackendRequest, BackendResponse

from tests.fakes import FakeTransport, InMemoryAuditStore

from .conftest import CREDIT, MINILM, bearer

EMAIL = "jane.doe@example.com"
SSN = "536-22-8714"


def tensor(datatype: str, shape: list[Any], data: Any, name: str = "x") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def features(
    data: Any, shape: list[Any] | None = None, datatype: str = "FP32", **extra: Any
) -> dict[str, Any]:
    return {"inputs": [tensor(datatype, shape or [1, len(data)], data, "features")], **extra}


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.headers["content-type"] == "application/problem+json"
    for value in (EMAIL, SSN, "536228714"):
        assert value not in response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def credit_key(make_key: Callable[..., str]) -> str:
    return make_key("acme", (CREDIT, MINILM))


# --- the domain check, datatype by datatype ------------------------------------------------------
@pytest.mark.parametrize(
    ("datatype", "good", "bad"),
    [
        ("BOOL", [True, False], [1, 0]),
        ("INT8", [-128, 127], [128, 0]),
        ("INT8", [0, 0], [True, 0]),
        ("UINT8", [0, 255], [-1, 0]),
        ("INT16", [-(2**15), 2**15 - 1], [2**15, 0]),
        ("UINT16", [0, 2**16 - 1], [2**16, 0]),
        ("INT32", [-(2**31), 2**31 - 1], [1.5, 0]),
        ("UINT32", [0, 2**32 - 1], [2**32, 0]),
        ("INT64", [-(2**63), 2**63 - 1], [2**63, 0]),
        ("INT64", [0, 0], [2**70, 0]),
        ("UINT64", [0, 2**64 - 1], [2**64, 0]),
        ("FP16", [65504.0, -1], [70000.0, 0.0]),
        ("BF16", [1.5, 3e38], [4e38, 0.0]),
        ("FP32", [0.5, 3], [EMAIL, 0.0]),
        ("FP32", [0.5, 3], [True, 0.0]),
        ("FP32", [0.5, 3], [1e39, 0.0]),
        ("FP32", [0.5, 3], [2**70, 0.0]),
        ("FP64", [1e300, -(2**63)], [float("nan"), 0.0]),
        ("FP64", [1e300, 2**64 - 1], [float("inf"), 0.0]),
        ("BYTES", ["a", ""], [1, "a"]),
        ("BYTES", ["a", "b"], [None, "a"]),
    ],
)
def test_each_element_must_be_a_value_of_the_datatype(datatype: str, good: list[Any], bad: list[Any]) -> None:
    assert check_tensor(tensor(datatype, [2], good)) == 2
    with pytest.raises(TensorMismatch) as info:
        check_tensor(tensor(datatype, [2], bad))
    assert "element 0" in info.value.detail and info.value.status == 400


@pytest.mark.parametrize(
    ("shape", "data", "count"),
    [
        ([2, 2], [1, 2, 3, 4], 4),
        ([2, 2], [[1, 2], [3, 4]], 4),
        ([], [7], 1),
        ([0, 3], [], 0),
        ([1, 1, 2], [[[1, 2]]], 2),
    ],
)
def test_flat_and_nested_data_count_against_the_shape(shape: list[int], data: Any, count: int) -> None:
    assert check_tensor(tensor("INT32", shape, data)) == count


@pytest.mark.parametrize(
    ("shape", "data"),
    [
        ([2, 2], [1, 2, 3]),  # too few
        ([1], [1, 2]),  # too many
        ([2], [[1, 2]]),  # nested deeper than the rank
        ([-1], [1]),  # negative dimension
        ([2**63], [1]),  # wider than int64
        ([2**70], [1]),
        ([1.0], [1]),  # not an integer
        ([True], [1]),
        ("1", [1]),
        ([1] * 9, [1]),  # rank above 8
        ([1], "1"),  # data not a list
    ],
)
def test_shape_and_data_mismatches_are_400(shape: Any, data: Any) -> None:
    with pytest.raises(TensorMismatch):
        check_tensor(tensor("INT32", shape, data))


def test_unknown_datatype_and_missing_data_are_400() -> None:
    with pytest.raises(TensorMismatch):
        check_tensor(tensor("FLOAT", [1], [1.0]))
    with pytest.raises(TensorMismatch):
        check_tensor({"name": "x", "datatype": "FP32", "shape": [1]})


def test_total_elements_are_bounded_across_inputs() -> None:
    request = {"inputs": [tensor("UINT8", [3], [1, 2, 3], "a"), tensor("UINT8", [3], [1, 2, 3], "b")]}
    check_request(request, max_elements=6)
    with pytest.raises(InputTooLarge):
        check_request(request, max_elements=5)
    with pytest.raises(InputTooLarge):  # a huge shape is refused before its data is looked at
        check_tensor(tensor("UINT8", [2**40, 2**40], []))


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"inputs": [tensor("FP32", [1], [0.0], EMAIL)]}, InvalidTensorName),
        ({"inputs": [tensor("FP32", [1], [0.0], "features")]}, InvalidTensorName),  # undeclared
        ({"inputs": [tensor("FP32", [1], [0.0], "x")] * 2}, InvalidTensorName),  # duplicate
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "outputs": [{"name": EMAIL}]}, InvalidTensorName),
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "parameters": {EMAIL: 1}}, InvalidParameter),
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "parameters": {"1st": 1}}, InvalidParameter),
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "parameters": {"a": {"b": EMAIL}}}, InvalidParameter),
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "parameters": {"a": 2**64}}, InvalidParameter),
        ({"inputs": [tensor("FP32", [1], [0.0], "x")], "parameters": {"a": [[1]]}}, InvalidParameter),
        ({"inputs": [{**tensor("FP32", [1], [0.0], "x"), "parameters": {SSN: "v"}}]}, InvalidParameter),
        (
            {
                "inputs": [tensor("FP32", [1], [0.0], "x")],
                "outputs": [{"name": "y", "parameters": {EMAIL: 1}}],
            },
            InvalidParameter,
        ),
        ({"inputs": []}, TensorMismatch),
    ],
)
def test_names_and_parameter_keys_are_identifiers_or_declared(
    request_: dict[str, Any], error: type[StewardError]
) -> None:
    with pytest.raises(error) as info:
        check_request(request_, inputs=None if "features" not in json.dumps(request_) else {"x"})
    assert EMAIL not in info.value.detail and SSN not in info.value.detail


def test_declared_names_are_accepted_as_declared() -> None:
    check_request(
        {"inputs": [tensor("FP32", [1], [0.0], "input.1")], "outputs": [{"name": "out:0"}]},
        inputs={"input.1"},
        outputs={"out:0"},
    )
    check_request(
        {"inputs": [tensor("FP32", [1], [0.0], "onnx::x/y-z")], "parameters": {"priority": 1, "tag": "t"}}
    )


def test_binary_extension_flags_are_stripped_and_nothing_else() -> None:
    request = {
        "parameters": {"binary_data_output": True, "priority": 1},
        "inputs": [{**tensor("FP32", [1], [0.0]), "parameters": {"binary_data_size": 4}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": True, "classification": 2}}, {"name": "z"}],
    }
    assert without_binary_parameters(request) == {
        "parameters": {"priority": 1},
        "inputs": [tensor("FP32", [1], [0.0])],
        "outputs": [{"name": "y", "parameters": {"classification": 2}}, {"name": "z"}],
    }
    assert request["parameters"] == {"binary_data_output": True, "priority": 1}  # not mutated
    assert without_binary_parameters({"parameters": {"binary_data_output": False}, "inputs": []}) == {
        "inputs": []
    }


# --- through the API: nothing unchecked reaches the backend ------------------------------------
def test_strings_in_a_non_bytes_tensor_are_refused_before_the_backend(
    client: TestClient, credit_key: str, transport: FakeTransport
) -> None:
    # Given an FP32 input carrying personal data as strings
    body = features([EMAIL, SSN, 0.1])
    # When it is inferred or explained
    for path in (f"/v2/models/{CREDIT}/infer", f"/v1/models/{CREDIT}/explain"):
        response = client.post(path, headers=bearer(credit_key), json=body)
        # Then it is refused with 400 naming the position, never the value
        assert "inputs[0]" in refused(response, 400, "input.tensor_mismatch")["detail"]
    # And the backend was never called
    assert transport.calls == []


def serialised_like_http(target: Target, request: BackendRequest) -> BackendResponse:
    """Serialise the request as `HttpTransport` does (orjson: 64-bit integers at most)."""
    orjson.dumps(request.payload)
    return BackendResponse(200, b'{"outputs": []}')


@pytest.mark.parametrize(
    "body",
    [
        features([2**70], datatype="INT64"),
        features([2**64 + 1], datatype="UINT64"),
        features([1.0], shape=[2**70, 1]),
        features([1.0], shape=[1, 2**64]),
    ],
)
def test_integers_wider_than_64_bits_are_4xx_not_500(
    client: TestClient, credit_key: str, transport: FakeTransport, body: dict[str, Any]
) -> None:
    transport.respond = serialised_like_http
    response = client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(credit_key), json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] in {"input.tensor_mismatch", "input.invalid"}
    assert transport.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [tensor("FP32", [1, 1], [0.5], EMAIL)]},
        {"inputs": [tensor("FP32", [1, 1], [0.5], "text")]},  # not what the credit model declares
        features([0.5], outputs=[{"name": EMAIL}]),
        features([0.5], parameters={EMAIL: "x"}),
        features([0.5], outputs=[{"name": "probabilities", "parameters": {SSN: True}}]),
        {"inputs": [{**tensor("FP32", [1, 1], [0.5], "features"), "parameters": {EMAIL: 1}}]},
    ],
)
def test_names_and_parameter_keys_carrying_text_are_refused(
    client: TestClient, credit_key: str, transport: FakeTransport, body: dict[str, Any]
) -> None:
    response = client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(credit_key), json=body)
    assert response.status_code == 400, response.text
    refused(response, 400, response.json()["code"])
    assert response.json()["code"] in {"input.invalid_tensor_name", "input.invalid_parameter"}
    assert transport.calls == []


def test_every_parameter_value_is_redacted_before_the_backend(
    client: TestClient, credit_key: str, transport: FakeTransport
) -> None:
    # Given personal data in request, input and requested-output parameter values
    body = {
        "parameters": {"note": f"for {EMAIL}", "tags": [SSN, "plain"]},
        "inputs": [{**tensor("FP32", [1, 1], [0.5], "features"), "parameters": {"who": EMAIL}}],
        "outputs": [{"name": "probabilities", "parameters": {"why": f"ssn {SSN}"}}],
    }
    transport.respond = lambda t, r: BackendResponse(200, b'{"outputs": []}')
    response = client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(credit_key), json=body)
    assert response.status_code == 200, response.text
    # Then the backend saw placeholders only, and the structure unchanged
    sent = transport.calls[0][1].payload
    text = json.dumps(sent)
    assert EMAIL not in text and SSN not in text
    assert sent["outputs"][0]["name"] == "probabilities"
    assert set(sent["outputs"][0]["parameters"]) == {"why"}
    assert sent["parameters"]["tags"][1] == "plain"


def model_writes_pii(target: Target, request: BackendRequest) -> BackendResponse:
    """A backend that writes personal data everywhere an OIP answer has a string."""
    answer = {
        "model_name": request.model,
        "id": f"id {EMAIL}",
        "parameters": {"summary": f"about {EMAIL}", "list": [f"ssn {SSN}"], EMAIL: 1},
        "outputs": [
            {
                "name": f"out {EMAIL}",
                "datatype": "FP32",
                "shape": [1, 2],
                "data": [f"mail {EMAIL}", 0.5],
                "parameters": {"note": f"ssn {SSN}", "nested": {"deep": [f"to {EMAIL}"]}},
            },
            {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]},
        ],
    }
    return BackendResponse(200, json.dumps(answer).encode())


def test_every_string_the_backend_returns_is_filtered(
    client: TestClient, credit_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    # Given a model that writes personal data into parameters, names and data of its answer
    transport.respond = model_writes_pii
    for path in (f"/v2/models/{CREDIT}/infer", f"/v1/models/{CREDIT}/explain"):
        # When the caller infers (or asks for an explanation) with harmless input
        response = client.post(path, headers=bearer(credit_key), json=features([0.5, 0.1]))
        # Then none of it reaches the caller, and the numbers are untouched
        assert response.status_code == 200, response.text
        assert EMAIL not in response.text and SSN not in response.text
        body = response.json()
        assert body["outputs"][1] == {
            "name": "probabilities",
            "datatype": "FP32",
            "shape": [1, 2],
            "data": [0.25, 0.75],
        }
        assert body["outputs"][0]["data"][1] == 0.5
        assert "<EMAIL_ADDRESS" in body["parameters"]["summary"]
    assert audit_store.records[-1]["pii_counts"]


def test_only_the_callers_own_values_are_restored_across_the_strings_of_an_answer(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # Given a model that echoes the caller's placeholder and writes another address twice
    other = "boss@corp.example"

    def answer(target: Target, request: BackendRequest) -> BackendResponse:
        (sent,) = request.payload["inputs"][0]["data"]
        data = [sent, f"cc {other}", f"again {other}"]
        body = {"outputs": [{"name": "echo", "datatype": "BYTES", "shape": [3], "data": data}]}
        return BackendResponse(200, json.dumps(body).encode())

    transport.respond = answer
    body = {"inputs": [tensor("BYTES", [1], [f"mail {EMAIL}"], "text")]}
    response = client.post(f"/v2/models/{MINILM}/infer", headers=bearer(api_key), json=body)
    # Then the caller's own value comes back, the model's never does (in any of its strings)
    assert response.status_code == 200, response.text
    data = response.json()["outputs"][0]["data"]
    assert data[0] == f"mail {EMAIL}"
    assert other not in response.text
    assert data[1].startswith("cc <EMAIL_ADDRESS_") and data[2].startswith("again <EMAIL_ADDRESS_")
