"""Open Inference Protocol tensors <-> numpy, strictly.

Covers the JSON tensor format for every OIP datatype (data flat in row-major order or nested) and
Triton's binary tensor data extension (`Inference-Header-Content-Length`), which the Triton HTTP
client uses by default. Every check raises `InvalidInputError` with a message that names the tensor
and what is wrong, so a bad request is always a 400 and never reaches the model.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gpu_backend.errors import InvalidInputError
from gpu_backend.manifest import TensorSpec

NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
INT_TYPES = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
HEADER_LENGTH = "inference-header-content-length"
_JSON_NUMPY = orjson.OPT_SERIALIZE_NUMPY


@dataclass
class Tensor:
    """A decoded request tensor; `array` already has `shape` and the datatype's numpy dtype."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray
    parameters: dict[str, Any]


# ---------------------------------------------------------------------------------------- body


def loads_json(body: bytes) -> Any:
    """Parse JSON fast (orjson); fall back to the stdlib only to accept NaN/Infinity literals."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"request body is not valid UTF-8 at byte {exc.start}: "
                "BYTES elements and all JSON text must be UTF-8"
            ) from None
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidInputError(f"request body is not valid JSON: {fast_error}") from None


def split_binary_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """Separate the JSON header from appended binary tensor data (binary tensor data extension)."""
    if header_length is None:
        return body, b""
    try:
        n = int(header_length)
    except ValueError:
        raise InvalidInputError("Inference-Header-Content-Length must be an integer") from None
    if n < 0 or n > len(body):
        raise InvalidInputError(
            f"Inference-Header-Content-Length {n} is outside the body of {len(body)} bytes"
        )
    return body[:n], body[n:]


# -------------------------------------------------------------------------------------- decode


def _shape(raw: Any, name: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in raw):
        raise InvalidInputError(f"input '{name}': 'shape' must be a list of integers")
    if any(d < 0 for d in raw):
        raise InvalidInputError(f"input '{name}': shape {raw} has a negative dimension")
    return tuple(raw)


def _flatten(data: Any, out: list[Any]) -> None:
    for item in data:
        if isinstance(item, list):
            _flatten(item, out)
        else:
            out.append(item)


def _decode_bytes_json(data: list[Any], name: str) -> np.ndarray:
    flat: list[Any] = []
    _flatten(data, flat)
    for i, item in enumerate(flat):
        if not isinstance(item, str):
            raise InvalidInputError(
                f"input '{name}': BYTES element {i} must be a string, got {type(item).__name__}"
            )
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(
                f"input '{name}': BYTES element {i} is not valid UTF-8 (lone surrogate escape)"
            ) from None
    arr = np.empty(len(flat), dtype=object)
    arr[:] = flat
    return arr


def _decode_numeric_json(data: list[Any], datatype: str, name: str) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except (ValueError, OverflowError):
        raise InvalidInputError(
            f"input '{name}': 'data' is ragged or not a list of {datatype} values"
        ) from None
    kind = arr.dtype.kind
    dtype = NUMPY_DTYPES[datatype]
    if datatype == "BOOL":
        if kind != "b":
            raise InvalidInputError(f"input '{name}': BOOL data must be true/false, got {_kind_label(kind)}")
        return arr.reshape(-1)
    if datatype in INT_TYPES:
        if kind in "fO":
            return _decode_big_ints(data, datatype, name)
        if kind not in "iu":
            raise InvalidInputError(
                f"input '{name}': {datatype} data must be integers, got {_kind_label(kind)}"
            )
        info = np.iinfo(dtype)
        if arr.size and (int(arr.min()) < info.min or int(arr.max()) > info.max):
            raise InvalidInputError(
                f"input '{name}': a value is outside the {datatype} range [{info.min}, {info.max}]"
            )
        return arr.reshape(-1).astype(dtype, copy=False)
    if kind not in "iuf":
        raise InvalidInputError(f"input '{name}': {datatype} data must be numbers, got {_kind_label(kind)}")
    with np.errstate(over="ignore"):
        out = arr.reshape(-1).astype(dtype, copy=False)
    if datatype != "FP64" and kind == "f" and not np.isfinite(out).all():
        # A finite value too large for the type would silently become inf.
        overflow = np.isinf(out) & np.isfinite(arr.reshape(-1))
        if overflow.any():
            raise InvalidInputError(f"input '{name}': a value is too large for {datatype}")
    return out


def _decode_big_ints(data: list[Any], datatype: str, name: str) -> np.ndarray:
    """Slow path: numpy turns a list with ints beyond int64 (e.g. UINT64 max) into floats or
    objects, so check the Python values one by one instead."""
    flat: list[Any] = []
    _flatten(data, flat)
    if not all(type(v) is int for v in flat):
        raise InvalidInputError(f"input '{name}': {datatype} data must be integers")
    info = np.iinfo(NUMPY_DTYPES[datatype])
    if flat and (min(flat) < info.min or max(flat) > info.max):
        raise InvalidInputError(
            f"input '{name}': a value is outside the {datatype} range [{info.min}, {info.max}]"
        )
    return np.array(flat, dtype=NUMPY_DTYPES[datatype])


def _kind_label(kind: str) -> str:
    return {"b": "booleans", "i": "integers", "u": "integers", "f": "floating-point numbers",
            "U": "strings", "O": "mixed or null values"}.get(kind, "other values")  # fmt: skip


def _decode_bytes_binary(chunk: bytes, count: int, name: str) -> np.ndarray:
    items: list[str] = []
    offset = 0
    for i in range(count):
        if offset + 4 > len(chunk):
            raise InvalidInputError(f"input '{name}': binary BYTES data ends before element {i}")
        (length,) = struct.unpack_from("<I", chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise InvalidInputError(f"input '{name}': binary BYTES element {i} is truncated")
        try:
            items.append(chunk[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInputError(f"input '{name}': BYTES element {i} is not valid UTF-8") from None
        offset += length
    if offset != len(chunk):
        raise InvalidInputError(f"input '{name}': binary BYTES data has {len(chunk) - offset} trailing bytes")
    arr = np.empty(count, dtype=object)
    arr[:] = items
    return arr


def decode_inputs(raw_inputs: Any, binary: bytes = b"") -> list[Tensor]:
    """Decode the request's `inputs` list (JSON and/or binary data) into numpy tensors."""
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInputError("'inputs' must be a non-empty list of tensors")
    tensors: list[Tensor] = []
    seen: set[str] = set()
    offset = 0
    for i, raw in enumerate(raw_inputs):
        if not isinstance(raw, dict):
            raise InvalidInputError(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"inputs[{i}] has no 'name'")
        if name in seen:
            raise InvalidInputError(f"input '{name}' is given more than once")
        seen.add(name)
        datatype = raw.get("datatype")
        if not isinstance(datatype, str):
            raise InvalidInputError(f"input '{name}' has no 'datatype'")
        if datatype not in NUMPY_DTYPES:
            raise InvalidInputError(
                f"input '{name}': unsupported datatype {datatype!r}; use one of {list(NUMPY_DTYPES)}"
            )
        if "shape" not in raw:
            raise InvalidInputError(f"input '{name}' has no 'shape'")
        shape = _shape(raw["shape"], name)
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInputError(f"input '{name}': 'parameters' must be an object")
        count = math.prod(shape)
        binary_size = params.get("binary_data_size")
        if binary_size is not None:
            if not isinstance(binary_size, int) or isinstance(binary_size, bool) or binary_size < 0:
                raise InvalidInputError(f"input '{name}': binary_data_size must be a non-negative integer")
            if offset + binary_size > len(binary):
                raise InvalidInputError(
                    f"input '{name}': binary_data_size {binary_size} runs past the request body"
                )
            chunk = binary[offset : offset + binary_size]
            offset += binary_size
            if datatype == "BYTES":
                flat = _decode_bytes_binary(chunk, count, name)
            else:
                dtype = NUMPY_DTYPES[datatype].newbyteorder("<")
                if binary_size != count * dtype.itemsize:
                    raise InvalidInputError(
                        f"input '{name}': binary_data_size {binary_size} does not match shape {list(shape)} "
                        f"of {datatype} ({count * dtype.itemsize} bytes)"
                    )
                flat = np.frombuffer(chunk, dtype=dtype).astype(NUMPY_DTYPES[datatype])
        else:
            if "data" not in raw:
                raise InvalidInputError(f"input '{name}' has no 'data'")
            data = raw["data"]
            if not isinstance(data, list):
                raise InvalidInputError(f"input '{name}': 'data' must be a list")
            flat = (
                _decode_bytes_json(data, name)
                if datatype == "BYTES"
                else _decode_numeric_json(data, datatype, name)
            )
        if flat.size != count:
            raise InvalidInputError(
                f"input '{name}': shape {list(shape)} needs {count} elements but 'data' has {flat.size}"
            )
        tensors.append(
            Tensor(name=name, datatype=datatype, shape=shape, array=flat.reshape(shape), parameters=params)
        )
    if offset != len(binary):
        raise InvalidInputError(f"request has {len(binary) - offset} bytes of binary data no input claims")
    return tensors


