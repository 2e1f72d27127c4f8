"""Ids of files, batches and batch requests, shaped as OpenAI's (``file-...``, ``batch_...``).

Batch ids start with the creation time in milliseconds (hex, fixed width), so a tenant's batches
sort by creation in the store and list newest first without an index; the rest is random.
Output files and line ids are derived from the batch id, so a retried finaliser or chunk writes
the same ids again instead of new ones.
"""

from __future__ import annotations

import hashlib
import secrets

FILE_ID_PATTERN = r"^file-[0-9a-f]{24}$"
BATCH_ID_PATTERN = r"^batch_[0-9a-f]{32}$"


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def new_batch_id(now_s: float) -> str:
    return f"batch_{int(now_s * 1000):012x}" + secrets.token_hex(10)


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def output_file_id(batch_id: str, kind: str) -> str:
    """The id of a batch's ``output`` or ``error`` file (the same on every finaliser run)."""
    return "file-" + _digest(batch_id, kind)[:24]


def request_id(batch_id: str, index: int) -> str:
    """The id of the batch's request on input line ``index`` (0-based): output lines' ``id``."""
    return "batch_req_" + _digest(batch_id, index)[:32]
