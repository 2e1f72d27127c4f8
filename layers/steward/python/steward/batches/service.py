"""The Batch API's use cases behind the routes: files and batches of the caller's tenant only.

Every read and write names the caller's tenant (`BatchStore` is keyed by it), so another
tenant's id answers exactly like an absent one. Creating a batch records the key that created it
(its lines run under that key, checked again when they run), stores the batch ``validating`` and
queues its plan job: if the queue refuses, the batch is marked failed and the caller gets 503, so
a batch is accepted only once its first job is queued ("nothing accepted is lost").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from steward.batches import ids
from steward.batches.endpoints import parse_endpoint
from steward.batches.model import (
    COMPLETION_WINDOW,
    TERMINAL,
    WINDOW_S,
    BatchRecord,
    FileRecord,
    Purpose,
    Status,
    batch_object,
    file_object,
)
from steward.batches.ports import BatchStore, JobQueue, ObjectStore
from steward.batches.sealing import Seals, TenantSeal
from steward.catalog.registry import Registry
from steward.context import RequestContext
from steward.errors import (
    BatchConflict,
    BatchNotFound,
    FileNotFound,
    InputTooLarge,
    InvalidInput,
    QueueUnavailable,
    StewardError,
    StorageUnavailable,
    UnsupportedInput,
)

logger = logging.getLogger("steward.batches")
T = TypeVar("T")
SECONDS_PER_DAY = 86_400
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
MAX_FILENAME = 255
DEFAULT_PAGE, MAX_PAGE = 20, 100


@dataclass(frozen=True)
class BatchLimits:
    max_file_bytes: int = 4 * 1024 * 1024
    max_lines: int = 50_000
    chunk_lines: int = 50
    retention_days: int = 30
    max_dropin_bytes: int = 50 * 1024 * 1024  # an S3 drop-in (`steward.batches.dropin`)


def file_key(tenant_id: str, file_id: str) -> str:
    return f"files/{tenant_id}/{file_id}"


def name_context(file_id: str) -> str:
    return f"file:{file_id}:name"


def metadata_context(batch_id: str) -> str:
    return f"batch:{batch_id}:metadata"


class BatchService:
    def __init__(
        self,
        store: BatchStore,
        objects: ObjectStore,
        seals: Seals,
        queue: JobQueue,
        registry: Registry,
        limits: BatchLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.objects = objects
        self.seals = seals
        self.queue = queue
        self.registry = registry
        self.limits = limits or BatchLimits()
        self._clock = clock

    # --- files ---------------------------------------------------------------------------
    def create_file(self, ctx: RequestContext, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        """Store an input file (sealed) and its record. Its lines are judged when a batch uses it."""
        if purpose != Purpose.BATCH:
            raise UnsupportedInput("Only files with purpose 'batch' can be uploaded.")
        if len(content) > self.limits.max_file_bytes:
            raise InputTooLarge(f"A file may be at most {self.limits.max_file_bytes} bytes.")
        now = int(self._clock())
        tenant = ctx.tenant_id
        file_id = ids.new_file_id()
        key = file_key(tenant, file_id)
        seal = self.seals.for_tenant(tenant)
        name = (filename or "upload.jsonl")[:MAX_FILENAME]
        record = FileRecord(
            tenant_id=tenant,
            file_id=file_id,
            purpose=Purpose.BATCH,
            size=len(content),
            created_at=now,
            object_key=key,
            sealed=_guard(lambda: seal.seal(name_context(file_id), name.encode())),
            expires_at=now + self.limits.retention_days * SECONDS_PER_DAY,
        )
        _guard(lambda: self.objects.put(key, seal.seal(key, content)))
        _guard(lambda: self.store.put_file(record))
        ctx.draft.n_inputs = 1
        return file_object(record, name)

    def retrieve_file(self, ctx: RequestContext, file_id: str) -> dict[str, Any]:
        record = self._file(ctx, file_id)
        return file_object(record, self._filename(self.seals.for_tenant(ctx.tenant_id), record))

    def list_files(
        self, ctx: RequestContext, purpose: str | None, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        """OpenAI's file list: by creation time (``order``), of one ``purpose`` if named, starting
        after file ``after``. An ``after`` not in the listing (deleted or expired since, or another
        tenant's) ends it: an empty page, rather than a restart a paging client would loop on.
        Files past their expiry are gone even before the table's TTL removes them."""
        limit = max(1, min(limit, MAX_PAGE))
        now = int(self._clock())
        records = [
            r
            for r in _guard(lambda: self.store.list_files(ctx.tenant_id))
            if (r.expires_at or now + 1) > now and purpose in (None, r.purpose.value)
        ]
        records.sort(key=lambda r: (r.created_at, r.file_id), reverse=order == "desc")
        ids = [r.file_id for r in records]
        start = 0 if after is None else ids.index(after) + 1 if after in ids else len(ids)
        page = records[start : start + limit]
        seal = self.seals.for_tenant(ctx.tenant_id)
        data = [file_object(r, self._filename(seal, r)) for r in page]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": start + limit < len(records),
        }

    def file_content(self, ctx: RequestContext, file_id: str) -> bytes:
        record = self._file(ctx, file_id)
        blob = _guard(lambda: self.objects.get(record.object_key))
        if blob is None:
            raise FileNotFound()
        return _guard(lambda: self.seals.for_tenant(ctx.tenant_id).open(record.object_key, blob))

    def delete_file(self, ctx: RequestContext, file_id: str) -> dict[str, Any]:
        """Remove the file (record first: from then on it answers 404, whatever the bucket says)."""
        self._file(ctx, file_id)
        removed = _guard(lambda: self.store.delete_file(ctx.tenant_id, file_id))
        if removed is None:
            raise FileNotFound()
        _guard(lambda: self.objects.delete(removed.object_key))
        return {"id": file_id, "object": "file", "deleted": True}

    def _file(self, ctx: RequestContext, file_id: str) -> FileRecord:
        record = _guard(lambda: self.store.get_file(ctx.tenant_id, file_id))
        if record is None:
            raise FileNotFound()
        return record

    def _filename(self, seal: TenantSeal, record: FileRecord) -> str:
        return _guard(lambda: seal.open(name_context(record.file_id), record.sealed)).decode()

    # --- batches ---------------------------------------------------------------------------
    def create_batch(
        self,
        ctx: RequestContext,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A batch over one of the tenant's ``batch`` files, queued for validation."""
        parsed = parse_endpoint(endpoint)
        if parsed is None:
            raise UnsupportedInput("'endpoint' must be /v1/embeddings or /v2/models/{model}/infer.")
        if completion_window != COMPLETION_WINDOW:
            raise UnsupportedInput("'completion_window' must be '24h'.")
        if parsed.model is not None:  # the same 404 for an absent model and one the key can't use
            self.registry.resolve(ctx.principal, parsed.model, parsed.version)
            ctx.draft.model = parsed.model
        source = self._file(ctx, input_file_id)
        if source.purpose != Purpose.BATCH:
            raise UnsupportedInput("The input file must have purpose 'batch'.")
        now = int(self._clock())
        tenant = ctx.tenant_id
        batch_id = ids.new_batch_id(self._clock())
        sealed = None
        if metadata:
            _check_metadata(metadata)
            seal = self.seals.for_tenant(tenant)
            document = orjson.dumps(dict(metadata))
            sealed = _guard(lambda: seal.seal(metadata_context(batch_id), document))
        record = BatchRecord(
            tenant_id=tenant,
            batch_id=batch_id,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=completion_window,
            status=Status.VALIDATING,
            created_at=now,
            expires_at=now + WINDOW_S,
            key_id=ctx.principal.key_id,
            sealed=sealed,
            retain_until=now + self.limits.retention_days * SECONDS_PER_DAY,
        )
        _guard(lambda: self.store.put_batch(record))
        try:
            self.queue.send([{"kind": "plan", "tenant_id": tenant, "batch_id": batch_id, "chunk": 0}])
        except Exception as error:
            logger.error(
                "plan job not queued", extra={"batch_id": batch_id, "error_type": type(error).__name__}
            )
            failure = {
                "code": "queue_unavailable",
                "message": "The batch could not be queued.",
                "param": None,
                "line": None,
            }
            self._transition(record, (Status.VALIDATING,), Status.FAILED, {"errors": [failure]})
            raise QueueUnavailable() from None
        return batch_object(record, dict(metadata) if metadata else None)

    def retrieve_batch(self, ctx: RequestContext, batch_id: str) -> dict[str, Any]:
        record = self._batch(ctx, batch_id)
        return batch_object(record, self._metadata(self.seals.for_tenant(ctx.tenant_id), record))

    def list_batches(self, ctx: RequestContext, after: str | None, limit: int) -> dict[str, Any]:
        """OpenAI's list: newest first, ``after`` a batch id (another tenant's reads as unknown:
        the listing simply starts after where that id would sort), ``has_more``."""
        limit = max(1, min(limit, MAX_PAGE))
        records, more = _guard(lambda: self.store.list_batches(ctx.tenant_id, after=after, limit=limit))
        seal = self.seals.for_tenant(ctx.tenant_id)
        data = [batch_object(r, self._metadata(seal, r)) for r in records]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }

    def cancel_batch(self, ctx: RequestContext, batch_id: str) -> dict[str, Any]:
        """``cancelling`` until the chunks in flight finish, then ``cancelled`` (lines not yet run
        never run). Cancelling a cancelled or cancelling batch answers it as it is; a batch that
        already ended otherwise can't be cancelled (409)."""
        record = self._batch(ctx, batch_id)
        if record.status in (Status.CANCELLING, Status.CANCELLED):
            return self.retrieve_batch(ctx, batch_id)
        if record.status in TERMINAL or record.status == Status.FINALIZING:
            raise BatchConflict(f"A batch that is {record.status.value} can't be cancelled.")
        moved = self._transition(record, (Status.VALIDATING, Status.IN_PROGRESS), Status.CANCELLING, None)
        if moved is None:  # it moved on meanwhile: answer what it is now
            current = self._batch(ctx, batch_id)
            if current.status not in (Status.CANCELLING, Status.CANCELLED):
                raise BatchConflict(f"A batch that is {current.status.value} can't be cancelled.")
            moved = current
        if not moved.planned:
            # Not split yet: its plan job ends it (`BatchWorker.plan`); queue one more in case the
            # first was already taken, so a cancelled batch never waits on a job that never comes.
            try:
                self.queue.send(
                    [{"kind": "plan", "tenant_id": moved.tenant_id, "batch_id": batch_id, "chunk": 0}]
                )
            except Exception as error:
                logger.warning("cancel job not queued", extra={"error_type": type(error).__name__})
        return batch_object(moved, self._metadata(self.seals.for_tenant(ctx.tenant_id), moved))

    def _batch(self, ctx: RequestContext, batch_id: str) -> BatchRecord:
        record = _guard(lambda: self.store.get_batch(ctx.tenant_id, batch_id))
        if record is None:
            raise BatchNotFound()
        return record

    def _metadata(self, seal: TenantSeal, record: BatchRecord) -> dict[str, str] | None:
        if record.sealed is None:
            return None
        blob = record.sealed
        opened = _guard(lambda: seal.open(metadata_context(record.batch_id), blob))
        value: dict[str, str] = orjson.loads(opened)
        return value

    def _transition(
        self,
        record: BatchRecord,
        from_statuses: tuple[Status, ...],
        to: Status,
        changes: Mapping[str, Any] | None,
    ) -> BatchRecord | None:
        return _guard(
            lambda: self.store.transition(
                record.tenant_id,
                record.batch_id,
                from_statuses=from_statuses,
                to=to,
                at=int(self._clock()),
                changes=changes,
            )
        )


def _check_metadata(metadata: Mapping[str, str]) -> None:
    """OpenAI's limits: 16 pairs, keys of 64 and values of 512 characters, strings only."""
    if len(metadata) > MAX_METADATA_KEYS or not all(
        isinstance(k, str)
        and isinstance(v, str)
        and len(k) <= MAX_METADATA_KEY
        and len(v) <= MAX_METADATA_VALUE
        for k, v in metadata.items()
    ):
        raise InvalidInput(
            f"'metadata' holds at most {MAX_METADATA_KEYS} string pairs, keys of at most "
            f"{MAX_METADATA_KEY} and values of at most {MAX_METADATA_VALUE} characters."
        )


def _guard(call: Callable[[], T]) -> T:
    """A store, bucket or key-service failure as 503 ``storage.unavailable`` (never a 500);
    Steward's own refusals pass through."""
    try:
        return call()
    except StewardError:
        raise
    except Exception as error:
        logger.error("batch storage failed", extra={"error_type": type(error).__name__})
        raise StorageUnavailable() from None