def check_against_spec(tensor: Tensor, spec: TensorSpec, model: str) -> None:
    """The tensor has the datatype, rank and fixed dimensions the model declares."""
    if tensor.datatype != spec.datatype:
        raise InvalidInputError(
            f"input '{tensor.name}' has datatype {tensor.datatype} "
            f"but model '{model}' expects {spec.datatype}"
        )
    if len(tensor.shape) != len(spec.shape) or any(
        want != -1 and got != want for got, want in zip(tensor.shape, spec.shape, strict=True)
    ):
        raise InvalidInputError(
            f"input '{tensor.name}' has shape {list(tensor.shape)} but model '{model}' expects "
            f"{list(spec.shape)} (-1 = any size)"
        )
    if tensor.array.size == 0:
        raise InvalidInputError(
            f"input '{tensor.name}' has no elements (shape {list(tensor.shape)}): "
            "an empty batch cannot be inferred"
        )


def check_finite(tensor: Tensor, model: str) -> None:
    if tensor.datatype in FLOAT_TYPES and not np.isfinite(tensor.array).all():
        bad = int((~np.isfinite(tensor.array)).sum())
        raise InvalidInputError(
            f"input '{tensor.name}' contains {bad} NaN or infinite value(s); "
            f"model '{model}' does not accept them"
        )


