"""What the Batch API needs from storage and messaging (adapters: `steward.adapters.batch_store`,
`steward.adapters.object_store`, `steward.adapters.job_queue`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from steward.batches.model import BatchRecord, FileRecord, Status


class BatchStore(Protocol):
    """Files and batches, always addressed by (tenant, id): another tenant's id reads as absent."""

    def put_file(self, record: FileRecord) -> None:
        """Create the file's record (ids are random: an existing one is a bug, raised)."""
        ...

    def get_file(self, tenant_id: str, file_id: str) -> FileRecord | None: ...

    def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        """Remove the record; the removed record, or None where there was none."""
        ...

    def list_files(self, tenant_id: str) -> list[FileRecord]:
        """Every file record of the tenant, in no order (files expire: a tenant holds few)."""
        ...

    def put_batch(self, record: BatchRecord) -> None: ...

    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None: ...

    def list_batches(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> tuple[list[BatchRecord], bool]:
        """Newest first, starting after batch ``after``; and whether more follow."""
        ...

    def transition(
        self,
        tenant_id: str,
        batch_id: str,
        *,
        from_statuses: Sequence[Status],
        to: Status,
        at: int,
        changes: Mapping[str, Any] | None = None,
    ) -> BatchRecord | None:
        """Move the batch to ``to`` (setting its ``<to>_at`` to ``at`` and ``changes``) only if its
        status is one of ``from_statuses``, atomically; the new record, or None if it was not."""
        ...

    def count_chunk(
        self, tenant_id: str, batch_id: str, chunk: int, *, completed: int, failed: int
    ) -> BatchRecord | None:
        """Add a chunk's counts and mark it done, once: the new record, or None where the chunk
        was already counted (a redelivered job). Atomic: of N concurrent callers for the last
        chunks, exactly one sees ``len(done) == chunk_count``."""
        ...

    def due_batches(self, now: int, *, limit: int) -> list[BatchRecord]:
        """Batches of any tenant, not ended, whose completion window ended before ``now``."""
        ...

    def note_failure(self, tenant_id: str, batch_id: str, chunk: int, code: str) -> None:
        """Record why the chunk's latest attempt failed (a stable code, never content)."""
        ...


class ObjectStore(Protocol):
    """Bytes by key in the batch bucket (sealed before they get here)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object, or None where there is none."""
        ...

    def delete(self, key: str) -> None: ...

    def read(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        """The object and its user metadata (an S3 drop-in's ``x-amz-meta-*``), or None."""
        ...


class JobQueue(Protocol):
    """The jobs queue: each job a small JSON document of ids (never lines)."""

    def send(self, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Send every job, or raise (a partial send is retried whole: jobs are idempotent)."""
        ...
