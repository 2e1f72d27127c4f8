"""OpenAI embeddings <-> OIP conversion."""

from __future__ import annotations

import base64
import struct

import pytest
from steward.errors import BackendError
from steward.inference import embeddings as emb


def oip(n: int, dim: int, data: list[object] | None = None) -> dict[str, object]:
    flat = data if data is not None else [float(i) for i in range(n * dim)]
    return {"outputs": [{"name": "embedding", "datatype": "FP32", "shape": [n, dim], "data": flat}]}


def test_request_is_a_bytes_tensor_of_the_texts() -> None:
    assert emb.build_request(["a", "b"]) == {
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}]
    }


def test_flat_and_nested_outputs_give_the_same_vectors() -> None:
    flat = emb.parse_response(oip(2, 3), 2, ["a", "b"])
    nested = emb.parse_response(oip(2, 3, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), 2, ["a", "b"])
    assert flat.vectors == nested.vectors == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"outputs": []},
        oip(1, 3),  # wrong batch size for 2 inputs
        oip(2, 3, [1.0] * 5),  # wrong element count
        oip(2, 3, [float("nan")] * 6),
        oip(2, 3, ["x"] * 6),
    ],
)
def test_inconsistent_backend_answers_are_backend_errors(payload: dict[str, object]) -> None:
    with pytest.raises(BackendError):
        emb.parse_response(payload, 2, ["a", "b"])


def test_base64_is_little_endian_float32() -> None:
    encoded = emb.encode_vector([0.5, -1.25], "base64")
    assert isinstance(encoded, str)
    assert struct.unpack("<2f", base64.b64decode(encoded)) == (0.5, -1.25)


def test_usage_prefers_backend_counts_and_falls_back_to_an_estimate() -> None:
    payload = oip(1, 2)
    assert emb.parse_response(payload, 1, ["hello world!"]).prompt_tokens == 5  # hello world ! + 2
    payload["parameters"] = {"token_counts": [7]}
    assert emb.parse_response(payload, 1, ["hello world!"]).prompt_tokens == 7


def test_openai_response_shape() -> None:
    body = emb.openai_response("m@2", emb.Embeddings([[1.0]], 3), "float")
    assert body == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}],
        "model": "m@2",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
