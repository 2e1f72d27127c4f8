"""The OIP binary tensor data extension codec (`steward.inference.oip_binary`): both directions, no numpy."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from steward.errors import BackendError, MalformedJson, StewardError
from steward.inference.oip_binary import (
    MalformedBinary,
    OutputEncoding,
    decode_request,
    encode_response,
    split_body,
)


def _bytes_tensor(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def _binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + b"".join(blobs), str(len(head))


def _decode(body: bytes, length: str | None) -> tuple[Any, OutputEncoding]:
    header, binary = split_body(body, length)
    return decode_request(header, binary)


def test_binary_inputs_become_the_json_shaped_request() -> None:
    # Given a BYTES and an FP32 tensor sent as binary data, and a JSON INT64 tensor
    text = _bytes_tensor(b"mail jane@example.com", "héllo".encode())
    floats = struct.pack("<3f", 0.5, -1.25, 3.0)
    header = {
        "id": "r1",
        "inputs": [
            {
                "name": "text",
                "datatype": "BYTES",
                "shape": [2],
                "parameters": {"binary_data_size": len(text)},
            },
            {
                "name": "x",
                "datatype": "FP32",
                "shape": [1, 3],
                "parameters": {"binary_data_size": 12, "k": 1},
            },
            {"name": "n", "datatype": "INT64", "shape": [1], "data": [7]},
        ],
        "parameters": {"binary_data_output": True, "priority": 1},
    }
    body, length = _binary_body(header, text, floats)

    # When it is decoded
    payload, encoding = _decode(body, length)

    # Then every tensor carries JSON data, the extension's own parameters are gone
    assert payload["inputs"][0] == {
        "name": "text",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["mail jane@example.com", "héllo"],
    }
    assert payload["inputs"][1] == {
        "name": "x",
        "datatype": "FP32",
        "shape": [1, 3],
        "parameters": {"k": 1},
        "data": [0.5, -1.25, 3.0],
    }
    assert payload["inputs"][2]["data"] == [7]
    assert payload["parameters"] == {"priority": 1}
    assert encoding.binary("anything") and encoding.any


def test_every_numeric_datatype_decodes_little_endian() -> None:
    cases: list[tuple[str, str, list[Any]]] = [
        ("BOOL", "?", [True, False]),
        ("UINT8", "B", [0, 255]),
        ("UINT16", "H", [1, 65535]),
        ("UINT32", "I", [2, 2**32 - 1]),
        ("UINT64", "Q", [3, 2**64 - 1]),
        ("INT8", "b", [-128, 127]),
        ("INT16", "h", [-1, 2]),
        ("INT32", "i", [-(2**31), 5]),
        ("INT64", "q", [-(2**63), 6]),
        ("FP16", "e", [0.5, -2.0]),
        ("FP64", "d", [0.1, 1e300]),
    ]
    for datatype, code, values in cases:
        blob = struct.pack(f"<{len(values)}{code}", *values)
        header = {
            "inputs": [
                {
                    "name": "t",
                    "datatype": datatype,
                    "shape": [2],
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
        body, length = _binary_body(header, blob)
        payload, _ = _decode(body, length)
        assert payload["inputs"][0]["data"] == values, datatype


def test_bf16_is_the_upper_half_of_fp32() -> None:
    blob = struct.pack("<2H", 0x3F80, 0xC040)  # 1.0, -3.0
    header = {
        "inputs": [{"name": "t", "datatype": "BF16", "shape": [2], "parameters": {"binary_data_size": 4}}]
    }
    body, length = _binary_body(header, blob)
    payload, _ = _decode(body, length)
    assert payload["inputs"][0]["data"] == [1.0, -3.0]
    encoded, n = encode_response(
        {"outputs": [{"name": "y", "datatype": "BF16", "shape": [2], "data": [1.0, -3.0]}]},
        OutputEncoding(True),
    )
    assert n is not None and encoded[n:] == blob


def test_a_body_without_the_header_is_plain_json_and_keeps_the_request_level_choice() -> None:
    payload, encoding = _decode(
        b'{"inputs": [], "outputs": [{"name": "a", "parameters": {"binary_data": true}}]}', None
    )
    assert payload == {"inputs": [], "outputs": [{"name": "a"}]}
    assert encoding.binary("a") and not encoding.binary("b")
    payload, encoding = _decode(b"[1, 2]", None)  # not an object: left for schema validation
    assert payload == [1, 2] and not encoding.any


def test_per_output_choice_overrides_the_request_default() -> None:
    _, encoding = _decode(
        json.dumps(
            {
                "inputs": [],
                "parameters": {"binary_data_output": True},
                "outputs": [{"name": "a", "parameters": {"binary_data": False}}, {"name": "b"}],
            }
        ).encode(),
        None,
    )
    assert not encoding.binary("a") and encoding.binary("b")


@pytest.mark.parametrize(
    ("body", "length"),
    [
        (b'{"inputs": []}', "99"),  # header length beyond the body
        (b'{"inputs": []}', "-1"),
        (b'{"inputs": []}', "1e3"),
        (b'{"inputs": []}', "\xb2"),  # a non-ASCII digit
        (b'{"inputs": []}xyz', "14"),  # trailing bytes no input claims
    ],
)
def test_malformed_framing_is_a_400_with_a_stable_code(body: bytes, length: str) -> None:
    with pytest.raises(MalformedBinary) as error:
        _decode(body, length)
    assert (error.value.status, error.value.code) == (400, "input.malformed_binary")


def _one_input(datatype: str, shape: Any, size: Any, blob: bytes, **extra: Any) -> tuple[bytes, str]:
    tensor = {
        "name": "jane@example.com",
        "datatype": datatype,
        "shape": shape,
        "parameters": {"binary_data_size": size},
    }
    return _binary_body({"inputs": [{**tensor, **extra}]}, blob)


@pytest.mark.parametrize(
    ("datatype", "shape", "size", "blob", "extra"),
    [
        ("FP32", [2], 8, struct.pack("<f", 1.0), {}),  # size runs past the body
        ("FP32", [3], 8, struct.pack("<2f", 1.0, 2.0), {}),  # size does not match the shape
        ("FP32", [2], 8, struct.pack("<2f", 1.0, 2.0), {"data": [1.0, 2.0]}),  # both data and binary
        ("FP32", [2], -8, b"", {}),
        ("FP32", [2], True, b"", {}),
        ("FP32", "2", 8, struct.pack("<2f", 1.0, 2.0), {}),
        ("FP32", [-1, -2], 8, struct.pack("<2f", 1.0, 2.0), {}),
        ("FP32", [2**70], 8, struct.pack("<2f", 1.0, 2.0), {}),
        ("FLOAT", [2], 8, struct.pack("<2f", 1.0, 2.0), {}),
        ("BYTES", [2], 9, _bytes_tensor(b"abcde"), {}),  # one element of two
        ("BYTES", [1], 9, _bytes_tensor(b"abcd") + b"!", {}),  # trailing bytes inside the tensor
        ("BYTES", [1], 6, struct.pack("<I", 9) + b"ab", {}),  # element runs past the tensor
        ("BYTES", [1], 6, _bytes_tensor(b"\xff\xfe"), {}),  # invalid UTF-8
        ("BYTES", [1], 7, _bytes_tensor(b"\xed\xa0\x80"), {}),  # an encoded surrogate
        ("BYTES", [10**9], 4, _bytes_tensor(b""), {}),  # a count the data cannot hold
    ],
)
def test_malformed_tensors_are_refused_without_echoing_the_input(
    datatype: str, shape: Any, size: Any, blob: bytes, extra: dict[str, Any]
) -> None:
    body, length = _one_input(datatype, shape, size, blob, **extra)
    with pytest.raises(MalformedBinary) as error:
        _decode(body, length)
    assert error.value.status == 400
    assert "jane" not in error.value.detail and "abcd" not in error.value.detail


def test_a_header_that_is_not_json_is_malformed_json() -> None:
    with pytest.raises(MalformedJson):
        _decode(b"{not json" + b"\x00" * 4, "9")
    with pytest.raises(MalformedJson):
        _decode(b"\xff\xfe", None)


@pytest.mark.parametrize(
    "header",
    [
        {"inputs": [], "parameters": {"binary_data_output": "yes"}},
        {"inputs": [], "outputs": [{"name": "a", "parameters": {"binary_data": 1}}]},
    ],
)
def test_extension_flags_must_be_booleans(header: dict[str, Any]) -> None:
    with pytest.raises(MalformedBinary):
        _decode(json.dumps(header).encode(), None)


def test_outputs_are_encoded_after_the_json_header() -> None:
    # Given an answer with FP32, INT64, BOOL and BYTES outputs (nested data, a null float)
    answer = {
        "model_name": "m",
        "id": "r",
        "outputs": [
            {"name": "p", "datatype": "FP32", "shape": [2, 2], "data": [[0.25, 0.75], [1.0, None]]},
            {"name": "k", "datatype": "INT64", "shape": [2], "data": [-1, 2**40]},
            {"name": "b", "datatype": "BOOL", "shape": [1], "data": [True]},
            {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["a", "é"], "parameters": {"x": 1}},
        ],
    }
    # When every output but "k" is asked for as binary data
    body, length = encode_response(answer, OutputEncoding(True, {"k": False}))

    # Then the JSON header names each binary output's size and the tensors follow in order
    assert length is not None
    header = json.loads(body[:length])
    assert header["model_name"] == "m" and header["id"] == "r"
    p, k, b, s = header["outputs"]
    assert "data" not in p and p["parameters"] == {"binary_data_size": 16}
    assert k["data"] == [-1, 2**40] and "parameters" not in k
    assert b["parameters"] == {"binary_data_size": 1}
    assert s["parameters"] == {"x": 1, "binary_data_size": 4 + 1 + 4 + 2}
    tail = body[length:]
    values = struct.unpack("<4f", tail[:16])
    assert values[:3] == (0.25, 0.75, 1.0) and math.isnan(values[3])
    assert tail[16:17] == b"\x01"
    assert tail[17:] == _bytes_tensor(b"a", "é".encode())


def test_no_binary_output_means_plain_json() -> None:
    answer = {"outputs": [{"name": "p", "datatype": "FP32", "shape": [1], "data": [0.5]}]}
    body, length = encode_response(answer, OutputEncoding(False))
    assert length is None and json.loads(body) == answer


@pytest.mark.parametrize(
    "output",
    [
        {"name": "p", "datatype": "FP32", "shape": [1], "data": ["text"]},
        {"name": "p", "datatype": "INT8", "shape": [1], "data": [300]},
        {"name": "p", "datatype": "INT32", "shape": [1], "data": [1.5]},
        {"name": "p", "datatype": "BOOL", "shape": [1], "data": ["false"]},
        {"name": "p", "datatype": "FP32", "shape": [3], "data": [1.0]},
        {"name": "p", "datatype": "FLOAT", "shape": [1], "data": [1.0]},
        {"name": "p", "datatype": "BYTES", "shape": [1], "data": [1]},
    ],
)
def test_an_answer_that_cannot_be_encoded_is_a_backend_error(output: dict[str, Any]) -> None:
    with pytest.raises(BackendError) as error:
        encode_response({"outputs": [output]}, OutputEncoding(True))
    assert isinstance(error.value, StewardError) and error.value.status == 502
