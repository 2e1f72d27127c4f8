"""Many embeddings requests in as few backend calls as the backend's batch limit allows.

The synchronous route sends one request's texts; a chunk of a batch file holds many requests,
and a sentence encoder costs far less per text in one call of 64 texts than in 64 calls of one.
Each request keeps everything it would have alone: its own privacy guard (its placeholders mean
its own values), its own usage-policy check of the redacted texts before anything leaves and of
its part of the answer before it is kept, its own audit draft (backend attempts and latency of
every call that carried its texts). Only the redacted texts travel together; each request's
slice of the answer is cut back out before its guard filters it.

A request refused before the call (usage policy, a name the guard will not pass) never joins the
call. A call that fails fails exactly the requests whose texts it carried, each with the error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from steward.catalog.registry import ResolvedModel, Target
from steward.catalog.signature import tensor_name
from steward.context import RequestContext
from steward.errors import BackendError, UnsupportedInput
from steward.inference import embeddings as emb
from steward.inference.serving_monitor import ServingMonitor, is_backend_fault
from steward.privacy.guard import PrivacyGuard, RequestPrivacy
from steward.quality.drift_monitor import DriftMonitor
from steward.routing.router import Router
from steward.routing.transport import BackendRequest
from steward.usage_policy.engine import RequestUsage, UsageGuard


@dataclass
class EmbeddingCall:
    """One embeddings request, checked and resolved, not yet admitted or sent."""

    ctx: RequestContext
    resolved: ResolvedModel
    texts: list[str]
    encoding_format: str
    dimensions: int | None


@dataclass
class _Pending:
    """A call on its way: its guards, its redacted texts, and the parts of the answer so far."""

    call: EmbeddingCall
    privacy: RequestPrivacy
    usage: RequestUsage
    redacted: list[str]
    parts: list[emb.Embeddings] = field(default_factory=list)
    failure: Exception | None = None


def run_calls(
    calls: Sequence[EmbeddingCall],
    *,
    router: Router,
    privacy: PrivacyGuard,
    usage: UsageGuard,
    serving: ServingMonitor | None = None,
    drift: DriftMonitor | None = None,
) -> list[dict[str, Any] | Exception]:
    """Each call's OpenAI answer, or the error its request alone would have raised, in order.

    Calls on the same model version share backend calls of at most its ``max_batch_size`` texts;
    each answered call's embeddings are counted by ``drift`` (when given)."""
    answers: list[dict[str, Any] | Exception] = [BackendError()] * len(calls)
    groups: dict[tuple[str, str, Target], list[tuple[int, _Pending]]] = {}
    for n, call in enumerate(calls):
        try:
            pending = _begin(call, privacy, usage)
        except Exception as error:
            answers[n] = error
            continue
        mv = call.resolved.version
        groups.setdefault((mv.backend_model, mv.backend_version, mv.target), []).append((n, pending))
    for members in groups.values():
        _send(router, [p for _, p in members], serving or ServingMonitor(None))
        for n, pending in members:
            answers[n] = pending.failure if pending.failure is not None else _answer(pending, drift)
    return answers


def _begin(call: EmbeddingCall, privacy: PrivacyGuard, usage: UsageGuard) -> _Pending:
    """The request's guards, and its texts as the backend may see them (checked by its policy)."""
    draft = call.ctx.draft
    mv = call.resolved.version
    model = call.resolved.entry.model
    guard = privacy.begin(draft.tenant_id, model, draft)
    policy = usage.begin(call.ctx, model, review_view=guard.remask)
    input_name = tensor_name(mv.inputs, emb.DEFAULT_INPUT)
    known = frozenset(t["name"] for t in (*mv.inputs, *mv.outputs) if "name" in t)
    redacted = guard.redact_request(emb.build_request(call.texts, input_name), known_names=known)
    policy.check_request(redacted)
    return _Pending(call, guard, policy, [str(t) for t in redacted["inputs"][0]["data"]])


