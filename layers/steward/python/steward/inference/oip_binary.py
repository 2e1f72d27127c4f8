"""The OIP binary tensor data extension (Triton's), both directions, without numpy.

A request may carry its tensors as raw bytes after the JSON header: the header
``Inference-Header-Content-Length: N`` says the first N bytes are JSON, and each input with
``parameters.binary_data_size`` takes its bytes from the rest, in input order (little-endian;
a BYTES element is a 4-byte length and its bytes). Decoding turns that into the JSON-shaped
request the gateway already governs, so the privacy guard sees binary BYTES tensors exactly as it
sees JSON strings. Answers are encoded after the gateway returned: the backend always answers
JSON (the extension's flags never reach it). Only ``struct`` is used: the Lambda import path stays
light.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from steward.errors import BackendError, MalformedJson, StewardError
from steward.inference.oip_tensors import row_major

HEADER_LENGTH = "inference-header-content-length"
BINARY_MEDIA_TYPE = "application/octet-stream"
EXTENSION = "binary_tensor_data"
SIZE = "binary_data_size"
OUTPUT_DEFAULT = "binary_data_output"
OUTPUT_CHOICE = "binary_data"

# datatype -> struct code (little-endian). BF16 travels as the upper 16 bits of an FP32.
_CODES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
    "BF16": "H",
}
_FLOATS = frozenset({"FP16", "FP32", "FP64", "BF16"})
_MAX_RANK = 8
_MAX_HEADER_DIGITS = 12


class MalformedBinary(StewardError):
    """The binary tensor data extension was used wrongly (framing, sizes, flags, UTF-8)."""

    status, code, title = 400, "input.malformed_binary", "Malformed binary tensor data"
    default_detail = "The binary tensor data does not match the JSON header."


@dataclass(frozen=True)
class OutputEncoding:
    """Which outputs the caller wants as binary data: a request default, per-output overrides."""

    default: bool = False
    named: Mapping[str, bool] = field(default_factory=dict)

    def binary(self, name: str) -> bool:
        return self.named.get(name, self.default)

    @property
    def any(self) -> bool:
        return self.default or any(self.named.values())


# ---------------------------------------------------------------------------------- request


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary data) of a request body; no header means the body is all JSON."""
    if header_length is None:
        return body, b""
    value = header_length.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_HEADER_DIGITS):
        raise MalformedBinary("Inference-Header-Content-Length must be a non-negative integer.")
    n = int(value)
    if n > len(body):
        raise MalformedBinary("Inference-Header-Content-Length is longer than the request body.")
    return body[:n], body[n:]


def decode_request(header: bytes, binary: bytes = b"") -> tuple[Any, OutputEncoding]:
    """The JSON-shaped request and the caller's output choice.

    Binary inputs get their ``data`` decoded; ``binary_data_size``, ``binary_data_output`` and
    ``outputs[].parameters.binary_data`` are taken out. A body that is not a JSON object is
    returned as parsed, for schema validation to refuse.
    """
    try:
        payload = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise MalformedJson() from None
    if not isinstance(payload, dict):
        if binary:
            raise MalformedBinary("Binary tensor data needs a JSON object header.")
        return payload, OutputEncoding()
    inputs = payload.get("inputs")
    offset = 0
    if isinstance(inputs, list):
        for index, tensor in enumerate(inputs):
            if isinstance(tensor, dict):
                offset = _decode_input(tensor, index, binary, offset)
    if offset != len(binary):
        raise MalformedBinary(f"{len(binary) - offset} bytes of binary data are claimed by no input.")
    return payload, _take_output_choice(payload)


def _decode_input(tensor: dict[str, Any], index: int, binary: bytes, offset: int) -> int:
    """Decode one input in place if it carries binary data; the new offset into ``binary``."""
    params = tensor.get("parameters")
    if not isinstance(params, dict) or SIZE not in params:
        return offset
    where = f"inputs[{index}]"
    size = params.pop(SIZE)
    if not params:
        del tensor["parameters"]
    if type(size) is not int or size < 0:
        raise MalformedBinary(f"{where}: binary_data_size must be a non-negative integer.")
    if "data" in tensor:
        raise MalformedBinary(f"{where}: give either 'data' or binary_data_size, not both.")
    datatype = tensor.get("datatype")
    if datatype != "BYTES" and datatype not in _CODES:
        raise MalformedBinary(f"{where}: this datatype cannot be sent as binary data.")
    count = _count(tensor.get("shape"))
    if count is None:
        raise MalformedBinary(f"{where}: 'shape' must be a list of non-negative integers.")
    if offset + size > len(binary):
        raise MalformedBinary(f"{where}: binary_data_size runs past the end of the body.")
    chunk = binary[offset : offset + size]
    if datatype == "BYTES":
        tensor["data"] = _decode_bytes(chunk, count, where)
    else:
        tensor["data"] = _decode_numbers(chunk, count, str(datatype), where)
    return offset + size


def _count(shape: Any) -> int | None:
    if not isinstance(shape, list) or len(shape) > _MAX_RANK:
        return None
    if not all(type(d) is int and 0 <= d < 2**63 for d in shape):
        return None
    return math.prod(shape)


