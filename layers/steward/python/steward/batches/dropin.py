"""The S3 drop-in: a batch file written to ``incoming/<tenant>/<name>`` becomes a batch.

For files beyond what an HTTP upload carries (4 MiB through API Gateway and Lambda), a tenant's
pipeline writes the JSONL file straight into the batch bucket under its tenant's prefix, with two
object metadata entries: ``steward-key-id`` (the API key whose rights its lines run under: it
must be an active key of that tenant) and optionally ``steward-endpoint`` (default
``/v1/embeddings``). Who may write under ``incoming/<tenant>/`` is the bucket's IAM, granted per
tenant by the operator; the key is what the governed path checks, as for any batch.

S3 notifies the jobs queue; the ``ingest`` job (`steward.batches.jobs`) seals the file into the
tenant's files (``files/<tenant>/<id>``, as an upload would be), deletes the dropped object, and
creates the batch, which then runs as any other (``GET /v1/batches`` lists it; its metadata names
the object). A drop-in that can't run (no or a foreign key, a suspended tenant, an unknown
endpoint or model, too large) becomes a ``failed`` batch whose ``errors`` say why, so the tenant
sees every drop-in in its listing, and the object is still removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from steward.audit.record import AuditDraft
from steward.auth.authorize import KeyStore
from steward.auth.principal import Principal
from steward.batches import delivery, ids
from steward.batches.endpoints import EMBEDDINGS, parse_endpoint
from steward.batches.jobs import PLAN, Job
from steward.batches.model import (
    COMPLETION_WINDOW,
    STATUS_TIME,
    WINDOW_S,
    BatchRecord,
    FileRecord,
    Purpose,
    Status,
)
from steward.batches.ports import BatchStore, JobQueue, ObjectStore
from steward.batches.sealing import Seals
from steward.batches.service import SECONDS_PER_DAY, BatchLimits, file_key, metadata_context, name_context
from steward.catalog.registry import Registry
from steward.controls.gate import AccessGate
from steward.errors import ModelNotFound, StewardError

logger = logging.getLogger("steward.batches")
KEY_META, ENDPOINT_META = "steward-key-id", "steward-endpoint"


class DropIn:
    def __init__(
        self,
        *,
        store: BatchStore,
        objects: ObjectStore,
        seals: Seals,
        queue: JobQueue,
        keys: KeyStore,
        gate: AccessGate | None,
        registry: Registry,
        limits: BatchLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.objects = objects
        self.seals = seals
        self.queue = queue
        self.keys = keys
        self.gate = gate
        self.registry = registry
        self.limits = limits
        self._clock = clock

    def ingest(self, job: Job) -> dict[str, Any]:
        """The dropped object as a sealed file and a batch (or a failed one saying why)."""
        tenant, batch_id = job.tenant_id, job.batch_id
        existing = self.store.get_batch(tenant, batch_id)
        if existing is not None:  # a repeated notification, or a retry after the batch was stored
            self._clean(job.object_key)
            if existing.status == Status.VALIDATING:
                self._queue_plan(existing)
            if existing.status == Status.FAILED:  # a retry after the batch, before its manifest
                self._manifest(existing, job.object_key)
            return {"kind": "ingest", "status": existing.status.value}
        found = self.objects.read(job.object_key)
        if found is None:
            return {"kind": "ingest", "status": "absent"}
        data, metadata = found
        now = int(self._clock())
        endpoint = metadata.get(ENDPOINT_META) or EMBEDDINGS
        key_id = metadata.get(KEY_META, "")
        failure = self._refusal(tenant, key_id, endpoint, len(data))
        seal = self.seals.for_tenant(tenant)
        file_id = ids.output_file_id(batch_id, "input")
        name = job.object_key.rsplit("/", 1)[-1][:255]
        fkey = file_key(tenant, file_id)
        self.objects.put(fkey, seal.seal(fkey, data))
        self.store.put_file(
            FileRecord(
                tenant_id=tenant,
                file_id=file_id,
                purpose=Purpose.BATCH,
                size=len(data),
                created_at=now,
                object_key=fkey,
                sealed=seal.seal(name_context(file_id), name.encode()),
                expires_at=now + self.limits.retention_days * SECONDS_PER_DAY,
            )
        )
        about = orjson.dumps({"source": "s3", "object": job.object_key[:512]})
        batch = BatchRecord(
            tenant_id=tenant,
            batch_id=batch_id,
            endpoint=endpoint if failure is None else EMBEDDINGS,  # only a valid endpoint is kept
            input_file_id=file_id,
            completion_window=COMPLETION_WINDOW,
            status=Status.VALIDATING if failure is None else Status.FAILED,
            created_at=now,
            expires_at=now + WINDOW_S,
            key_id=key_id if failure is None else "",
            sealed=seal.seal(metadata_context(batch_id), about),
            retain_until=now + self.limits.retention_days * SECONDS_PER_DAY,
            times={STATUS_TIME[Status.FAILED]: now} if failure is not None else {},
            errors=(failure,) if failure is not None else (),
        )
        try:
            self.store.put_batch(batch)
        except Exception:
            if self.store.get_batch(tenant, batch_id) is None:  # not a concurrent twin: a real failure
                raise
        if failure is not None:
            self._manifest(batch, job.object_key)
        self._clean(job.object_key)
        if failure is None:
            self._queue_plan(batch)
        logger.info(
            "drop-in ingested",
            extra={
                "batch_id": batch_id,
                "status": batch.status.value,
                "code": failure["code"] if failure else None,
            },
        )
        return {"kind": "ingest", "status": batch.status.value}

    def _refusal(self, tenant: str, key_id: str, endpoint: str, size: int) -> dict[str, Any] | None:
        """Why the drop-in can't run (a batch ``errors`` entry: codes and Steward's words only)."""
        if size > self.limits.max_dropin_bytes:
            return _error(
                "file_too_large", f"A dropped file may be at most {self.limits.max_dropin_bytes} bytes."
            )
        parsed = parse_endpoint(endpoint)
        if parsed is None:
            return _error(
                "invalid_endpoint", "'steward-endpoint' must be /v1/embeddings or an OIP infer route."
            )
        record = self.keys.get(key_id) if key_id else None
        if record is None or record.tenant_id != tenant or not record.is_active(self._clock()):
            return _error("invalid_key", "'steward-key-id' must name an active API key of this tenant.")
        principal = Principal.from_record(record)
        try:
            if self.gate is not None:
                draft = AuditDraft(
                    request_id="dropin", method="POST", route="/v1/batches", started_at=self._clock()
                )
                principal = self.gate.admit(principal, draft)
            if parsed.model is not None:
                self.registry.resolve(principal, parsed.model, parsed.version)
        except ModelNotFound:
            return _error(
                "model_not_found", "The endpoint's model does not exist or the key may not call it."
            )
        except StewardError as error:
            if error.status >= 500:
                raise  # not now: the job comes back (and after its receive limit, the DLQ)
            return _error(error.code, error.detail)
        return None

    def _manifest(self, batch: BatchRecord, object_key: str) -> None:
        """A drop-in that can't run ends here: its manifest says so (`steward.batches.delivery`)."""
        name = delivery.dropin_name(batch.tenant_id, {"source": delivery.SOURCE_S3, "object": object_key})
        if name is not None:
            delivery.write_manifest(self.objects, batch, name, (), int(self._clock()))

    def _queue_plan(self, batch: BatchRecord) -> None:
        self.queue.send([Job(PLAN, batch.tenant_id, batch.batch_id).as_message()])

    def _clean(self, object_key: str) -> None:
        self.objects.delete(object_key)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "param": None, "line": None}
