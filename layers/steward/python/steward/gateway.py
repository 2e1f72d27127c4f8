"""The data plane behind every public route: resolve, check, route, shape the answer.

Protocol front-ends (OpenAI embeddings, OIP v2) stay thin and all share this one object, so
entitlement, model state and routing rules are enforced in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steward import embeddings as emb
from steward.audit import AuditDraft, AuditStore, decode_cursor, encode_cursor, public_view
from steward.auth.principal import Principal
from steward.errors import InputTooLarge, InvalidInput, TaskMismatch, UnsupportedInput
from steward.registry import Registry, ResolvedModel, split_model_ref
from steward.routing.router import Router
from steward.routing.transport import BackendRequest


@dataclass(frozen=True)
class Limits:
    max_embedding_inputs: int = 128
    max_input_chars: int = 32_768
    max_audit_page: int = 100


class Gateway:
    def __init__(
        self, registry: Registry, router: Router, audit_store: AuditStore, limits: Limits | None = None
    ) -> None:
        self.registry = registry
        self.router = router
        self.audit_store = audit_store
        self.limits = limits or Limits()

    # --- discovery -------------------------------------------------------------------------
    def list_models(self, principal: Principal) -> dict[str, Any]:
        """OpenAI ``GET /v1/models``: only what this key may call right now."""
        return {
            "object": "list",
            "data": [
                {
                    "id": r.entry.model,
                    "object": "model",
                    "created": r.entry.created_at or r.version.created_at,
                    "owned_by": r.entry.owner or "steward",
                }
                for r in self.registry.list_for(principal)
            ],
        }

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
        texts = self._texts(inputs)
        draft.n_inputs = len(texts)
        model, version = split_model_ref(model_ref)
        resolved = self._resolve(principal, model, version, draft)
        if resolved.version.task and resolved.version.task not in emb.EMBEDDING_TASKS:
            raise TaskMismatch(f"Model '{resolved.entry.model}' does not produce embeddings.")
        mv = resolved.version
        payload = emb.build_request(texts, emb.tensor_name(mv.inputs, emb.DEFAULT_INPUT))
        result = self._call(resolved, payload, draft)
        vectors = emb.parse_response(
            result, len(texts), texts, emb.tensor_name(mv.outputs, emb.DEFAULT_OUTPUT)
        )
        if dimensions is not None and vectors.vectors and dimensions != len(vectors.vectors[0]):
            raise UnsupportedInput("This model does not support choosing 'dimensions'.")
        return emb.openai_response(resolved.entry.model, vectors, encoding_format)

    def infer(
        self,
        principal: Principal,
        model: str,
        version: str | None,
        payload: Mapping[str, Any],
        draft: AuditDraft,
    ) -> dict[str, Any]:
        """OIP v2 pass-through: the caller's tensors go to the routed backend model version."""
        resolved = self._resolve(principal, model, version, draft)
        inputs = payload.get("inputs")
        draft.n_inputs = len(inputs) if isinstance(inputs, list) else 0
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
        return answer

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

    def _call(self, resolved: ResolvedModel, payload: Mapping[str, Any], draft: AuditDraft) -> dict[str, Any]:
        mv = resolved.version
        request = BackendRequest(model=mv.backend_model, version=mv.backend_version, payload=payload)
        try:
            result = self.router.call(mv.target, request)
        except Exception:
            draft.backend_attempts = max(draft.backend_attempts, 1)
            raise
        draft.backend_attempts = result.attempts
        draft.backend_latency_ms = result.latency_ms
        return result.payload

    def _texts(self, inputs: str | Sequence[Any]) -> list[str]:
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            raise InvalidInput("'input' must not be empty.")
        if not all(isinstance(t, str) for t in texts):
            raise UnsupportedInput("Token-array inputs are not supported; send strings.")
        if len(texts) > self.limits.max_embedding_inputs:
            raise InvalidInput(f"'input' may hold at most {self.limits.max_embedding_inputs} strings.")
        for text in texts:
            if not text:
                raise InvalidInput("'input' strings must not be empty.")
            if len(text) > self.limits.max_input_chars:
                raise InputTooLarge(f"Each input may be at most {self.limits.max_input_chars} characters.")
        return texts
