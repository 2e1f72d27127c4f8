"""The batch worker: plans a batch into chunks, runs chunks, and finalises the batch.

Jobs (queue messages, ids only): ``plan`` validates the input file and writes one sealed S3
object per chunk of `BatchLimits.chunk_lines` lines, moves the batch ``in_progress`` and queues
one ``chunk`` job per chunk; ``chunk`` runs the chunk's lines (`lines.run_line`) under the batch's
key, re-checked now (revoked or expired: every line answers 401; tenant suspended: 403; a thrown
kill switch or an unreadable control table: the chunk waits for a later try). Each line's answer
is what its synchronous request would have got; refusals go to the error file.

Every step is safe to repeat, since a job may be delivered more than once: a chunk's result
object, once complete, is never recomputed (no second backend call, no second quota charge);
its audit records are created once (`steward.audit.record.AuditStore.put`, through the tenant's
chain, kept for its plan's audit retention as its API records are); the chunk is counted
once (`ports.BatchStore.count_chunk`); and the worker whose count completes the batch (or any
later delivery that finds it complete but not finished) writes the output and error files under
ids derived from the batch, and finishes it. A transient refusal (backend down, limits store
down, a per-minute rate limit that outlasts the time left) saves the lines done so far and hands
the job back to the queue (`ChunkDeferred`); after the queue's receive limit the job goes to the
dead-letter queue, and the batch item notes the reason code.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from steward.audit.record import AuditDraft, AuditKeys, AuditStore
from steward.auth.authorize import KeyStore
from steward.auth.principal import Principal
from steward.batches import delivery, ids
from steward.batches.audit import ChunkAudit, LineTrace, chunk_records
from steward.batches.chunk_result import ChunkDeferred, ChunkResult, line_entry
from steward.batches.dropin import DropIn
from steward.batches.embedding_lines import EmbeddingLines
from steward.batches.endpoints import Endpoint, parse_endpoint
from steward.batches.jobs import CHUNK, EXPIRE, INGEST, PLAN, SWEEP, Job
from steward.batches.jsonl import InputLine, decode_chunk, encode_chunk, validate
from steward.batches.lines import Answer, is_transient, refusal, run_line
from steward.batches.model import TERMINAL, BatchRecord, FileRecord, Purpose, Status
from steward.batches.ports import BatchStore, JobQueue, ObjectStore
from steward.batches.sealing import Seals, TenantSeal
from steward.batches.service import SECONDS_PER_DAY, BatchLimits, file_key, metadata_context, name_context
from steward.context import RequestContext
from steward.controls.gate import AccessGate
from steward.errors import InternalError, RateLimited, StewardError, Unauthenticated
from steward.inference.service import InferenceService

logger = logging.getLogger("steward.batches")
#: The result member naming the status a job ended its batch in (`steward.batches.signals`).
FINISHED = "finished"
#: Batches a sweep hands to expire jobs at most (the next sweep takes the rest).
SWEEP_LIMIT = 500
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


def chunk_key(tenant_id: str, batch_id: str, chunk: int) -> str:
    return f"chunks/{tenant_id}/{batch_id}/{chunk:05d}"


def result_key(tenant_id: str, batch_id: str, chunk: int) -> str:
    return f"results/{tenant_id}/{batch_id}/{chunk:05d}"


class BatchWorker:
    def __init__(
        self,
        *,
        store: BatchStore,
        objects: ObjectStore,
        seals: Seals,
        queue: JobQueue,
        inference: InferenceService,
        keys: KeyStore,
        gate: AccessGate | None,
        audit_store: AuditStore,
        audit_keys: AuditKeys,
        limits: BatchLimits | None = None,
        audit_retention_days: int = 400,
        reserve_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.objects = objects
        self.seals = seals
        self.queue = queue
        self.inference = inference
        self.keys = keys
        self.gate = gate
        self.audit_store = audit_store
        self.audit_keys = audit_keys
        self.limits = limits or BatchLimits()
        self.audit_retention_days = audit_retention_days
        self.reserve_s = reserve_s
        self._clock = clock
        self._sleep = sleep
        self.dropin = DropIn(
            store=store,
            objects=objects,
            seals=seals,
            queue=queue,
            keys=keys,
            gate=gate,
            registry=inference.catalog.registry,
            limits=self.limits,
            clock=lambda: self._clock(),
        )

    def handle(self, job: Job, remaining_s: Callable[[], float] = lambda: math.inf) -> dict[str, Any]:
        """Run ``job``; what it returns is what a redelivery of the same job gets back (idempotency)."""
        if job.kind == PLAN:
            return self.plan(job)
        if job.kind == SWEEP:
            return self.sweep()
        if job.kind == EXPIRE:
            return self.expire(job)
        if job.kind == INGEST:
            return self.dropin.ingest(job)
        try:
            return self.run_chunk(job, remaining_s)
        except ChunkDeferred as deferred:
            logger.warning(
                "chunk deferred", extra={"batch_id": job.batch_id, "chunk": job.chunk, "code": deferred.code}
            )
            try:
                self.store.note_failure(job.tenant_id, job.batch_id, job.chunk, deferred.code)
            except Exception as error:
                logger.error("failure note not written", extra={"error_type": type(error).__name__})
            raise

    # --- plan ----------------------------------------------------------------------------------
    def plan(self, job: Job) -> dict[str, Any]:
        batch = self.store.get_batch(job.tenant_id, job.batch_id)
        if batch is None or batch.status in TERMINAL:
            return {"kind": PLAN, "status": batch.status.value if batch else "absent"}
        if batch.planned:  # a redelivered or repeated plan: make sure every chunk job is queued
            self._queue_chunks(batch)
            return {"kind": PLAN, "status": batch.status.value, "chunks": batch.chunk_count}
        if batch.status == Status.CANCELLING:
            self._move(batch, (Status.CANCELLING,), Status.CANCELLED)
            return {"kind": PLAN, "status": Status.CANCELLED.value, FINISHED: Status.CANCELLED.value}
        seal = self.seals.for_tenant(batch.tenant_id)
        source = self.store.get_file(batch.tenant_id, batch.input_file_id)
        blob = self.objects.get(source.object_key) if source is not None else None
        if source is None or blob is None:
            failure = _error("file_not_found", "The input file was deleted before the batch started.")
            self._deliver(batch, Status.FAILED, {}, ())
            self._move(batch, (Status.VALIDATING,), Status.FAILED, {"errors": [failure]})
            return {"kind": PLAN, "status": Status.FAILED.value, FINISHED: Status.FAILED.value}
        checked = validate(
            seal.open(source.object_key, blob), batch.endpoint, max_lines=self.limits.max_lines
        )
        if checked.errors:
            self._deliver(batch, Status.FAILED, {}, ())
            self._move(batch, (Status.VALIDATING,), Status.FAILED, {"errors": checked.errors})
            return {"kind": PLAN, "status": Status.FAILED.value, FINISHED: Status.FAILED.value}
        size = self.limits.chunk_lines
        chunks = [checked.lines[i : i + size] for i in range(0, len(checked.lines), size)]
        for n, lines in enumerate(chunks):
            key = chunk_key(batch.tenant_id, batch.batch_id, n)
            self.objects.put(key, seal.seal(key, encode_chunk(lines)))
        planned = {"chunk_count": len(chunks), "total": len(checked.lines)}
        moved = self._move(batch, (Status.VALIDATING,), Status.IN_PROGRESS, planned)
        if moved is None:  # cancelled meanwhile: nothing was queued, so end it here
            self._move(batch, (Status.CANCELLING,), Status.CANCELLED, {"total": len(checked.lines)})
            return {"kind": PLAN, "status": Status.CANCELLED.value, FINISHED: Status.CANCELLED.value}
        self._queue_chunks(moved)
        logger.info("batch planned", extra={"batch_id": batch.batch_id, "chunks": len(chunks)})
        return {"kind": PLAN, "status": moved.status.value, "chunks": len(chunks)}

    def _queue_chunks(self, batch: BatchRecord) -> None:
        jobs = [
            Job(CHUNK, batch.tenant_id, batch.batch_id, n).as_message()
            for n in range(batch.chunk_count)
            if n not in batch.done
        ]
        if jobs:
            self.queue.send(jobs)

    # --- chunk ---------------------------------------------------------------------------------
    def run_chunk(self, job: Job, remaining_s: Callable[[], float]) -> dict[str, Any]:
        batch = self.store.get_batch(job.tenant_id, job.batch_id)
        if batch is None or batch.status in TERMINAL or not 0 <= job.chunk < batch.chunk_count:
            return {"kind": CHUNK, "chunk": job.chunk, "status": batch.status.value if batch else "absent"}
        if job.chunk in batch.done:
            ended = self._finish_if_complete(batch)
            return _finished({"kind": CHUNK, "chunk": job.chunk, "status": "counted"}, ended)
        endpoint = parse_endpoint(batch.endpoint)
        if endpoint is None:  # stored only after this same check: never happens
            raise ValueError("batch endpoint not runnable")
        seal = self.seals.for_tenant(batch.tenant_id)
        lines = self._lines(seal, batch, job.chunk)
        rkey = result_key(batch.tenant_id, batch.batch_id, job.chunk)
        stored = self.objects.get(rkey)
        result = ChunkResult.from_bytes(seal.open(rkey, stored)) if stored else ChunkResult(self._clock())
        if not result.complete:
            t0 = time.perf_counter()
            try:
                if batch.status == Status.IN_PROGRESS:  # cancelling or expiring: no more lines run
                    self._run_lines(batch, endpoint, lines, result, remaining_s, rkey, seal)
                result.complete = True
            finally:
                result.latency_ms += (time.perf_counter() - t0) * 1000.0
                self.objects.put(rkey, seal.seal(rkey, result.to_bytes()))
        self._audit(batch, endpoint, job.chunk, lines, result)
        completed, failed = result.counts
        counted = self.store.count_chunk(
            batch.tenant_id, batch.batch_id, job.chunk, completed=completed, failed=failed
        )
        if counted is not None and len(counted.done) < counted.chunk_count:
            self._progress(counted)
        ended = self._finish_if_complete(counted or self.store.get_batch(batch.tenant_id, batch.batch_id))
        return _finished({"kind": CHUNK, "chunk": job.chunk, "completed": completed, "failed": failed}, ended)

    def _lines(self, seal: TenantSeal, batch: BatchRecord, chunk: int) -> list[InputLine]:
        key = chunk_key(batch.tenant_id, batch.batch_id, chunk)
        blob = self.objects.get(key)
        if blob is None:
            raise ChunkDeferred("batch.chunk_missing")
        return decode_chunk(seal.open(key, blob))

    def _run_lines(
        self,
        batch: BatchRecord,
        endpoint: Endpoint,
        lines: Sequence[InputLine],
        result: ChunkResult,
        remaining_s: Callable[[], float],
        rkey: str,
        seal: TenantSeal,
    ) -> None:
        gate_draft = self._draft(batch, endpoint, "gate")
        refused: StewardError | None = None
        principal: Principal | None = None
        try:
            principal = self._principal(batch, gate_draft)
        except StewardError as error:
            if is_transient(error):
                raise ChunkDeferred(error.code) from None
            refused = error  # revoked key, suspended tenant: every line is refused the same way
        except Exception as error:
            logger.error("key or controls unreadable", extra={"error_type": type(error).__name__})
            raise ChunkDeferred("control.unavailable") from None
        todo = lines[len(result.lines) :]
        if principal is not None and endpoint.is_embeddings and todo:

            def new_draft(line: InputLine) -> AuditDraft:
                return self._draft(batch, endpoint, ids.request_id(batch.batch_id, line.index))

            EmbeddingLines(
                inference=self.inference,
                principal=principal,
                endpoint=endpoint,
                result=result,
                new_draft=new_draft,
                remaining_s=remaining_s,
                reserve_s=self.reserve_s,
                sleep=self._sleep,
            ).run(todo, save=lambda: self.objects.put(rkey, seal.seal(rkey, result.to_bytes())))
            return
        for line in todo:
            if remaining_s() < self.reserve_s:
                raise ChunkDeferred("worker.time_budget")
            draft = self._draft(batch, endpoint, ids.request_id(batch.batch_id, line.index))
            draft.policy_version = principal.policy_version if principal is not None else ""
            if principal is None:
                assert refused is not None
                answer = refusal(refused, draft.request_id, endpoint)
            else:
                answer = self._answer(RequestContext(principal, draft), endpoint, line, remaining_s)
            result.lines.append(line_entry(line, answer, draft))

    def _answer(
        self, ctx: RequestContext, endpoint: Endpoint, line: InputLine, remaining_s: Callable[[], float]
    ) -> Answer:
        """The line's answer; a per-minute limit is waited out while the invocation has time."""
        while True:
            try:
                return Answer(200, run_line(self.inference, ctx, endpoint, line.body))
            except RateLimited as error:
                wait = float(error.headers.get("Retry-After", "1"))
                if remaining_s() - wait < self.reserve_s:
                    raise ChunkDeferred(error.code) from None
                self._sleep(wait)
                ctx.draft.reason_codes.clear()
            except StewardError as error:
                if is_transient(error):
                    raise ChunkDeferred(error.code) from None
                return refusal(error, ctx.request_id, endpoint)
            except Exception as error:  # a bug: the line is answered 500, the others still run
                logger.exception("batch line failed", extra={"error_type": type(error).__name__})
                return refusal(InternalError(), ctx.request_id, endpoint)

    def _principal(self, batch: BatchRecord, draft: AuditDraft) -> Principal:
        """The batch's key as it stands now: refused if revoked, expired or no longer its tenant's,
        then through the same gate as every request (tenant state, kill switches)."""
        record = self.keys.get(batch.key_id)
        if record is None or record.tenant_id != batch.tenant_id or not record.is_active(self._clock()):
            raise Unauthenticated()
        principal = Principal.from_record(record)
        return self.gate.admit(principal, draft) if self.gate is not None else principal

    def _draft(self, batch: BatchRecord, endpoint: Endpoint, request_id: str) -> AuditDraft:
        return AuditDraft(
            request_id=request_id,
            method="POST",
            route=endpoint.template,
            started_at=self._clock(),
            tenant_id=batch.tenant_id,
            key_id=batch.key_id,
        )

    def _audit(
        self,
        batch: BatchRecord,
        endpoint: Endpoint,
        chunk: int,
        lines: Sequence[InputLine],
        result: ChunkResult,
    ) -> None:
        """The chunk's records, before it is counted: a result is released only once audited."""
        raw = {line.index: line.raw for line in lines}
        traces = [
            LineTrace.from_json(entry["trace"], raw[entry["i"]], str(entry["out"]).encode())
            for entry in result.lines
        ]
        about = ChunkAudit(
            tenant_id=batch.tenant_id,
            key_id=batch.key_id,
            policy_version=str(result.lines[0]["trace"].get("policy_version", "")) if result.lines else "",
            batch_id=batch.batch_id,
            chunk=chunk,
            route=endpoint.template,
            started_at=result.started_at,
            latency_ms=result.latency_ms,
        )
        try:  # the tenant plan's retention, as the api's records of the same tenant have
            plan_days = self.gate.retention(batch.tenant_id) if self.gate is not None else None
        except StewardError as error:
            raise ChunkDeferred(error.code) from None
        days = plan_days or self.audit_retention_days
        try:
            key = self.audit_keys.key(batch.tenant_id)
            for record in chunk_records(about, traces, key=key, retention_days=days):
                self.audit_store.put(record)
        except Exception as error:
            logger.error("chunk audit failed", extra={"error_type": type(error).__name__})
            raise ChunkDeferred("audit.unavailable") from None

    # --- finalise ------------------------------------------------------------------------------
    def _finish_if_complete(self, batch: BatchRecord | None) -> str | None:
        """Finalise ``batch`` if its last chunk is counted; the status it ended in, if this call ended it."""
        if batch is None or batch.status in TERMINAL or len(batch.done) < batch.chunk_count:
            return None
        if batch.expiring:  # the expire job finishes it
            return None
        if batch.status == Status.IN_PROGRESS:
            moved = self._move(batch, (Status.IN_PROGRESS,), Status.FINALIZING)
            batch = moved or self.store.get_batch(batch.tenant_id, batch.batch_id)
            if batch is None:
                return None
        if batch.status not in (Status.FINALIZING, Status.CANCELLING):
            return None
        seal = self.seals.for_tenant(batch.tenant_id)
        outcome = _Outcome()
        for n in range(batch.chunk_count):
            rkey = result_key(batch.tenant_id, batch.batch_id, n)
            blob = self.objects.get(rkey)
            if blob is None:
                raise ChunkDeferred("batch.result_missing")
            for entry in ChunkResult.from_bytes(seal.open(rkey, blob)).lines:
                outcome.add(entry)
        target = Status.CANCELLED if batch.status == Status.CANCELLING else Status.COMPLETED
        ended = self._end(seal, batch, target, outcome, {})
        logger.info("batch finished", extra={"batch_id": batch.batch_id, "status": target.value})
        return target.value if ended is not None else None

    def _end(
        self, seal: TenantSeal, batch: BatchRecord, to: Status, outcome: _Outcome, changes: dict[str, Any]
    ) -> BatchRecord | None:
        """Write the output and error files, the drop-in's manifest, then move the batch to ``to``."""
        if outcome.outputs:
            changes["output_file_id"] = self._write_file(seal, batch, "output", outcome.outputs)
        if outcome.errors:
            changes["error_file_id"] = self._write_file(seal, batch, "error", outcome.errors)
        self._deliver(batch, to, changes, outcome.codes)
        return self._move(batch, (batch.status,), to, changes)

    # --- expiry --------------------------------------------------------------------------------
    def sweep(self) -> dict[str, Any]:
        """The schedule's job: an expire job for each batch whose 24 h window has ended."""
        due = self.store.due_batches(int(self._clock()), limit=SWEEP_LIMIT)
        jobs = [Job(EXPIRE, b.tenant_id, b.batch_id).as_message() for b in due]
        if jobs:
            self.queue.send(jobs)
            logger.info("batches due to expire", extra={"count": len(jobs)})
        return {"kind": SWEEP, "due": len(jobs)}

    def expire(self, job: Job) -> dict[str, Any]:
        """End a batch whose window is over (OpenAI's ``expired``): its lines that ran keep their
        answers, the others go to the error file as ``batch_expired``; chunks still queued run
        no line (the batch is no longer ``in_progress``)."""
        batch = self.store.get_batch(job.tenant_id, job.batch_id)
        now = int(self._clock())
        if batch is None or batch.status in TERMINAL or batch.expires_at > now:
            return {"kind": EXPIRE, "status": batch.status.value if batch else "absent"}
        if not batch.planned:
            self._move(batch, (Status.VALIDATING, Status.CANCELLING), Status.EXPIRED)
            return {"kind": EXPIRE, "status": Status.EXPIRED.value, FINISHED: Status.EXPIRED.value}
        if not batch.expiring:
            moved = self._move(
                batch, (Status.IN_PROGRESS, Status.CANCELLING), Status.FINALIZING, {"expiring": True}
            )
            if moved is None:  # finishing anyway (its last chunk was counted): let it complete
                return {"kind": EXPIRE, "status": "finishing"}
            batch = moved
        seal = self.seals.for_tenant(batch.tenant_id)
        outcome = _Outcome()
        for n in range(batch.chunk_count):
            rkey = result_key(batch.tenant_id, batch.batch_id, n)
            stored = self.objects.get(rkey)
            done = (
                {e["i"]: e for e in ChunkResult.from_bytes(seal.open(rkey, stored)).lines} if stored else {}
            )
            for line in self._lines(seal, batch, n):
                entry = done.get(line.index)
                if entry is None:
                    outcome.errors.append(_expired(batch.batch_id, line))
                    outcome.codes.append("batch_expired")
                else:
                    outcome.add(entry)
        counts: dict[str, Any] = {"completed": len(outcome.outputs), "failed": len(outcome.errors)}
        self._end(seal, batch, Status.EXPIRED, outcome, counts)
        logger.info("batch expired", extra={"batch_id": batch.batch_id})
        return {"kind": EXPIRE, "status": Status.EXPIRED.value, FINISHED: Status.EXPIRED.value}

    # --- drop-in results (`steward.batches.delivery`) ---------------------------------------------
    def _dropin_name(self, batch: BatchRecord) -> str | None:
        """The drop-in's name, for a batch a drop-in started: its input file's id is derived from
        the batch id (`steward.batches.dropin`), which no upload's random id can be."""
        if batch.sealed is None or batch.input_file_id != ids.output_file_id(batch.batch_id, "input"):
            return None
        opened = self.seals.for_tenant(batch.tenant_id).open(metadata_context(batch.batch_id), batch.sealed)
        metadata = orjson.loads(opened)
        return delivery.dropin_name(batch.tenant_id, metadata if isinstance(metadata, dict) else None)

    def _progress(self, batch: BatchRecord) -> None:
        """A drop-in's progress (advisory: never fails the chunk, which is already counted)."""
        try:
            name = self._dropin_name(batch)
            if name is not None:
                delivery.write_progress(self.objects, batch, name, int(self._clock()))
        except Exception as error:
            logger.warning("drop-in progress not written", extra={"error_type": type(error).__name__})

    def _deliver(
        self, batch: BatchRecord, to: Status, changes: dict[str, Any], codes: Sequence[str | None]
    ) -> None:
        """A drop-in's final manifest, written before the batch ends: a retried job that finds the
        batch not yet ended writes it again, so an ended batch always has one."""
        name = self._dropin_name(batch)
        if name is None:
            return
        fields = {k: v for k, v in changes.items() if k in _MANIFEST_FIELDS}
        ended = dataclasses.replace(batch, status=to, **fields)
        delivery.write_manifest(self.objects, ended, name, codes, int(self._clock()))

    def _write_file(self, seal: TenantSeal, batch: BatchRecord, kind: str, lines: list[bytes]) -> str:
        file_id = ids.output_file_id(batch.batch_id, kind)
        key = file_key(batch.tenant_id, file_id)
        content = b"\n".join(lines) + b"\n"
        now = int(self._clock())
        name = f"{batch.batch_id}_{kind}.jsonl"
        self.objects.put(key, seal.seal(key, content))
        self.store.put_file(
            FileRecord(
                tenant_id=batch.tenant_id,
                file_id=file_id,
                purpose=Purpose.BATCH_OUTPUT,
                size=len(content),
                created_at=now,
                object_key=key,
                sealed=seal.seal(name_context(file_id), name.encode()),
                expires_at=now + self.limits.retention_days * SECONDS_PER_DAY,
            )
        )
        return file_id

    def _move(
        self,
        batch: BatchRecord,
        from_statuses: tuple[Status, ...],
        to: Status,
        changes: dict[str, Any] | None = None,
    ) -> BatchRecord | None:
        return self.store.transition(
            batch.tenant_id,
            batch.batch_id,
            from_statuses=from_statuses,
            to=to,
            at=int(self._clock()),
            changes=changes,
        )


@dataclass
class _Outcome:
    """A batch's output and error lines, in order, and each refused line's code."""

    outputs: list[bytes] = field(default_factory=list)
    errors: list[bytes] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        if entry["ok"]:
            self.outputs.append(str(entry["out"]).encode())
        else:
            self.errors.append(str(entry["out"]).encode())
            self.codes.append(entry["trace"].get("code"))


_MANIFEST_FIELDS = frozenset({"total", "completed", "failed", "output_file_id", "error_file_id"})


def _finished(result: dict[str, Any], status: str | None) -> dict[str, Any]:
    return {**result, FINISHED: status} if status else result


def _expired(batch_id: str, line: InputLine) -> bytes:
    """OpenAI's error line for a request the window closed on (no response: it never ran)."""
    out = {
        "id": ids.request_id(batch_id, line.index),
        "custom_id": line.custom_id,
        "response": None,
        "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE},
    }
    return orjson.dumps(out)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "param": None, "line": None}