def _caller(carried: Sequence[tuple[_Pending, int, int]]) -> str:
    """The tenant a shared backend call is counted for: its first member's (calls share a backend
    call only within one request or one batch chunk, i.e. one caller)."""
    return carried[0][0].call.ctx.draft.tenant_id


def _send(router: Router, members: Sequence[_Pending], serving: ServingMonitor) -> None:
    """Backend calls of at most the version's batch limit over the members' texts, in order."""
    mv = members[0].call.resolved.version
    input_name = tensor_name(mv.inputs, emb.DEFAULT_INPUT)
    output_name = tensor_name(mv.outputs, emb.DEFAULT_OUTPUT)
    spans = [(p, i) for p in members for i in range(len(p.call.texts))]
    for batch in emb.batches(spans, mv.max_batch_size):
        carried = _runs(batch)
        texts = [p.redacted[i] for p, i in batch]
        request = BackendRequest(
            model=mv.backend_model,
            version=mv.backend_version,
            payload=emb.build_request(texts, input_name),
            operation="infer",
        )
        try:
            result = router.call(mv.target, request)
        except Exception as error:
            for p, _, _ in carried:
                p.call.ctx.draft.backend_attempts += 1
                p.failure = p.failure or error
            serving.observe(_caller(carried), mv, None, failed=is_backend_fault(error))
            continue
        serving.observe(_caller(carried), mv, result.latency_ms, failed=False)  # once per backend call
        whole = len(carried) == 1 and carried[0][2] == len(batch)
        offset = 0
        for p, first, count in carried:
            draft = p.call.ctx.draft
            draft.backend_attempts += result.attempts
            draft.backend_latency_ms = (draft.backend_latency_ms or 0.0) + result.latency_ms
            if p.failure is None:
                try:
                    part = result.payload if whole else _slice(result.payload, output_name, offset, count)
                    answer = p.privacy.filter_response(part)
                    p.usage.check_response(answer)
                    own = p.call.texts[first : first + count]
                    p.parts.append(emb.parse_response(answer, count, own, output_name))
                except Exception as error:
                    p.failure = error
            offset += count


def _runs(batch: Sequence[tuple[_Pending, int]]) -> list[tuple[_Pending, int, int]]:
    """Consecutive texts of one member as ``(member, first index, count)``."""
    runs: list[tuple[_Pending, int, int]] = []
    for p, i in batch:
        if runs and runs[-1][0] is p:
            runs[-1] = (p, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((p, i, 1))
    return runs


def _slice(payload: Mapping[str, Any], output_name: str, offset: int, count: int) -> dict[str, Any]:
    """Rows ``offset .. offset+count`` of the answer's embedding tensor, as a whole answer would
    hold them (other outputs and ``parameters`` describe the whole call, so they stay out)."""
    outputs = payload.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise BackendError()
    tensor = next((o for o in outputs if isinstance(o, dict) and o.get("name") == output_name), outputs[0])
    shape = tensor.get("shape") if isinstance(tensor, dict) else None
    data = tensor.get("data") if isinstance(tensor, dict) else None
    if not (
        isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int) and isinstance(data, list)
    ):
        raise BackendError()
    dim = shape[1]
    flat = emb.flatten(data)
    rows = flat[offset * dim : (offset + count) * dim]
    part = {k: v for k, v in payload.items() if k not in ("outputs", "parameters")}
    part["outputs"] = [{**tensor, "shape": [count, dim], "data": rows}]
    return part


def _answer(pending: _Pending, drift: DriftMonitor | None = None) -> dict[str, Any] | Exception:
    call = pending.call
    vectors = emb.merge(pending.parts)
    got = len(vectors.vectors[0]) if vectors.vectors else None
    if call.dimensions is not None and got is not None and call.dimensions != got:
        return UnsupportedInput(emb.dimensions_message(call.resolved.entry.model, got))
    if drift is not None:
        drift.observe_embeddings(call.ctx, call.resolved, vectors.vectors)
    return emb.openai_response(call.resolved.ref, vectors, call.encoding_format)
