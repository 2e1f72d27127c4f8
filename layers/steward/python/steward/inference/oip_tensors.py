"""Open Inference Protocol v2 requests, checked before any backend call.

The privacy guard redacts the strings of BYTES tensors; a string declared as any other datatype
would slip past it, and a backend that coerces types would still read it. So every input tensor
must hold exactly what its ``datatype`` and ``shape`` say (OIP rules) or the request is refused
with 400 before it leaves: numbers in range of their type (an integer wider than 64 bits could
not even be serialised), BOOLs as booleans, strings only in BYTES. Names are caller-chosen text
that reaches the backend unredacted, so tensor names must be ones the model declares (or, when the
registry does not know them, a strict identifier) and parameter keys must be identifiers.
Parameter values may be strings (the guard redacts them), numbers or booleans. Every string costs
the guard one detector pass (about 0.1 ms, even when empty), so a request holds at most
:data:`MAX_STRINGS` of them (BYTES elements and parameter values together): without the bound a
1 MB body of short strings held one process for tens of seconds.

Error details are written here and never echo a caller's value, name or shape: a position
(``inputs[1]``, element 5) is enough to find the mistake.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from steward.errors import InputTooLarge, InvalidParameter, InvalidTensorName, TensorMismatch

BYTES = "BYTES"
BOOL = "BOOL"
INT_RANGES: dict[str, tuple[int, int]] = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
}
#: Largest finite magnitude per float type: anything beyond would reach the model as infinity.
FLOAT_MAX: dict[str, float] = {
    "FP16": 65504.0,
    "BF16": 3.3895313892515355e38,
    "FP32": 3.4028234663852886e38,
    "FP64": 1.7976931348623157e308,
}
DATATYPES = frozenset({BYTES, BOOL, *INT_RANGES, *FLOAT_MAX})
INT64_MAX = 2**63 - 1
#: What a JSON encoder (orjson) can write: signed or unsigned 64-bit.
JSON_INT_RANGE = (-(2**63), 2**64 - 1)
MAX_RANK = 8
MAX_ELEMENTS = 1 << 21
MAX_PARAMETERS = 64
MAX_PARAMETER_LIST = 4096
#: Strings the privacy guard reads per request: BYTES elements, parameter keys and values,
#: tensor names the model does not declare, and ``id``.
MAX_STRINGS = 4096

#: A tensor name when the registry does not declare the model's tensors (ONNX-style names allowed).
TENSOR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,127}")
#: A parameter key: an identifier, so it can't carry an e-mail address, a number or free text.
PARAMETER_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

#: The binary tensor data extension's flags: the API layer encodes answers for the caller, so
#: the backend must always answer JSON and never sees them.
BINARY_REQUEST_PARAMETERS = frozenset({"binary_data_output"})
BINARY_TENSOR_PARAMETERS = frozenset({"binary_data", "binary_data_size"})


def check_request(
    payload: Mapping[str, Any],
    *,
    inputs: Collection[str] | None = None,
    outputs: Collection[str] | None = None,
    max_elements: int = MAX_ELEMENTS,
    max_strings: int = MAX_STRINGS,
) -> None:
    """Refuse (400/413) an OIP request the backend must not see: see the module docstring.

    ``inputs``/``outputs``: the model's declared tensor names (None: any strict identifier).
    """
    strings = _Strings(max_strings)
    strings.add(isinstance(payload.get("id"), str))
    strings.add(_check_parameters(payload.get("parameters"), "parameters"))
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise TensorMismatch("'inputs' must be a non-empty list of tensors.")
    seen: set[str] = set()
    total = 0
    for index, tensor in enumerate(tensors):
        where = f"inputs[{index}]"
        if not isinstance(tensor, Mapping):
            raise TensorMismatch(f"{where} must be a tensor object.")
        _check_name(tensor.get("name"), inputs, where, seen)
        strings.add((inputs is None) + _check_parameters(tensor.get("parameters"), f"{where}.parameters"))
        if tensor.get("datatype") == BYTES:  # counted before the data is read element by element
            strings.add(_shape_elements(tensor.get("shape"), where))
        total += check_tensor(tensor, where, budget=max_elements - total, limit=max_elements)
    requested = payload.get("outputs")
    if requested is None:
        return
    if not isinstance(requested, list):
        raise InvalidTensorName("'outputs' must be a list of requested outputs.")
    seen.clear()
    for index, output in enumerate(requested):
        where = f"outputs[{index}]"
        if not isinstance(output, Mapping):
            raise InvalidTensorName(f"{where} must be an object with a 'name'.")
        _check_name(output.get("name"), outputs, where, seen)
        strings.add((outputs is None) + _check_parameters(output.get("parameters"), f"{where}.parameters"))


def check_tensor(
    tensor: Mapping[str, Any], where: str = "tensor", *, budget: int = MAX_ELEMENTS, limit: int = MAX_ELEMENTS
) -> int:
    """Check datatype, shape and data of one tensor; returns its element count.

    ``budget``: how many elements the request may still hold; ``limit``: its total, for the message.
    """
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise TensorMismatch(f"{where}: 'datatype' must be one of {', '.join(sorted(DATATYPES))}.")
    count = _shape_elements(tensor.get("shape"), where)
    if count > budget:
        raise InputTooLarge(f"The request's tensors may hold at most {limit} elements in all.")
    shape = tensor["shape"]
    if "data" not in tensor:
        raise TensorMismatch(f"{where}: 'data' is missing.")
    data = tensor["data"]
    if not isinstance(data, list):
        raise TensorMismatch(f"{where}: 'data' must be a list.")
    kinds = set(map(type, data))  # one C-level pass: nested or not, and (if flat) the fast check
    flat = _flatten(data, max(len(shape), 1), where) if list in kinds else data
    if len(flat) != count:
        raise TensorMismatch(f"{where}: the number of elements in 'data' does not match 'shape'.")
    bad = _first_bad_element(flat, datatype, None if flat is not data else kinds)
    if bad is not None:
        raise TensorMismatch(f"{where}: element {bad} of 'data' is not a valid {datatype} value.")
    return count


def row_major(data: Any) -> list[Any]:
    """The values of a (possibly nested) tensor ``data`` list in row-major order; iterative, so a
    deep nesting can't exhaust the stack. ``ValueError`` if ``data`` is not a list."""
    if not isinstance(data, list):
        raise ValueError("tensor data is not a list")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        item = next(stack[-1], _DONE)
        if item is _DONE:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


