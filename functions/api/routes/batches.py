"""The OpenAI Files and Batches routes (``/v1/files``, ``/v1/batches``), so ``openai`` batches work
unchanged. Each parses, calls `steward.batches.service.BatchService`, and maps the answer.

Only the caller's tenant's files and batches exist for it: another tenant's id answers exactly
like an absent one (404). Problems on these paths carry OpenAI's ``error`` object too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from steward.batches.ids import BATCH_ID_PATTERN, FILE_ID_PATTERN
from steward.batches.service import DEFAULT_PAGE, MAX_PAGE

from functions.api.batch_schemas import (
    BatchCreate,
    BatchList,
    BatchObject,
    FileDeleted,
    FileList,
    FileObject,
)
from functions.api.deps import Batches, Context
from functions.api.openapi import PROBLEMS, problem_responses

router = APIRouter(responses={**PROBLEMS, **problem_responses(501)}, tags=["batches"])
FileIdPath = Annotated[str, Path(pattern=FILE_ID_PATTERN)]
BatchIdPath = Annotated[str, Path(pattern=BATCH_ID_PATTERN)]
_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, as uploaded (or as the batch wrote them).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **problem_responses(404),
}


@router.post("/v1/files", response_model=FileObject)
async def create_file(
    context: Context,
    batches: Batches,
    file: Annotated[UploadFile, File(description="A JSONL file of batch requests.")],
    purpose: Annotated[Literal["batch"], Form()],
) -> Response:
    """Upload a batch input file (sealed under the tenant; its lines are checked by the batch)."""
    content = await file.read()
    return await context.run(
        batches.create_file, context.request_context, file.filename or "", purpose, content
    )


@router.get("/v1/files", response_model=FileList)
async def list_files(
    context: Context,
    batches: Batches,
    purpose: Annotated[Literal["batch", "batch_output"] | None, Query()] = None,
    after: Annotated[str | None, Query(pattern=FILE_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> Response:
    """The tenant's files by creation time (newest first unless ``order=asc``); ``after``
    continues a listing (OpenAI's cursor)."""
    return await context.run(batches.list_files, context.request_context, purpose, after, limit, order)


@router.get("/v1/files/{file_id}", response_model=FileObject, responses=problem_responses(404))
async def retrieve_file(file_id: FileIdPath, context: Context, batches: Batches) -> Response:
    return await context.run(batches.retrieve_file, context.request_context, file_id)


@router.get("/v1/files/{file_id}/content", response_class=Response, responses=_CONTENT)
async def file_content(file_id: FileIdPath, context: Context, batches: Batches) -> Response:
    content = await context.value(lambda: {"content": batches.file_content(context.request_context, file_id)})
    return Response(content["content"], media_type="application/octet-stream")


@router.delete("/v1/files/{file_id}", response_model=FileDeleted, responses=problem_responses(404))
async def delete_file(file_id: FileIdPath, context: Context, batches: Batches) -> Response:
    return await context.run(batches.delete_file, context.request_context, file_id)


@router.post("/v1/batches", response_model=BatchObject, responses=problem_responses(404))
async def create_batch(body: BatchCreate, context: Context, batches: Batches) -> Response:
    """A batch over an uploaded ``batch`` file: ``validating`` until a worker has checked and
    split it, then ``in_progress``, ``finalizing`` and ``completed`` (or ``failed`` with ``errors``)."""
    return await context.run(
        batches.create_batch,
        context.request_context,
        body.input_file_id,
        body.endpoint,
        body.completion_window,
        body.metadata,
    )


@router.get("/v1/batches", response_model=BatchList)
async def list_batches(
    context: Context,
    batches: Batches,
    after: Annotated[str | None, Query(pattern=BATCH_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> Response:
    """The tenant's batches, newest first; ``after`` continues a listing (OpenAI's cursor)."""
    return await context.run(batches.list_batches, context.request_context, after, limit)


@router.get("/v1/batches/{batch_id}", response_model=BatchObject, responses=problem_responses(404))
async def retrieve_batch(batch_id: BatchIdPath, context: Context, batches: Batches) -> Response:
    return await context.run(batches.retrieve_batch, context.request_context, batch_id)


@router.post(
    "/v1/batches/{batch_id}/cancel", response_model=BatchObject, responses=problem_responses(404, 409)
)
async def cancel_batch(batch_id: BatchIdPath, context: Context, batches: Batches) -> Response:
    """``cancelling`` until the chunks in flight are done, then ``cancelled``."""
    return await context.run(batches.cancel_batch, context.request_context, batch_id)
