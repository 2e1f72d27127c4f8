"""OpenAI embeddings <-> Open Inference Protocol v2, without numpy.

Lambda never tokenises (no tokenizer on the light path), so ``usage`` uses the backend's token
counts when it reports them and otherwise `steward.inference.token_estimate.estimate_tokens`
(the estimate quotas charge).
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from steward.errors import BackendError
from steward.inference.token_estimate import estimate_tokens

T = TypeVar("T")
EMBEDDING_TASKS = frozenset({"sentence-embedding", "text-embedding", "embedding"})
DEFAULT_INPUT = "text"
DEFAULT_OUTPUT = "embedding"
#: Backend batch limit when the registered manifest declares none (gpu_backend's shipped models).
DEFAULT_MAX_BATCH = 64


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


def batches(items: Sequence[T], max_batch_size: int) -> list[Sequence[T]]:
    """Consecutive slices of at most ``max_batch_size`` (the manifest's; 0 = not declared)."""
    size = max_batch_size if max_batch_size > 0 else DEFAULT_MAX_BATCH
    return [items[i : i + size] for i in range(0, len(items), size)]


def merge(parts: Sequence[Embeddings]) -> Embeddings:
    """The answers of consecutive batches as one: vectors in order, token counts summed."""
    return Embeddings(
        vectors=[v for part in parts for v in part.vectors],
        prompt_tokens=sum(part.prompt_tokens for part in parts),
    )


def native_dimensions(signature: Sequence[Mapping[str, Any]], output_name: str) -> int | None:
    """The vector size the registered output signature declares (``[-1, 384]`` -> 384), if any."""
    tensor = next((t for t in signature if t.get("name") == output_name), signature[0] if signature else None)
    shape = tensor.get("shape") if tensor is not None else None
    if isinstance(shape, list | tuple) and len(shape) == 2:
        dim = shape[-1]
        if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0:
            return dim
    return None


def dimensions_message(model: str, native: int) -> str:
    """Why ``dimensions`` is refused: truncating and renormalising is only valid for models
    trained for it (Matryoshka), which the served sentence encoders are not."""
    return (
        f"Model '{model}' returns {native}-dimensional embeddings and does not support shortening "
        f"them; omit 'dimensions' or set it to {native}."
    )


def build_request(texts: Sequence[str], input_name: str = DEFAULT_INPUT) -> dict[str, Any]:
    return {"inputs": [{"name": input_name, "datatype": "BYTES", "shape": [len(texts)], "data": list(texts)}]}


def parse_response(
    payload: Mapping[str, Any], n_inputs: int, texts: Sequence[str], output_name: str = DEFAULT_OUTPUT
) -> Embeddings:
    """Vectors from an OIP response; any inconsistency is a backend fault, not the caller's."""
    outputs = payload.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise BackendError()
    tensor = next((o for o in outputs if isinstance(o, dict) and o.get("name") == output_name), outputs[0])
    if not isinstance(tensor, dict):
        raise BackendError()
    shape = tensor.get("shape")
    data = tensor.get("data")
    if not (isinstance(shape, list) and len(shape) == 2 and shape[0] == n_inputs and isinstance(data, list)):
        raise BackendError()
    dim = shape[1]
    flat = flatten(data)
    if not isinstance(dim, int) or dim <= 0 or len(flat) != n_inputs * dim:
        raise BackendError()
    # One C-level pass: fsum rejects non-numbers and any NaN/inf makes the total non-finite.
    try:
        finite = math.isfinite(math.fsum(flat))
    except (TypeError, OverflowError):
        finite = False
    if not finite:
        raise BackendError()
    vectors = [flat[i * dim : (i + 1) * dim] for i in range(n_inputs)]
    return Embeddings(vectors=vectors, prompt_tokens=_token_count(payload, texts))


def flatten(data: list[Any]) -> list[Any]:
    if data and isinstance(data[0], list):
        return [v for row in data for v in (row if isinstance(row, list) else [row])]
    return data


def _token_count(payload: Mapping[str, Any], texts: Sequence[str]) -> int:
    parameters = payload.get("parameters")
    if isinstance(parameters, Mapping):
        for key in ("prompt_tokens", "token_count"):
            value = parameters.get(key)
            if isinstance(value, int) and value >= 0:
                return value
        counts = parameters.get("token_counts")
        if isinstance(counts, list) and all(isinstance(c, int) for c in counts):
            return sum(counts)
    return sum(estimate_tokens(text) for text in texts)


def encode_vector(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    """OpenAI ``base64``: little-endian float32 bytes, as the official clients decode them."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return list(vector)


def openai_response(model_ref: str, embeddings: Embeddings, encoding_format: str) -> dict[str, Any]:
    """OpenAI's embeddings answer; ``model_ref`` is ``name@version``, the version that produced
    the vectors (the OpenAI clients take ``model`` as an opaque string)."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(v, encoding_format)}
            for i, v in enumerate(embeddings.vectors)
        ],
        "model": model_ref,
        "usage": {"prompt_tokens": embeddings.prompt_tokens, "total_tokens": embeddings.prompt_tokens},
    }
