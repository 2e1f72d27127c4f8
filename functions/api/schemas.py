"""Request and response schemas of the public API (they also shape /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt


class EmbeddingsRequest(BaseModel):
    """OpenAI ``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, max_length=256)


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class ModelItem(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelItem]


Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
]  # fmt: skip


class InferTensor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    shape: list[int] = Field(max_length=8)
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    """Open Inference Protocol v2 inference request."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=256)
    parameters: dict[str, Any] | None = None
    inputs: list[InferTensor] = Field(min_length=1, max_length=64)
    outputs: list[RequestedOutput] | None = None


class FeedbackRequest(BaseModel):
    """Ground truth for an earlier prediction sent with ``parameters.group`` (joined by request id)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128, description="The x-request-id of the prediction.")
    label: StrictInt | StrictBool | None = Field(default=None, description="0 or 1, for one row.")
    labels: list[StrictInt | StrictBool] | None = Field(
        default=None, max_length=25, description="0 or 1 per monitored row, in request order."
    )


class FeedbackResponse(BaseModel):
    object: Literal["feedback"] = "feedback"
    request_id: str
    model: str
    model_version: str
    labels: int
    status: str


class ModelCard(BaseModel):
    """The model card of a version (``Accept: text/html`` for the rendered page)."""

    model_config = ConfigDict(extra="allow")

    object: Literal["model.card"] = "model.card"
    model: str
    version: str
    approval: str
    artifact_digest: str
    complete: bool
    missing_fields: list[str]
    fairness_monitoring: dict[str, Any] | None = None


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[OutputTensor]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]


class AuditRecordView(BaseModel):
    """One audit record: who, what, when and the outcome the caller received; never content."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    timestamp: str
    route: str
    decision: str
    status: int
    input_hmac: str | None = Field(
        default=None,
        description="HMAC-SHA256 of the request body under the tenant's audit key (held by Steward; "
        "not a plain hash, so a short input can't be recovered from it).",
    )
    input_bytes: int | None = None
    output_hmac: str | None = Field(
        default=None, description="HMAC-SHA256 of the response body under the same key."
    )
    output_bytes: int | None = None


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditRecordView]
    next_cursor: str | None


class RedactRequest(BaseModel):
    """``POST /v1/redact``: apply the privacy policy in force to text (a guardrail apply call)."""

    model_config = ConfigDict(extra="forbid")

    text: str | list[str] = Field(description="A text or a list of texts (at most 128).")
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="Apply this model's policy."
    )
    direction: Literal["input", "output"] = Field(
        default="input", description="Apply the policy's input rules or its output rules."
    )


class RedactFinding(BaseModel):
    index: int = Field(description="Which text of the request (0 for a single text).")
    entity_type: str
    start: int
    end: int
    score: float


class RedactResponse(BaseModel):
    object: Literal["redaction"] = "redaction"
    text: str | list[str]
    findings: list[RedactFinding]
    policy_version: str


class PolicyView(BaseModel):
    """A stored privacy policy version (see ``docs/privacy.md`` for the document fields)."""

    model_config = ConfigDict(extra="allow")

    tenant_id: str
    model: str | None = None
    version: int


class PolicyList(BaseModel):
    object: Literal["list"] = "list"
    tenant_id: str
    data: list[PolicyView]


class OpenAIError(BaseModel):
    """OpenAI's error object (``message`` is the problem's ``detail``, ``code`` Steward's code)."""

    message: str
    type: str
    param: str | None = None
    code: str


class Problem(BaseModel):
    """RFC 9457 problem details with Steward's stable ``code`` and the request id."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str
    error: OpenAIError | None = Field(
        default=None, description="On the OpenAI routes only: the same error as OpenAI SDKs read it."
    )
