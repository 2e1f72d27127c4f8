"""Files and batches as stored (tenant-scoped records) and as the OpenAI API shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: The one completion window OpenAI offers, and what it means here.
COMPLETION_WINDOW = "24h"
WINDOW_S = 24 * 3600


class Purpose(StrEnum):
    BATCH = "batch"  # an input file a caller uploaded
    BATCH_OUTPUT = "batch_output"  # an output or error file a batch wrote


class Status(StrEnum):
    VALIDATING = "validating"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


#: Statuses a batch never leaves.
TERMINAL = frozenset({Status.FAILED, Status.COMPLETED, Status.EXPIRED, Status.CANCELLED})
#: The ``<status>_at`` timestamp each status sets when entered.
STATUS_TIME = {
    Status.IN_PROGRESS: "in_progress_at",
    Status.FINALIZING: "finalizing_at",
    Status.COMPLETED: "completed_at",
    Status.FAILED: "failed_at",
    Status.EXPIRED: "expired_at",
    Status.CANCELLING: "cancelling_at",
    Status.CANCELLED: "cancelled_at",
}


@dataclass(frozen=True)
class FileRecord:
    """A stored file. ``sealed`` holds its name, sealed under the tenant (a caller's file name
    may be personal data); ``object_key`` is where its bytes are (sealed too)."""

    tenant_id: str
    file_id: str
    purpose: Purpose
    size: int  # bytes
    created_at: int
    object_key: str
    sealed: bytes
    expires_at: int | None = None


@dataclass(frozen=True)
class BatchRecord:
    """A stored batch: what the caller asked for, who asked (the key, re-checked when its lines
    run), where it stands, and its counters. ``sealed`` holds its metadata, sealed under the
    tenant; ``done`` the chunks already counted (each counted once, whatever is redelivered)."""

    tenant_id: str
    batch_id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: Status
    created_at: int
    expires_at: int
    key_id: str
    sealed: bytes | None = None
    retain_until: int = 0  # when the record ages out (the table's TTL)
    times: dict[str, int] = field(default_factory=dict)
    chunk_count: int = 0
    total: int = 0
    completed: int = 0
    failed: int = 0
    done: frozenset[int] = frozenset()
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    #: Set when the expiry sweep took the batch to ``finalizing``: its lines that never ran go to
    #: the error file as ``batch_expired`` and it ends ``expired``.
    expiring: bool = False
    #: Why a chunk's last attempt failed (stable codes only, by chunk number): what an operator
    #: reads next to a job in the dead-letter queue.
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def planned(self) -> bool:
        """Split into chunks (the plan step ran to its transition)."""
        return self.chunk_count > 0


def file_object(record: FileRecord, filename: str) -> dict[str, Any]:
    """OpenAI's ``File`` object (`openai.types.FileObject`)."""
    return {
        "id": record.file_id,
        "object": "file",
        "bytes": record.size,
        "created_at": record.created_at,
        "filename": filename,
        "purpose": record.purpose.value,
        "status": "processed",
        "expires_at": record.expires_at,
        "status_details": None,
    }


def batch_object(record: BatchRecord, metadata: dict[str, str] | None) -> dict[str, Any]:
    """OpenAI's ``Batch`` object (`openai.types.Batch`)."""
    return {
        "id": record.batch_id,
        "object": "batch",
        "endpoint": record.endpoint,
        "errors": {"object": "list", "data": [dict(e) for e in record.errors]} if record.errors else None,
        "input_file_id": record.input_file_id,
        "completion_window": record.completion_window,
        "status": record.status.value,
        "output_file_id": record.output_file_id,
        "error_file_id": record.error_file_id,
        "created_at": record.created_at,
        "in_progress_at": record.times.get("in_progress_at"),
        "expires_at": record.expires_at,
        "finalizing_at": record.times.get("finalizing_at"),
        "completed_at": record.times.get("completed_at"),
        "failed_at": record.times.get("failed_at"),
        "expired_at": record.times.get("expired_at"),
        "cancelling_at": record.times.get("cancelling_at"),
        "cancelled_at": record.times.get("cancelled_at"),
        "request_counts": {
            "total": record.total,
            "completed": record.completed,
            "failed": record.failed,
        },
        "metadata": metadata,
    }
