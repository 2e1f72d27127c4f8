"""What a call costs in units, counted in the Lambda before the backend call (no tokenizer there).

Text: input tokens, estimated from the text as WordPiece would split it
(`steward.inference.token_estimate`; the same count ``usage`` reports when the backend gives
none). The estimate is what is charged and never corrected from the backend's count: a quota
must be decided before the call, and a refused call is never charged (accuracy: docs/limits.md).
Tabular (no string tensor): rows, the first dimension of the inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from steward.inference.token_estimate import estimate_tokens


def text_units(texts: Iterable[str]) -> int:
    return sum(estimate_tokens(text) for text in texts)


def payload_units(payload: Mapping[str, Any]) -> int:
    """Tokens of the strings in an OIP request's BYTES tensors, or else its rows (at least 1)."""
    inputs = payload.get("inputs")
    if not isinstance(inputs, list):
        return 1
    tokens, rows, texts = 0, 1, False
    for tensor in inputs:
        if not isinstance(tensor, Mapping):
            continue
        if tensor.get("datatype") == "BYTES":
            for value in _flat(tensor.get("data")):
                if isinstance(value, str):
                    texts = True
                    tokens += estimate_tokens(value)
        shape = tensor.get("shape")
        if isinstance(shape, list) and shape and isinstance(shape[0], int) and shape[0] > rows:
            rows = shape[0]
    return tokens if texts else rows


def _flat(data: Any) -> Iterable[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _flat(item)
    else:
        yield data
