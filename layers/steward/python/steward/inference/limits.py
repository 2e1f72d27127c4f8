"""Request-size limits of the data plane and the one check of caller texts (embeddings, redaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from steward.errors import InvalidInput, UnsupportedInput
from steward.inference import oip_tensors as oip


@dataclass(frozen=True)
class Limits:
    max_embedding_inputs: int = 128
    max_input_chars: int = 32_768
    max_audit_page: int = 100
    max_explain_rows: int = 64  # the backend's own cap; checked here for a clear message
    max_tensor_elements: int = oip.MAX_ELEMENTS  # all input tensors of one OIP request together
    max_tensor_strings: int = oip.MAX_STRINGS  # what the privacy guard reads for one OIP request


def caller_texts(inputs: str | Sequence[Any], limits: Limits, field_name: str = "input") -> list[str]:
    """The caller's strings as a list, refused (400) before any work when empty, not strings,
    too many or too long."""
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    if not texts:
        raise InvalidInput(f"'{field_name}' must not be empty.")
    if not all(isinstance(t, str) for t in texts):
        raise UnsupportedInput("Token-array inputs are not supported; send strings.")
    if len(texts) > limits.max_embedding_inputs:
        raise InvalidInput(f"'{field_name}' may hold at most {limits.max_embedding_inputs} strings.")
    for text in texts:
        if not text:
            raise InvalidInput(f"'{field_name}' strings must not be empty.")
        if len(text) > limits.max_input_chars:  # a documented maxLength: a schema violation
            raise InvalidInput(f"Each input may be at most {limits.max_input_chars} characters.")
    return texts