_DONE = object()


def without_binary_parameters(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The request minus the binary extension's flags, so the backend always answers JSON.

    Whatever the caller asked for is honoured by the API layer, which encodes the answer.
    """
    out = dict(payload)
    params = payload.get("parameters")
    if isinstance(params, Mapping):
        rest = {k: v for k, v in params.items() if k not in BINARY_REQUEST_PARAMETERS}
        if rest:
            out["parameters"] = rest
        else:
            out.pop("parameters")
    for key in ("inputs", "outputs"):
        tensors = payload.get(key)
        if isinstance(tensors, list):
            out[key] = [_strip_tensor(t) for t in tensors]
    return out


def _strip_tensor(tensor: Any) -> Any:
    if not isinstance(tensor, Mapping) or not isinstance(tensor.get("parameters"), Mapping):
        return tensor
    out = dict(tensor)
    rest = {k: v for k, v in tensor["parameters"].items() if k not in BINARY_TENSOR_PARAMETERS}
    if rest:
        out["parameters"] = rest
    else:
        out.pop("parameters")
    return out


# --- helpers --------------------------------------------------------------------------------
class _Strings:
    """A running count of the strings the guard will read; 413 past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n
        if self.count > self.limit:
            raise InputTooLarge(
                f"The request may hold at most {self.limit} strings in all (BYTES elements, parameter "
                "keys and values, undeclared tensor names); split it into several requests."
            )


def _check_name(name: Any, declared: Collection[str] | None, where: str, seen: set[str]) -> None:
    if not isinstance(name, str):
        raise InvalidTensorName(f"{where}: 'name' must be a string.")
    if declared is not None:
        if name not in declared:
            raise InvalidTensorName(
                f"{where}: 'name' is not a tensor this model declares (see the model's metadata)."
            )
    elif TENSOR_NAME.fullmatch(name) is None:
        raise InvalidTensorName(
            f"{where}: 'name' must start with a letter or '_' and use only letters, digits and _ . : / - "
            "(at most 128 characters)."
        )
    if name in seen:
        raise InvalidTensorName(f"{where}: the name is used by an earlier tensor.")
    seen.add(name)


def _check_parameters(params: Any, where: str) -> int:
    """Keys are identifiers; values are strings, finite numbers, booleans, or flat lists of them.
    Returns how many strings the guard will read: every key, and every string value."""
    if params is None:
        return 0
    if not isinstance(params, Mapping):
        raise InvalidParameter(f"'{where}' must be an object.")
    if len(params) > MAX_PARAMETERS:
        raise InvalidParameter(f"'{where}' may hold at most {MAX_PARAMETERS} entries.")
    strings = len(params)
    for key, value in params.items():
        if not isinstance(key, str) or PARAMETER_KEY.fullmatch(key) is None:
            raise InvalidParameter(
                f"'{where}': every key must start with a letter or '_' and use only letters, digits "
                "and '_' (at most 64 characters)."
            )
        items = value if isinstance(value, list) else (value,)
        if isinstance(value, list) and len(value) > MAX_PARAMETER_LIST:
            raise InvalidParameter(f"'{where}': a list value may hold at most {MAX_PARAMETER_LIST} items.")
        if not all(_scalar(item) for item in items):
            raise InvalidParameter(
                f"'{where}': every value must be a string, a finite number within 64 bits, a boolean, "
                "or a list of those."
            )
        strings += sum(type(item) is str for item in items)
    return strings


def _scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool:
        return True
    if kind is int:
        return bool(JSON_INT_RANGE[0] <= value <= JSON_INT_RANGE[1])
    if kind is float:
        return math.isfinite(value)
    return False


def _shape_elements(shape: Any, where: str) -> int:
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        raise TensorMismatch(f"{where}: 'shape' must be a list of at most {MAX_RANK} dimensions.")
    count = 1
    for dim in shape:
        if type(dim) is not int or not 0 <= dim <= INT64_MAX:
            raise TensorMismatch(f"{where}: every 'shape' dimension must be an integer from 0 to 2^63-1.")
        count *= dim
    return count


def _flatten(data: list[Any], max_depth: int, where: str) -> list[Any]:
    """Row-major elements of nested ``data`` (nesting no deeper than the rank)."""
    flat: list[Any] = []
    stack: list[tuple[list[Any], int, int]] = [(data, 0, 1)]
    while stack:
        items, position, depth = stack.pop()
        for offset in range(position, len(items)):
            item = items[offset]
            if type(item) is list:
                if depth >= max_depth:
                    raise TensorMismatch(f"{where}: 'data' is nested deeper than 'shape' has dimensions.")
                stack.append((items, offset + 1, depth))
                stack.append((item, 0, depth + 1))
                break
            flat.append(item)
    return flat


_STR, _BOOL, _INT, _NUMBER = frozenset({str}), frozenset({bool}), frozenset({int}), frozenset({int, float})


def _plainly_valid(flat: list[Any], datatype: str, kinds: set[type] | None) -> bool:
    """A fast pass with C-level scans (types, min/max) for the common, valid tensor; False only
    means "look element by element" (`_first_bad_element` decides)."""
    if not flat:
        return True
    if kinds is None:
        kinds = set(map(type, flat))
    if datatype == BYTES:
        return kinds <= _STR
    if datatype == BOOL:
        return kinds <= _BOOL
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        return kinds <= _INT and low <= min(flat) and max(flat) <= high
    if not kinds <= _NUMBER:
        return False
    limit = FLOAT_MAX[datatype]
    low_bound, high_bound = -limit, limit
    if int in kinds:  # an integer must also fit the JSON encoder's 64 bits
        low_bound, high_bound = max(low_bound, JSON_INT_RANGE[0]), min(high_bound, JSON_INT_RANGE[1])
    try:
        if not all(map(math.isfinite, flat)):
            return False
    except OverflowError:  # an integer too large for a float
        return False
    return bool(low_bound <= min(flat) and max(flat) <= high_bound)


def _first_bad_element(flat: list[Any], datatype: str, kinds: set[type] | None = None) -> int | None:
    """Index of the first element that is not a ``datatype`` value (bool is never a number).
    ``kinds``: the element types, when the caller already has them."""
    if _plainly_valid(flat, datatype, kinds):
        return None
    if datatype == BYTES:
        return next((i for i, v in enumerate(flat) if type(v) is not str), None)
    if datatype == BOOL:
        return next((i for i, v in enumerate(flat) if type(v) is not bool), None)
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        return next((i for i, v in enumerate(flat) if type(v) is not int or not low <= v <= high), None)
    limit = FLOAT_MAX[datatype]
    low, high = JSON_INT_RANGE
    return next(
        (
            i
            for i, v in enumerate(flat)
            if not (
                (type(v) is float and -limit <= v <= limit)  # NaN fails both comparisons
                or (type(v) is int and low <= v <= high and -limit <= v <= limit)
            )
        ),
        None,
    )