def _decode_numbers(chunk: bytes, count: int, datatype: str, where: str) -> list[Any]:
    code = _CODES[datatype]
    if len(chunk) != count * struct.calcsize(code):
        raise MalformedBinary(f"{where}: binary_data_size does not match the shape and datatype.")
    values = struct.unpack(f"<{count}{code}", chunk)
    if datatype == "BF16":
        values = struct.unpack(f"<{count}f", struct.pack(f"<{count}I", *(v << 16 for v in values)))
    return list(values)


def _decode_bytes(chunk: bytes, count: int, where: str) -> list[str]:
    if count > len(chunk) // 4:
        raise MalformedBinary(f"{where}: the shape needs more BYTES elements than the data holds.")
    items: list[str] = []
    offset = 0
    for i in range(count):
        if offset + 4 > len(chunk):
            raise MalformedBinary(f"{where}: the BYTES data ends before element {i}.")
        (length,) = struct.unpack_from("<I", chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise MalformedBinary(f"{where}: BYTES element {i} runs past its tensor's data.")
        try:
            items.append(chunk[offset : offset + length].decode("utf-8"))  # strict: no surrogates
        except UnicodeDecodeError:
            raise MalformedBinary(f"{where}: BYTES element {i} is not valid UTF-8.") from None
        offset += length
    if offset != len(chunk):
        raise MalformedBinary(f"{where}: the BYTES data has bytes after its last element.")
    return items


def _take_output_choice(payload: dict[str, Any]) -> OutputEncoding:
    default = _pop_flag(payload, OUTPUT_DEFAULT, "parameters.binary_data_output")
    named: dict[str, bool] = {}
    outputs = payload.get("outputs")
    if isinstance(outputs, list):
        for index, output in enumerate(outputs):
            if not isinstance(output, dict):
                continue
            choice = _pop_flag(output, OUTPUT_CHOICE, f"outputs[{index}].parameters.binary_data")
            if choice is not None and isinstance(output.get("name"), str):
                named[output["name"]] = choice
    return OutputEncoding(default=bool(default), named=named)


def _pop_flag(holder: dict[str, Any], flag: str, where: str) -> bool | None:
    params = holder.get("parameters")
    if not isinstance(params, dict) or flag not in params:
        return None
    value = params.pop(flag)
    if not params:
        del holder["parameters"]
    if not isinstance(value, bool):
        raise MalformedBinary(f"{where} must be true or false.")
    return value


# --------------------------------------------------------------------------------- response


def encode_response(answer: Mapping[str, Any], encoding: OutputEncoding) -> tuple[bytes, int | None]:
    """The answer's body and, when binary tensors follow the JSON header, the header's length.

    An output the backend shaped wrongly (values of another type, a size that does not match its
    shape) is a backend fault: ``BackendError``, never caller content in the message.
    """
    outputs = answer.get("outputs")
    entries: list[Any] = []
    blobs: list[bytes] = []
    for output in outputs if isinstance(outputs, list) else []:
        if not (isinstance(output, dict) and "data" in output and encoding.binary(str(output.get("name")))):
            entries.append(output)
            continue
        blob = _encode(output)
        entry = {k: v for k, v in output.items() if k != "data"}
        params = output.get("parameters")
        entry["parameters"] = {**(params if isinstance(params, dict) else {}), SIZE: len(blob)}
        entries.append(entry)
        blobs.append(blob)
    if not blobs:
        return orjson.dumps(answer), None
    header = orjson.dumps({**answer, "outputs": entries})
    return header + b"".join(blobs), len(header)


def _encode(output: Mapping[str, Any]) -> bytes:
    datatype = output.get("datatype")
    count = _count(output.get("shape"))
    try:
        values = row_major(output.get("data"))
    except ValueError:
        raise BackendError() from None
    if count is None or count != len(values) or (datatype != "BYTES" and datatype not in _CODES):
        raise BackendError()
    try:
        if datatype == "BYTES":
            if not all(isinstance(v, str) for v in values):
                raise BackendError()
            raw = [v.encode("utf-8") for v in values]
            return b"".join(struct.pack("<I", len(r)) + r for r in raw)
        datatype = str(datatype)
        if datatype == "BOOL" and not all(isinstance(v, bool) for v in values):
            raise BackendError()
        if datatype in _FLOATS:
            values = [math.nan if v is None else v for v in values]
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                raise BackendError()
        elif datatype != "BOOL" and not all(type(v) is int for v in values):
            raise BackendError()
        if datatype == "BF16":
            return struct.pack(f"<{count}H", *map(_bf16_bits, values))
        return struct.pack(f"<{count}{_CODES[datatype]}", *values)
    except (struct.error, OverflowError, UnicodeEncodeError):
        raise BackendError() from None


def _bf16_bits(value: float) -> int:
    """The BF16 nearest ``value`` (round half to even), as the upper 16 bits of its FP32."""
    bits: int = struct.unpack("<I", struct.pack("<f", value))[0]
    if math.isnan(value):
        return (bits >> 16) | 0x0040
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
