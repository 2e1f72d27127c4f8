"""The request bodies of the data plane, as the API and the batch worker validate them.

One definition for both ways in: a line of a batch file (`steward.batches`) is checked by exactly
the schema its synchronous route checks (``POST /v1/embeddings``, ``POST /v2/models/{m}/infer``),
so a body refused on one path is refused on the other, with the same locations.

Bodies validate strictly, as JSON Schema reads them: "5" is not an integer, 1 is not a string.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator
from pydantic_core import PydanticCustomError

STRICT = ConfigDict(strict=True, extra="forbid")
Text = Annotated[str, Field(min_length=1)]
#: The largest integer every JSON reader holds exactly (a tensor dimension is never near it: the
#: elements of all tensors together are bounded far lower, see `steward.inference.oip_tensors`).
JSON_SAFE_INT = 2**53 - 1


def integral(value: Any) -> Any:
    """JSON Schema counts 1.0 as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: Integers as JSON Schema reads them: 3 or 3.0, never "3" or true (bounds before the validator,
#: or pydantic leaves them out of the JSON Schema).
AS_INT = BeforeValidator(integral)
Dimension = Annotated[int, Strict(), Field(ge=0, le=JSON_SAFE_INT), AS_INT]
PositiveInt = Annotated[int, Strict(), Field(ge=1), AS_INT]


class EmbeddingsRequest(BaseModel):
    """OpenAI ``POST /v1/embeddings``."""

    model_config = ConfigDict(strict=True, extra="ignore")  # OpenAI clients add fields of their own

    model: str = Field(min_length=1, max_length=200)
    input: Text | Annotated[list[Text], Field(min_length=1)] = Field(
        description="A text or a list of texts, none empty (token arrays are not accepted)."
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: PositiveInt | None = None
    user: str | None = Field(default=None, max_length=256)

    @field_validator("input", mode="before")
    @classmethod
    def _no_token_arrays(cls, value: Any) -> Any:
        """OpenAI also takes token ids; say so plainly rather than with a type error."""
        if isinstance(value, list) and any(isinstance(v, list) or type(v) is int for v in value):
            raise PydanticCustomError("token_arrays", "Token-array inputs are not supported; send strings.")
        return value


Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
]  # fmt: skip


class InferTensor(BaseModel):
    """One input tensor. ``data`` holds what ``datatype`` and ``shape`` say (flat, row-major, or
    nested by dimension): numbers in range of the type, booleans for BOOL, strings only in BYTES;
    anything else is refused with 400 ``input.tensor_mismatch`` before any backend call."""

    model_config = STRICT

    name: str = Field(min_length=1, max_length=256)
    shape: list[Dimension] = Field(max_length=8)
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestedOutput(BaseModel):
    model_config = STRICT

    name: str = Field(min_length=1, max_length=256)
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    """Open Inference Protocol v2 inference request."""

    model_config = STRICT

    id: str | None = Field(default=None, max_length=256)
    parameters: dict[str, Any] | None = None
    inputs: list[InferTensor] = Field(min_length=1, max_length=64)
    outputs: list[RequestedOutput] | None = None
