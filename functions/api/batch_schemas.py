"""Schemas of the Files and Batches routes: OpenAI's objects, as the ``openai`` package parses them
(``openai.types.FileObject``, ``FileDeleted``, ``Batch``; the list as its cursor page reads it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from steward.batches.endpoints import ENDPOINT_PATTERN
from steward.batches.ids import BATCH_ID_PATTERN, FILE_ID_PATTERN
from steward.batches.service import MAX_METADATA_KEY, MAX_METADATA_KEYS, MAX_METADATA_VALUE

FileId = Annotated[str, Field(pattern=FILE_ID_PATTERN, description="A file id (``file-...``).")]
BatchId = Annotated[str, Field(pattern=BATCH_ID_PATTERN, description="A batch id (``batch_...``).")]
MetadataKey = Annotated[str, Field(max_length=MAX_METADATA_KEY)]
MetadataValue = Annotated[str, Field(max_length=MAX_METADATA_VALUE)]


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: Literal["batch", "batch_output"]
    status: Literal["processed"]
    expires_at: int | None = None
    status_details: str | None = None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool


class BatchCreate(BaseModel):
    """OpenAI ``POST /v1/batches``: the input file, the endpoint every line calls, the window."""

    model_config = ConfigDict(strict=True, extra="forbid")

    input_file_id: FileId
    endpoint: str = Field(
        pattern=ENDPOINT_PATTERN,
        max_length=512,
        description="``/v1/embeddings``, or an Open Inference Protocol route "
        "``/v2/models/{model}[/versions/{version}]/infer`` of a model this key may call.",
    )
    completion_window: Literal["24h"]
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        default=None, max_length=MAX_METADATA_KEYS, description="Up to 16 string pairs, kept sealed."
    )


class BatchErrorItem(BaseModel):
    code: str
    message: str
    param: str | None
    line: int | None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchErrorItem]


class RequestCounts(BaseModel):
    total: int
    completed: int
    failed: int


class BatchObject(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str
    status: Literal[
        "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
    ]
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: RequestCounts
    metadata: dict[str, str] | None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
