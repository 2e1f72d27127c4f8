"""A chunk's ``/v1/embeddings`` lines: each checked alone, charged together, sent together.

Why not line by line: a line alone costs nine conditional counter writes (its limits) and one
backend call of one text; a chunk of 50 lines charged in one admission (``requests=50``, the
lines' units summed) and sent in calls of up to the model's batch limit costs nine writes and one
or two backend calls. Nothing a line would get alone is lost: its body is checked by the route's
schema, its model resolved for its key, its texts redacted and policy-checked by its own guards,
its answer filtered by them, and its audit trace kept (`steward.inference.embedding_calls`).

Limits stay exact: when the chunk's lines do not all fit in what is left of a limit, they are
charged one by one instead, so the lines that fit run and the rest are answered 429 (a quota) or
wait for the next minute (a rate). The lines charged are saved in the chunk's result before any
backend call, so a retried chunk never charges a line twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.batches.chunk_result import ChunkDeferred, ChunkResult, line_entry
from steward.batches.endpoints import Endpoint
from steward.batches.jsonl import InputLine
from steward.batches.lines import Answer, LineInvalid, is_transient, refusal
from steward.context import RequestContext
from steward.errors import InternalError, QuotaExceeded, RateLimited, StewardError
from steward.inference.embedding_calls import EmbeddingCall
from steward.inference.requests import EmbeddingsRequest
from steward.inference.service import InferenceService

logger = logging.getLogger("steward.batches")


class EmbeddingLines:
    def __init__(
        self,
        *,
        inference: InferenceService,
        principal: Principal,
        endpoint: Endpoint,
        result: ChunkResult,
        new_draft: Callable[[InputLine], AuditDraft],
        remaining_s: Callable[[], float],
        reserve_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.inference = inference
        self.principal = principal
        self.endpoint = endpoint
        self.result = result
        self._new_draft = new_draft
        self._remaining_s = remaining_s
        self._reserve_s = reserve_s
        self._sleep = sleep

    def run(self, lines: Sequence[InputLine], save: Callable[[], None]) -> None:
        """Answer ``lines`` into the result, in order; `ChunkDeferred` (what is done is kept)
        when a refusal says "not now" or the invocation's time runs short."""
        if self._remaining_s() < self._reserve_s:
            raise ChunkDeferred("worker.time_budget")
        drafts = {line.index: self._new_draft(line) for line in lines}
        answers: dict[int, Answer] = {}
        calls: dict[int, EmbeddingCall] = {}
        for line in lines:
            draft = drafts[line.index]
            draft.policy_version = self.principal.policy_version
            try:
                calls[line.index] = self._prepare(RequestContext(self.principal, draft), line)
            except StewardError as error:
                if is_transient(error):
                    raise ChunkDeferred(error.code) from None
                answers[line.index] = refusal(error, draft.request_id, self.endpoint)
            except Exception as error:  # a bug: the line is answered 500, the others still run
                logger.exception("batch line failed", extra={"error_type": type(error).__name__})
                answers[line.index] = refusal(InternalError(), draft.request_id, self.endpoint)
        self._charge(calls, answers, drafts, save)
        admitted = [i for i in sorted(calls) if i not in answers]
        deferred: dict[int, str] = {}
        for i, out in zip(admitted, self.inference.embed_calls([calls[i] for i in admitted]), strict=True):
            if isinstance(out, StewardError) and is_transient(out):
                deferred[i] = out.code
            elif isinstance(out, StewardError):
                answers[i] = refusal(out, drafts[i].request_id, self.endpoint)
            elif isinstance(out, Exception):
                logger.error("batch line failed", extra={"error_type": type(out).__name__})
                answers[i] = refusal(InternalError(), drafts[i].request_id, self.endpoint)
            else:
                answers[i] = Answer(200, out)
        for line in lines:  # in order, up to the first line that must wait
            if line.index in deferred:
                raise ChunkDeferred(deferred[line.index])
            self.result.lines.append(line_entry(line, answers[line.index], drafts[line.index]))

    def _prepare(self, ctx: RequestContext, line: InputLine) -> EmbeddingCall:
        try:
            body = EmbeddingsRequest.model_validate(line.body)
        except ValidationError as error:
            raise LineInvalid(error) from None
        return self.inference.prepare_embedding(
            ctx, body.model, body.input, body.encoding_format, body.dimensions
        )

    # --- limits ------------------------------------------------------------------------------
    def _charge(
        self,
        calls: dict[int, EmbeddingCall],
        answers: dict[int, Answer],
        drafts: dict[int, AuditDraft],
        save: Callable[[], None],
    ) -> None:
        """Charge the lines not charged yet: per model in one admission, or line by line when the
        chunk does not fit; then save which lines are charged, before anything is sent."""
        by_model: dict[str, list[int]] = {}
        for i in sorted(calls):
            if i not in self.result.charged:
                by_model.setdefault(calls[i].resolved.entry.model, []).append(i)
        if not by_model:
            return
        try:
            for indexes in by_model.values():
                try:
                    self.inference.admit_calls([calls[i] for i in indexes])
                    self.result.charged.update(indexes)
                    continue
                except (RateLimited, QuotaExceeded):
                    pass  # not all fit: each line on its own, exactly up to the limit
                for i in indexes:
                    refused = self._admit_one(calls[i], save)
                    if refused is None:
                        self.result.charged.add(i)
                    else:
                        answers[i] = refusal(refused, drafts[i].request_id, self.endpoint)
        except StewardError as error:
            if is_transient(error):
                save()
                raise ChunkDeferred(error.code) from None
            raise
        save()

    def _admit_one(self, call: EmbeddingCall, save: Callable[[], None]) -> StewardError | None:
        """Charge one line; a per-minute limit is waited out while the invocation has time. The
        refusal to answer the line with (a quota), or None once charged."""
        while True:
            try:
                self.inference.admit_call(call)
                return None
            except RateLimited as error:
                wait = float(error.headers.get("Retry-After", "1"))
                if self._remaining_s() - wait < self._reserve_s:
                    save()
                    raise ChunkDeferred(error.code) from None
                self._sleep(wait)
            except QuotaExceeded as error:
                return error
