"""The data plane behind every public route: resolve, check, route, shape the answer.

Protocol front-ends (OpenAI embeddings, OIP v2) stay thin and all share this one object, so
entitlement, model state and routing rules are enforced in exactly one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steward import embeddings as emb
from steward import oip_tensors as oip
from steward.audit import AuditDraft, AuditStore, decode_cursor, encode_cursor, public_view
from steward.auth.principal import Principal
from steward.cards import card_document, makes_decisions
from steward.errors import (
    FeatureNotConfigured,
    InvalidInput,
    TaskMismatch,
    UnknownFairnessGroup,
    UnsupportedInput,
)
from steward.fairness.monitor import (
    FairnessMonitor,
    parse_groups,
    parse_labels,
    predictions_from_output,
    threshold_of,
)
from steward.privacy_guard import PrivacyGuard, RequestPrivacy
from steward.privacy_policies import PolicyBook
from steward.registry import Registry, ResolvedModel, split_model_ref
from steward.routing.router import Router
from steward.routing.transport import BackendRequest


@dataclass(frozen=True)
class Limits:
    max_embedding_inputs: int = 128
    max_input_chars: int = 32_768
    max_audit_page: int = 100
    max_explain_rows: int = 64  # the backend's own cap; checked here for a clear message
    max_tensor_elements: int = oip.MAX_ELEMENTS  # all input tensors of one OIP request together
    max_tensor_strings: int = oip.MAX_STRINGS  # what the privacy guard reads for one OIP request


logger = logging.getLogger("steward.gateway")
GROUP_PARAMETER = "group"


class Gateway:
    def __init__(
        self,
        registry: Registry,
        router: Router,
        audit_store: AuditStore,
        limits: Limits | None = None,
        fairness: FairnessMonitor | None = None,
        privacy: PrivacyGuard | None = None,
    ) -> None:
        self.registry = registry
        self.router = router
        self.audit_store = audit_store
        self.limits = limits or Limits()
        self.fairness = fairness
        # Never "no privacy": without a configured guard, the built-in default policy applies.
        self.privacy = privacy or PrivacyGuard(PolicyBook(_NoStoredPolicies()))

    # --- discovery -------------------------------------------------------------------------
    def list_models(self, principal: Principal) -> dict[str, Any]:
        """OpenAI ``GET /v1/models``: only what this key may call right now."""
        return {
            "object": "list",
            "data": [_model_object(r, r.entry.model) for r in self.registry.list_for(principal)],
        }

    def retrieve_model(self, principal: Principal, model_ref: str, draft: AuditDraft) -> dict[str, Any]:
        """OpenAI ``GET /v1/models/{id}``: a model this key may call right now (``name`` or
        ``name@version``, as in ``model`` of embeddings); otherwise the usual ``model.not_found``,
        identical for "absent" and "not yours"."""
        model, version = split_model_ref(model_ref)
        resolved = self._resolve(principal, model, version, draft)
        return _model_object(resolved, resolved.entry.model if version is None else resolved.ref)

    def model_metadata(
        self, principal: Principal, model: str, version: str | None, draft: AuditDraft
    ) -> dict[str, Any]:
        """OIP model metadata from the registry (no backend round trip)."""
        resolved = self._resolve(principal, model, version, draft)
        return {
            "name": resolved.entry.model,
            "versions": [resolved.version.version],
            "platform": "steward",
            "inputs": [dict(t) for t in resolved.version.inputs],
            "outputs": [dict(t) for t in resolved.version.outputs],
        }

    # --- inference ---------------------------------------------------------------------------
    def embed(
        self,
        principal: Principal,
        model_ref: str,
        inputs: str | Sequence[Any],
        encoding_format: str,
        dimensions: int | None,
        draft: AuditDraft,
    ) -> dict[str, Any]:
        """OpenAI embeddings. ``dimensions`` is accepted only as the model's own size (refused
        before any backend call when the registry knows it): the served sentence encoders are not
        trained for truncation. More inputs than the backend's batch limit are split."""
        texts = self._texts(inputs)
        draft.n_inputs = len(texts)
        model, version = split_model_ref(model_ref)
        resolved = self._resolve(principal, model, version, draft)
        if resolved.version.task and resolved.version.task not in emb.EMBEDDING_TASKS:
            raise TaskMismatch(f"Model '{resolved.entry.model}' does not produce embeddings.")
        mv = resolved.version
        native = emb.native_dimensions(mv.outputs, emb.tensor_name(mv.outputs, emb.DEFAULT_OUTPUT))
        if dimensions is not None and native is not None and dimensions != native:
            raise UnsupportedInput(emb.dimensions_message(resolved.entry.model, native))
        vectors = self._embed_batches(resolved, texts, draft)
        got = len(vectors.vectors[0]) if vectors.vectors else None
        if dimensions is not None and got is not None and dimensions != got:
            raise UnsupportedInput(emb.dimensions_message(resolved.entry.model, got))
        return emb.openai_response(resolved.entry.model, vectors, encoding_format)

    def _embed_batches(
        self, resolved: ResolvedModel, texts: Sequence[str], draft: AuditDraft
    ) -> emb.Embeddings:
        """One backend call per ``max_batch_size`` texts (the backend refuses bigger batches), in
        order, under one privacy guard (a placeholder means one value across the request) and one
        audit draft (attempts and backend latency summed over the calls)."""
        mv = resolved.version
        input_name = emb.tensor_name(mv.inputs, emb.DEFAULT_INPUT)
        output_name = emb.tensor_name(mv.outputs, emb.DEFAULT_OUTPUT)
        guard = self.privacy.begin(draft.tenant_id, resolved.entry.model, draft)
        parts: list[emb.Embeddings] = []
        attempts, latency_ms = 0, None
        try:
            for batch in emb.batches(texts, mv.max_batch_size):
                draft.backend_attempts, draft.backend_latency_ms = 0, None
                try:
                    result = self._call(resolved, emb.build_request(batch, input_name), draft, guard=guard)
                finally:
                    attempts += draft.backend_attempts
                    if draft.backend_latency_ms is not None:
                        latency_ms = (latency_ms or 0.0) + draft.backend_latency_ms
                parts.append(emb.parse_response(result, len(batch), batch, output_name))
        finally:
            draft.backend_attempts, draft.backend_latency_ms = attempts, latency_ms
        return emb.merge(parts)

    def infer(
        self,
        principal: Principal,
        model: str,
        version: str | None,
        payload: Mapping[str, Any],
        draft: AuditDraft,
    ) -> dict[str, Any]:
        """OIP v2 pass-through: the caller's tensors go to the routed backend model version.

        With ``parameters.group`` on a classifier, the outcome is counted for fairness monitoring
        (`steward.fairness.monitor`); the group itself never reaches the backend.
        """
        resolved = self._resolve(principal, model, version, draft)
        inputs = payload.get("inputs")
        draft.n_inputs = len(inputs) if isinstance(inputs, list) else 0
        self._check_tensors(resolved, payload)
        payload, groups = self._monitored_groups(principal, resolved, payload)
        result = self._call(resolved, payload, draft)
        answer: dict[str, Any] = {
            "model_name": resolved.entry.model,
            "model_version": resolved.version.version,
            "outputs": result.get("outputs", []),
        }
        if "id" in result:
            answer["id"] = result["id"]
        if isinstance(result.get("parameters"), dict):
            answer["parameters"] = result["parameters"]
        if groups is not None:
            recorded = self._record_outcomes(principal, resolved, groups, result, draft)
            answer["parameters"] = {**answer.get("parameters", {}), "fairness_recorded": recorded}
        return answer

    def explain(
        self,
        principal: Principal,
        model: str,
        version: str | None,
        payload: Mapping[str, Any],
        draft: AuditDraft,
    ) -> dict[str, Any]:
        """Attributions from the backend's explainer (Shapley for tabular, occlusion for text)."""
        resolved = self._resolve(principal, model, version, draft)
        inputs = payload.get("inputs")
        draft.n_inputs = len(inputs) if isinstance(inputs, list) else 0
        self._check_tensors(resolved, payload)
        if isinstance(inputs, list) and inputs:
            shape = inputs[0].get("shape") if isinstance(inputs[0], Mapping) else None
            rows = shape[0] if isinstance(shape, list) and shape else 0
            if isinstance(rows, int) and rows > self.limits.max_explain_rows:
                raise InvalidInput(
                    f"Explain at most {self.limits.max_explain_rows} rows per request; split the request."
                )
        result = self._call(resolved, payload, draft, operation="explain")
        answer: dict[str, Any] = {
            "model_name": resolved.entry.model,
            "model_version": resolved.version.version,
            "outputs": result.get("outputs", []),
            "parameters": result.get("parameters") if isinstance(result.get("parameters"), dict) else {},
        }
        if "id" in result:
            answer["id"] = result["id"]
        return answer

    # --- model cards and fairness feedback ----------------------------------------------------
    def model_card(
        self, principal: Principal, model: str, version: str | None, draft: AuditDraft
    ) -> dict[str, Any]:
        """The card of the routed version, with the latest fairness report summary if any."""
        resolved = self._resolve(principal, model, version, draft)
        latest: dict[str, Any] | None = None
        if self.fairness is not None:
            try:
                latest = self.fairness.store.latest_report(
                    principal.tenant_id, resolved.entry.model, resolved.version.version
                )
            except Exception:  # the card is still useful without the monitoring summary
                logger.warning("fairness summary unavailable", exc_info=True)
        return card_document(resolved.entry, resolved.version, latest)

    def feedback(
        self, principal: Principal, request_id: str, label: Any, labels: Any, draft: AuditDraft
    ) -> dict[str, Any]:
        """Ground truth for an earlier monitored prediction of the caller's tenant, to a model the
        key may use (anything else is the unknown-id 404, so other models' traffic can't be probed)."""
        if self.fairness is None:
            raise FeatureNotConfigured("Fairness monitoring is not configured on this deployment.")
        parsed = parse_labels(label, labels)
        draft.n_inputs = len(parsed)
        result = self.fairness.feedback(principal.tenant_id, request_id, parsed, may_use=principal.may_use)
        draft.model, draft.model_version = result["model"], result["model_version"]
        return result

    # --- standalone redaction (guardrail apply) ------------------------------------------------
    def redact(
        self,
        principal: Principal,
        texts: str | Sequence[str],
        model: str | None,
        direction: str,
        draft: AuditDraft,
    ) -> dict[str, Any]:
        """``POST /v1/redact``: the policy in force applied to caller text, with findings (types
        and spans in the caller's text, never values). ``model`` selects a model's policy and must
        be one the key may use."""
        items = self._texts(texts, field_name="text")
        draft.n_inputs = len(items)
        if model is not None:
            model = self._resolve(principal, *split_model_ref(model), draft).entry.model
        guard = self.privacy.begin(principal.tenant_id, model, draft)
        apply = guard.output_text if direction == "output" else guard.redact_text
        results = [apply(text) for text in items]
        findings = [
            {"index": i, "entity_type": f.entity_type, "start": f.start, "end": f.end, "score": f.score}
            for i, result in enumerate(results)
            for f in result.findings
        ]
        redacted = [r.text for r in results]
        return {
            "object": "redaction",
            "text": redacted[0] if isinstance(texts, str) else redacted,
            "findings": findings,
            "policy_version": draft.policy_version,
        }

    # --- audit reads -------------------------------------------------------------------------
    def audit_page(self, principal: Principal, limit: int, cursor: str | None) -> dict[str, Any]:
        """The caller's own records: an admin key sees its tenant, other keys see themselves."""
        limit = max(1, min(limit, self.limits.max_audit_page))
        records, next_sk = self.audit_store.query(
            principal.tenant_id,
            limit=limit,
            after_sk=decode_cursor(cursor),
            key_id=None if principal.is_admin else principal.key_id,
        )
        return {
            "object": "list",
            "data": [public_view(r) for r in records],
            "next_cursor": encode_cursor(next_sk),
        }

    # --- helpers -----------------------------------------------------------------------------
    def _resolve(
        self, principal: Principal, model: str, version: str | None, draft: AuditDraft
    ) -> ResolvedModel:
        draft.model = model  # recorded even when refused, so denials are traceable
        resolved = self.registry.resolve(principal, model, version)
        draft.model_version = resolved.version.version
        draft.artifact_digest = resolved.version.artifact_digest
        draft.backend_kind = resolved.version.target.kind
        return resolved

    def _check_tensors(self, resolved: ResolvedModel, payload: Mapping[str, Any]) -> None:
        """OIP rules before any backend call (`steward.oip_tensors`): text travels only in BYTES
        tensors and parameter values, where the privacy guard sees it."""
        mv = resolved.version
        oip.check_request(
            payload,
            inputs=oip.declared_names(mv.inputs),
            outputs=oip.declared_names(mv.outputs),
            max_elements=self.limits.max_tensor_elements,
            max_strings=self.limits.max_tensor_strings,
        )

    def _monitored_groups(
        self, principal: Principal, resolved: ResolvedModel, payload: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], list[str] | None]:
        """Take ``parameters.group`` out of the payload and turn it into group tokens, before any
        backend call: an undeclared value is refused (400 ``fairness.unknown_group``). When the
        declared labels can't be read, the prediction is still served, unmonitored (``[]``)."""
        params = payload.get("parameters")
        if not isinstance(params, Mapping) or GROUP_PARAMETER not in params:
            return payload, None
        if self.fairness is None:
            raise FeatureNotConfigured("Fairness monitoring is not configured on this deployment.")
        if not makes_decisions(resolved.version.task):
            raise UnsupportedInput("'parameters.group' is only accepted for classification models.")
        inputs = payload.get("inputs")
        first = inputs[0] if isinstance(inputs, list) and inputs else {}
        shape = first.get("shape") if isinstance(first, Mapping) else None
        n_rows = shape[0] if isinstance(shape, list) and shape and isinstance(shape[0], int) else 0
        groups = parse_groups(params[GROUP_PARAMETER], n_rows)
        rest = {k: v for k, v in params.items() if k != GROUP_PARAMETER}
        stripped = {k: v for k, v in payload.items() if k != "parameters"}
        if rest:
            stripped["parameters"] = rest
        mv = resolved.version
        try:
            tokens = self.fairness.group_tokens(principal.tenant_id, resolved.entry.model, mv.version, groups)
        except UnknownFairnessGroup:
            raise
        except Exception as error:
            logger.error("fairness groups unavailable", extra={"error_type": type(error).__name__})
            tokens = []
        return stripped, tokens

    def _record_outcomes(
        self,
        principal: Principal,
        resolved: ResolvedModel,
        groups: list[str],
        result: Mapping[str, Any],
        draft: AuditDraft,
    ) -> bool:
        """Count the outcomes; monitoring never withholds an answer, it reports ``False`` instead."""
        assert self.fairness is not None
        if not groups:  # the declared labels could not be read before the call
            draft.reason_codes.append("fairness.not_recorded")
            return False
        predictions = predictions_from_output(result, len(groups), threshold_of(resolved.version.card))
        try:
            self.fairness.record(
                tenant_id=principal.tenant_id,
                request_id=draft.request_id,
                model=resolved.entry.model,
                version=resolved.version.version,
                groups=groups,
                predictions=predictions,
            )
        except Exception as error:
            logger.error("fairness outcome not recorded", extra={"error_type": type(error).__name__})
            draft.reason_codes.append("fairness.not_recorded")
            return False
        return True

    def _call(
        self,
        resolved: ResolvedModel,
        payload: Mapping[str, Any],
        draft: AuditDraft,
        operation: str = "infer",
        guard: RequestPrivacy | None = None,
    ) -> dict[str, Any]:
        """The one way to a backend: every text is redacted before it leaves, every text of the
        answer is filtered and unmasked before it returns (fail closed, see `steward.privacy_guard`).
        ``guard``: the request's guard when one request makes several calls (embedding batches)."""
        mv = resolved.version
        guard = guard or self.privacy.begin(draft.tenant_id, resolved.entry.model, draft)
        request = BackendRequest(
            model=mv.backend_model,
            version=mv.backend_version,
            # The binary extension's flags never reach the backend: it always answers JSON.
            payload=guard.redact_request(
                oip.without_binary_parameters(payload),
                known_names=frozenset(t["name"] for t in (*mv.inputs, *mv.outputs) if "name" in t),
            ),
            operation=operation,
        )
        try:
            result = self.router.call(mv.target, request)
        except Exception:
            draft.backend_attempts = max(draft.backend_attempts, 1)
            raise
        draft.backend_attempts = result.attempts
        draft.backend_latency_ms = result.latency_ms
        return guard.filter_response(result.payload)

    def _texts(self, inputs: str | Sequence[Any], field_name: str = "input") -> list[str]:
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            raise InvalidInput(f"'{field_name}' must not be empty.")
        if not all(isinstance(t, str) for t in texts):
            raise UnsupportedInput("Token-array inputs are not supported; send strings.")
        if len(texts) > self.limits.max_embedding_inputs:
            raise InvalidInput(f"'{field_name}' may hold at most {self.limits.max_embedding_inputs} strings.")
        for text in texts:
            if not text:
                raise InvalidInput(f"'{field_name}' strings must not be empty.")
            if len(text) > self.limits.max_input_chars:  # a documented maxLength: a schema violation
                raise InvalidInput(f"Each input may be at most {self.limits.max_input_chars} characters.")
        return texts


def _model_object(resolved: ResolvedModel, model_id: str) -> dict[str, Any]:
    """An OpenAI ``model`` object."""
    return {
        "id": model_id,
        "object": "model",
        "created": resolved.entry.created_at or resolved.version.created_at,
        "owned_by": resolved.entry.owner or "steward",
    }


class _NoStoredPolicies:
    """A policy store with nothing in it: every tenant gets the built-in default policy."""

    def list_policies(self, tenant_id: str) -> list[Any]:
        return []

    def put_policy(self, policy: Any, *, author: str) -> None:
        raise UnsupportedInput("Privacy policies can't be stored on this deployment.")