# -------------------------------------------------------------------------------------- encode


def _bytes_items(arr: np.ndarray) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]


def _binary_payload(arr: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts: list[bytes] = []
        for v in arr.reshape(-1):
            raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(arr, dtype=NUMPY_DTYPES[datatype].newbyteorder("<")).tobytes()


def encode_response(
    header: dict[str, Any],
    outputs: Sequence[tuple[TensorSpec, np.ndarray, bool]],
) -> tuple[bytes, int | None]:
    """Serialise an inference response; returns (body, JSON header length when binary data follows).

    `outputs` holds (spec, array, as_binary). Non-finite floats are written as NaN/Infinity
    literals (like the stdlib and rapidjson do) rather than null, so clients see what the model said.
    """
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    non_finite = False
    for spec, arr, as_binary in outputs:
        entry: dict[str, Any] = {"name": spec.name, "datatype": spec.datatype, "shape": list(arr.shape)}
        if as_binary:
            blob = _binary_payload(arr, spec.datatype)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif spec.datatype == "BYTES":
            entry["data"] = _bytes_items(arr)
        else:
            flat = np.ascontiguousarray(arr, dtype=NUMPY_DTYPES[spec.datatype]).reshape(-1)
            if spec.datatype in FLOAT_TYPES and not np.isfinite(flat).all():
                non_finite = True
            entry["data"] = flat
        entries.append(entry)
    body = dict(header, outputs=entries)
    if non_finite:
        text = json.dumps(
            body, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o), allow_nan=True
        )
        encoded = text.encode("utf-8")
    else:
        encoded = orjson.dumps(body, option=_JSON_NUMPY)
    if not blobs:
        return encoded, None
    return encoded + b"".join(blobs), len(encoded)
