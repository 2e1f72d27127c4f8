"""Where a drop-in's pipeline finds how its file did: ``results/<tenant>/<name>/`` in the bucket.

A pipeline that wrote ``incoming/<tenant>/<name>`` polls ``results/<tenant>/<name>/``:
``progress.json`` while the batch runs (counts so far, rewritten as chunks are counted; advisory:
a slower writer may leave it a chunk behind) and ``manifest.json`` once it has ended (written
once by the job that ends the batch, after the output and error files exist: its presence is the
"done" marker). Both hold ids, counts, statuses and times only. The lines' answers are not copied
here: Steward keeps no readable copy of content at rest, so the output and error files stay
sealed in the tenant's files, and the manifest names them (``output_file_id``,
``error_file_id``) for ``GET /v1/files/{id}/content`` with the drop-in's key.

``blocked`` counts the lines a guardrail refused (a PII ``block``, a usage-policy ``block`` or a
hold for review); ``failed`` counts every refused line, blocked ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from steward.batches.model import BatchRecord
from steward.batches.ports import ObjectStore

SOURCE_S3 = "s3"
BLOCKING_CODES = ("pii.blocked", "policy.denied_", "policy.held_for_review")


def dropin_name(tenant_id: str, metadata: Mapping[str, str] | None) -> str | None:
    """The drop-in's name under its tenant's prefix, for a batch a drop-in started (else None).
    Only a name under the batch's own tenant's prefix counts, whoever wrote the metadata."""
    if not metadata or metadata.get("source") != SOURCE_S3:
        return None
    prefix = f"incoming/{tenant_id}/"
    found = metadata.get("object", "")
    return found[len(prefix) :] if found.startswith(prefix) and len(found) > len(prefix) else None


def results_prefix(tenant_id: str, name: str) -> str:
    return f"results/{tenant_id}/{name}/"


def is_blocked(code: str | None) -> bool:
    return bool(code) and str(code).startswith(BLOCKING_CODES)


def write_progress(objects: ObjectStore, batch: BatchRecord, name: str, at: int) -> None:
    document = {**_about(batch), "chunks_done": len(batch.done), "chunk_count": batch.chunk_count}
    document["updated_at"] = at
    objects.put(results_prefix(batch.tenant_id, name) + "progress.json", orjson.dumps(document))


def write_manifest(
    objects: ObjectStore, batch: BatchRecord, name: str, codes: Iterable[str | None], at: int
) -> None:
    """The final manifest; ``codes``: each refused line's code (for ``blocked``)."""
    document = _about(batch)
    document["counts"]["blocked"] = sum(1 for code in codes if is_blocked(code))
    document["finished_at"] = at
    objects.put(results_prefix(batch.tenant_id, name) + "manifest.json", orjson.dumps(document))


def _about(batch: BatchRecord) -> dict[str, Any]:
    return {  # the name is in the manifest's key only, as it was in the dropped object's
        "batch_id": batch.batch_id,
        "status": batch.status.value,
        "counts": {"total": batch.total, "ok": batch.completed, "failed": batch.failed},
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
    }
