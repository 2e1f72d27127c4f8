"""Inference use cases: OpenAI embeddings, OIP v2 inference and explanations.

All three reach a backend through `InferenceService._call`, the one guarded way out: every text is
redacted before it leaves and every text of the answer filtered before it returns (fail closed,
`steward.privacy.guard`), and the tenant's usage policy checks both (`steward.usage_policy.engine`:
a ``block`` never reaches the backend). Entitlement and model state are decided by
`steward.catalog.service.Catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steward.catalog.registry import ResolvedModel, split_model_ref
from steward.catalog.service import Catalog
from steward.catalog.signature import declared_names, tensor_name
from steward.context import RequestContext
from steward.errors import InvalidInput, TaskMismatch, UnsupportedInput
from steward.fairness.service import Fairness
from steward.inference import embeddings as emb
from steward.inference import oip_tensors as oip
from steward.inference.embedding_calls import EmbeddingCall, run_calls
from steward.inference.limits import Limits, caller_texts
from steward.inference.serving_monitor import ServingMonitor, is_backend_fault
from steward.limits.admission import RateLimiter
from steward.limits.units import payload_units, text_units
from steward.privacy.guard import PrivacyGuard, RequestPrivacy
from steward.quality.drift_monitor import DriftMonitor
from steward.routing.router import Router
from steward.routing.transport import BackendRequest
from steward.usage_policy.book import NoStoredUsagePolicies, UsagePolicyBook
from steward.usage_policy.engine import UsageGuard


class InferenceService:
    def __init__(
        self,
        catalog: Catalog,
        router: Router,
        privacy: PrivacyGuard,
        fairness: Fairness,
        limits: Limits | None = None,
        rate_limiter: RateLimiter | None = None,
        usage: UsageGuard | None = None,
        serving: ServingMonitor | None = None,
        drift: DriftMonitor | None = None,
    ) -> None:
        self.catalog = catalog
        self.router = router
        self.privacy = privacy
        self.fairness = fairness
        self.limits = limits or Limits()
        self.rate_limiter = rate_limiter
        self.usage = usage or UsageGuard(UsagePolicyBook(NoStoredUsagePolicies()))
        self.serving = serving or ServingMonitor(None)
        self.drift = drift  # label-free drift counting of answered requests (never withholds one)

    def embed(
        self,
        ctx: RequestContext,
        model_ref: str,
        inputs: str | Sequence[Any],
        encoding_format: str,
        dimensions: int | None,
    ) -> dict[str, Any]:
        """OpenAI embeddings: checked, admitted, then sent (more inputs than the backend's batch
        limit are split into several calls)."""
        call = self.prepare_embedding(ctx, model_ref, inputs, encoding_format, dimensions)
        self._admit(ctx, call.resolved, text_units(call.texts))
        answer = self.embed_calls([call])[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def prepare_embedding(
        self,
        ctx: RequestContext,
        model_ref: str,
        inputs: str | Sequence[Any],
        encoding_format: str,
        dimensions: int | None,
    ) -> EmbeddingCall:
        """An embeddings request's own checks, before it is charged. ``dimensions`` is accepted
        only as the model's own size (refused before any backend call when the registry knows it):
        the served sentence encoders are not trained for truncation."""
        texts = caller_texts(inputs, self.limits)
        ctx.draft.n_inputs = len(texts)
        resolved = self.catalog.resolve(ctx, *split_model_ref(model_ref))
        if resolved.version.task and resolved.version.task not in emb.EMBEDDING_TASKS:
            raise TaskMismatch(f"Model '{resolved.entry.model}' does not produce embeddings.")
        mv = resolved.version
        native = emb.native_dimensions(mv.outputs, tensor_name(mv.outputs, emb.DEFAULT_OUTPUT))
        if dimensions is not None and native is not None and dimensions != native:
            raise UnsupportedInput(emb.dimensions_message(resolved.entry.model, native))
        return EmbeddingCall(ctx, resolved, texts, encoding_format, dimensions)

    def admit_calls(self, calls: Sequence[EmbeddingCall]) -> None:
        """One charge for several prepared calls of one caller on one model (a batch chunk's
        lines): all admitted, or none charged and the refusal raised."""
        if not calls or self.rate_limiter is None:
            return
        first = calls[0]
        units = sum(text_units(c.texts) for c in calls)
        self.rate_limiter.admit(first.ctx, first.resolved.entry.model, units, requests=len(calls))
        for call in calls[1:]:  # the exemption's reason code, as each request alone would carry
            codes = call.ctx.draft.reason_codes
            codes.extend(c for c in first.ctx.draft.reason_codes if c not in codes)

    def admit_call(self, call: EmbeddingCall) -> None:
        self._admit(call.ctx, call.resolved, text_units(call.texts))

    def embed_calls(self, calls: Sequence[EmbeddingCall]) -> list[dict[str, Any] | Exception]:
        """Admitted calls through the guarded way out, sharing backend calls
        (`steward.inference.embedding_calls`): each call's answer or its error, in order."""
        return run_calls(
            calls,
            router=self.router,
            privacy=self.privacy,
            usage=self.usage,
            serving=self.serving,
            drift=self.drift,
        )

    def infer(
        self, ctx: RequestContext, model: str, version: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """OIP v2 pass-through: the caller's tensors go to the routed backend model version.

        With ``parameters.group`` on a classifier, the outcome is counted for fairness monitoring
        (`steward.fairness.service`); the group itself never reaches the backend. Every
        classifier answer's scores are kept for quality monitoring (`steward.quality.monitor`).
        """
        resolved = self.catalog.resolve(ctx, model, version)
        inputs = payload.get("inputs")
        ctx.draft.n_inputs = len(inputs) if isinstance(inputs, list) else 0
        self._check_tensors(resolved, payload)
        payload, groups = self.fairness.take_groups(ctx, resolved, payload)
        self._admit(ctx, resolved, payload_units(payload))
        result = self._call(ctx, resolved, payload)
        if self.drift is not None:
            self.drift.observe_inference(ctx, resolved, payload, result)
        answer: dict[str, Any] = {
            "model_name": resolved.entry.model,
            "model_version": resolved.version.version,
            "outputs": result.get("outputs", []),
        }
        if "id" in result:
            answer["id"] = result["id"]
        if isinstance(result.get("parameters"), dict):
            answer["parameters"] = result["parameters"]
        monitored = self.fairness.record_outcomes(ctx, resolved, groups, result)
        if monitored:  # fairness_recorded / quality_recorded: monitoring never withholds an answer
            answer["parameters"] = {**answer.get("parameters", {}), **monitored}
        return answer

    def explain(
        self, ctx: RequestContext, model: str, version: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Attributions from the backend's explainer (Shapley for tabular, occlusion for text)."""
        resolved = self.catalog.resolve(ctx, model, version)
        inputs = payload.get("inputs")
        ctx.draft.n_inputs = len(inputs) if isinstance(inputs, list) else 0
        self._check_tensors(resolved, payload)
        if isinstance(inputs, list) and inputs:
            shape = inputs[0].get("shape") if isinstance(inputs[0], Mapping) else None
            rows = shape[0] if isinstance(shape, list) and shape else 0
            if isinstance(rows, int) and rows > self.limits.max_explain_rows:
                raise InvalidInput(
                    f"Explain at most {self.limits.max_explain_rows} rows per request; split the request."
                )
        self._admit(ctx, resolved, payload_units(payload))
        result = self._call(ctx, resolved, payload, operation="explain")
        answer: dict[str, Any] = {
            "model_name": resolved.entry.model,
            "model_version": resolved.version.version,
            "outputs": result.get("outputs", []),
            "parameters": result.get("parameters") if isinstance(result.get("parameters"), dict) else {},
        }
        if "id" in result:
            answer["id"] = result["id"]
        return answer

    def _admit(self, ctx: RequestContext, resolved: ResolvedModel, units: int) -> None:
        """The rate limits and quotas (`steward.limits`): once per request, after the caller and
        the model are known and the request's own checks passed, before any backend call (a
        refused call never reaches the backend and is not charged)."""
        if self.rate_limiter is not None:
            self.rate_limiter.admit(ctx, resolved.entry.model, units)

    def _check_tensors(self, resolved: ResolvedModel, payload: Mapping[str, Any]) -> None:
        """OIP rules before any backend call (`steward.inference.oip_tensors`): text travels only
        in BYTES tensors and parameter values, where the privacy guard sees it."""
        mv = resolved.version
        oip.check_request(
            payload,
            inputs=declared_names(mv.inputs) or None,  # None: the registry doesn't know them
            outputs=declared_names(mv.outputs) or None,
            max_elements=self.limits.max_tensor_elements,
            max_strings=self.limits.max_tensor_strings,
        )

    def _call(
        self,
        ctx: RequestContext,
        resolved: ResolvedModel,
        payload: Mapping[str, Any],
        operation: str = "infer",
        guard: RequestPrivacy | None = None,
    ) -> dict[str, Any]:
        """The one way to a backend: every text is redacted before it leaves, every text of the
        answer is filtered and unmasked before it returns (fail closed, see `steward.privacy.guard`);
        the usage policy checks the redacted request before it leaves and the answer before it
        returns. ``guard``: the request's guard when one request makes several calls (embedding
        batches)."""
        draft = ctx.draft
        mv = resolved.version
        guard = guard or self.privacy.begin(draft.tenant_id, resolved.entry.model, draft)
        usage = self.usage.begin(ctx, resolved.entry.model, review_view=guard.remask)
        # The binary extension's flags never reach the backend: it always answers JSON.
        redacted = guard.redact_request(
            oip.without_binary_parameters(payload),
            known_names=frozenset(t["name"] for t in (*mv.inputs, *mv.outputs) if "name" in t),
        )
        usage.check_request(redacted)
        request = BackendRequest(
            model=mv.backend_model, version=mv.backend_version, payload=redacted, operation=operation
        )
        # A shadow copy (routed OIP inference only) runs beside the call, and is counted, never returned.
        counted = operation == "infer"  # an explanation's cost is the explainer's, not the version's
        shadow = (
            self.serving.start_shadow(draft.tenant_id, self.router, resolved, request) if counted else None
        )
        try:
            result = self.router.call(mv.target, request)
        except Exception as error:
            draft.backend_attempts = max(draft.backend_attempts, 1)
            if counted:
                self.serving.observe(draft.tenant_id, mv, None, failed=is_backend_fault(error))
            self.serving.finish_shadow(draft.tenant_id, resolved, shadow, None)
            raise
        draft.backend_attempts = result.attempts
        draft.backend_latency_ms = result.latency_ms
        if counted:
            self.serving.observe(draft.tenant_id, mv, result.latency_ms, failed=False)
        self.serving.finish_shadow(draft.tenant_id, resolved, shadow, result.payload)
        answer = guard.filter_response(result.payload)
        usage.check_response(answer)
        return answer
