"""OIP tensor decoding/encoding: every datatype, strict validation, binary extension."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from gpu_backend.codec import (
    NUMPY_DTYPES,
    check_against_spec,
    check_finite,
    decode_inputs,
    encode_response,
    loads_json,
    split_binary_body,
)
from gpu_backend.errors import InvalidInputError
from gpu_backend.manifest import TensorSpec

SAMPLES: dict[str, list[Any]] = {
    "BOOL": [True, False, False, True],
    "UINT8": [0, 1, 254, 255],
    "UINT16": [0, 1, 2, 65535],
    "UINT32": [0, 1, 2, 4294967295],
    "UINT64": [0, 1, 2, 3],
    "INT8": [-128, -1, 0, 127],
    "INT16": [-32768, 0, 1, 32767],
    "INT32": [-(2**31), 0, 1, 2**31 - 1],
    "INT64": [-(2**63), 0, 1, 2**63 - 1],
    "FP16": [0.5, -1.0, 2.0, 65504.0],
    "FP32": [0.25, -1.5, 3.0, 1e30],
    "FP64": [0.1, -1e300, 3.0, 7],
    "BYTES": ["hello", "wörld", "", "🚀"],
}


def tensor(datatype: str, data: Any, shape: list[int] | None = None, name: str = "x") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape or [2, 2], "data": data}


@pytest.mark.parametrize("datatype", sorted(SAMPLES))
def test_every_datatype_decodes_to_its_numpy_dtype_and_shape(datatype: str) -> None:
    # Given a flat row-major JSON tensor of that datatype
    raw = tensor(datatype, SAMPLES[datatype])
    # When it is decoded
    (decoded,) = decode_inputs([raw])
    # Then the array has the OIP shape, the datatype's dtype and the same values
    assert decoded.array.shape == (2, 2)
    assert decoded.array.dtype == NUMPY_DTYPES[datatype]
    expected = np.array(SAMPLES[datatype], dtype=NUMPY_DTYPES[datatype]).reshape(2, 2)
    assert (decoded.array == expected).all()


def test_nested_data_is_accepted_like_flat_data() -> None:
    # Given the same tensor nested and flat
    nested, flat = tensor("INT32", [[1, 2], [3, 4]]), tensor("INT32", [1, 2, 3, 4])
    # When both are decoded
    # Then they are equal
    assert (decode_inputs([nested])[0].array == decode_inputs([flat])[0].array).all()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (tensor("INT32", [1.5, 2, 3, 4]), "must be integers"),
        (tensor("UINT8", [1, 2, 3, 256]), "outside the UINT8 range"),
        (tensor("INT8", [-129, 0, 0, 0]), "outside the INT8 range"),
        (tensor("BOOL", [1, 0, 1, 0]), "must be true/false"),
        (tensor("FP32", [True, False, True, True]), "must be numbers"),
        (tensor("FP32", ["1", 1.0, 2.0, 3.0]), "must be numbers"),
        (tensor("FP32", [None, 1.0, 2.0, 3.0]), "must be numbers"),
        (tensor("FP16", [1e6, 1.0, 2.0, 3.0]), "too large for FP16"),
        (tensor("FP32", [[1.0, 2.0], [3.0]]), "ragged"),
        (tensor("FP32", [1.0, 2.0, 3.0]), "needs 4 elements but 'data' has 3"),
        (tensor("BYTES", ["a", 1, "b", "c"]), "BYTES element 1 must be a string"),
        (tensor("BF16", [1, 2, 3, 4]), "unsupported datatype"),
        (tensor("FP32", [1, 2, 3, 4], shape=[2, -2]), "negative dimension"),
        ({"name": "x", "datatype": "FP32", "shape": [1]}, "has no 'data'"),
        ({"name": "x", "datatype": "FP32", "data": [1]}, "has no 'shape'"),
        ({"datatype": "FP32", "shape": [1], "data": [1]}, "has no 'name'"),
        ({"name": "x", "shape": [1], "data": [1]}, "has no 'datatype'"),
        ({"name": "x", "datatype": "FP32", "shape": "1", "data": [1]}, "'shape' must be a list"),
    ],
)
def test_malformed_tensors_are_refused_with_a_message_naming_the_problem(
    raw: dict[str, Any], message: str
) -> None:
    # Given a tensor that breaks one rule
    # When it is decoded
    # Then an InvalidInputError says what is wrong
    with pytest.raises(InvalidInputError, match=message):
        decode_inputs([raw])


def test_a_lone_surrogate_in_bytes_is_refused_as_non_utf8() -> None:
    # Given BYTES data decoded by a lenient JSON parser (a lone surrogate escape survives)
    raw = json.loads('{"name": "t", "datatype": "BYTES", "shape": [1], "data": ["bad \\udcff"]}')
    # When it is decoded
    # Then it is refused as not UTF-8
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        decode_inputs([raw])


def test_duplicate_and_empty_input_lists_are_refused() -> None:
    # Given a request naming one input twice, and one with no inputs
    # When decoded
    # Then both are refused
    with pytest.raises(InvalidInputError, match="more than once"):
        decode_inputs([tensor("FP32", [1, 2, 3, 4]), tensor("FP32", [1, 2, 3, 4])])
    with pytest.raises(InvalidInputError, match="non-empty list"):
        decode_inputs([])


def test_loads_json_accepts_nan_literals_and_rejects_invalid_utf8() -> None:
    # Given a body with a NaN literal (as Python's json.dumps writes it) and one with a bad byte
    # When parsed
    # Then NaN survives and the bad byte is reported as a UTF-8 problem
    assert np.isnan(loads_json(b'{"v": NaN}')["v"])
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        loads_json(b'{"v": "\xff"}')
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        loads_json(b'{"v": ')


def test_spec_checks_name_datatype_shape_and_emptiness() -> None:
    # Given a model spec FP32 [-1, 3]
    spec = TensorSpec("x", "FP32", (-1, 3))
    # When tensors of the wrong datatype, wrong width or empty batch are checked
    # Then each is refused with its own message
    (wrong_type,) = decode_inputs([tensor("FP64", [1, 2, 3], shape=[1, 3])])
    with pytest.raises(InvalidInputError, match="expects FP32"):
        check_against_spec(wrong_type, spec, "m")
    (wrong_shape,) = decode_inputs([tensor("FP32", [1, 2, 3, 4], shape=[1, 4])])
    with pytest.raises(InvalidInputError, match=r"expects \[-1, 3\]"):
        check_against_spec(wrong_shape, spec, "m")
    (empty,) = decode_inputs([tensor("FP32", [], shape=[0, 3])])
    with pytest.raises(InvalidInputError, match="empty batch"):
        check_against_spec(empty, spec, "m")


def test_non_finite_floats_are_found() -> None:
    # Given FP32 data with an infinity
    (t,) = decode_inputs([tensor("FP32", [1.0, float("inf"), 0.0, 1.0])])
    # When checked for finiteness
    # Then the count of bad values is reported
    with pytest.raises(InvalidInputError, match="1 NaN or infinite"):
        check_finite(t, "m")


def test_binary_tensor_data_extension_decodes_numbers_and_bytes() -> None:
    # Given a request header and appended binary data for an FP32 and a BYTES tensor
    floats = np.array([[1.0, 2.0], [3.0, 4.0]], dtype="<f4").tobytes()
    strings = b"".join(struct.pack("<I", len(s)) + s for s in ("héllo".encode(), b"x"))
    header = {
        "inputs": [
            {
                "name": "f",
                "datatype": "FP32",
                "shape": [2, 2],
                "parameters": {"binary_data_size": len(floats)},
            },
            {
                "name": "s",
                "datatype": "BYTES",
                "shape": [2],
                "parameters": {"binary_data_size": len(strings)},
            },
        ]
    }
    head = json.dumps(header).encode()
    json_part, binary = split_binary_body(head + floats + strings, str(len(head)))
    # When decoded
    f, s = decode_inputs(loads_json(json_part)["inputs"], binary)
    # Then both tensors hold the values
    assert f.array.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert s.array.tolist() == ["héllo", "x"]


def test_binary_bytes_that_are_not_utf8_are_refused() -> None:
    # Given binary BYTES data with an invalid UTF-8 sequence
    blob = struct.pack("<I", 2) + b"\xc3\x28"
    raw = {"name": "s", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": len(blob)}}
    # When decoded
    # Then it is refused
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        decode_inputs([raw], blob)


def test_encode_response_writes_nan_as_a_literal_and_binary_outputs_after_the_header() -> None:
    # Given one JSON output holding NaN and one binary output
    spec_a, spec_b = TensorSpec("a", "FP32", (-1,)), TensorSpec("b", "INT32", (-1,))
    a = np.array([1.0, np.nan], dtype=np.float32)
    b = np.array([7, 8], dtype=np.int32)
    # When encoded
    body, header_length = encode_response({"model_name": "m"}, [(spec_a, a, False), (spec_b, b, True)])
    # Then the header parses with NaN, and the binary tail is b's little-endian bytes
    assert header_length is not None
    header = json.loads(body[:header_length])
    assert header["outputs"][0]["data"][0] == 1.0 and np.isnan(header["outputs"][0]["data"][1])
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 8}
    assert np.frombuffer(body[header_length:], dtype="<i4").tolist() == [7, 8]
