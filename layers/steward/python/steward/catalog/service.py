"""Catalog use cases: which models a key may call, their metadata and their cards.

`Catalog.resolve` is the one entitlement check every data-plane use case goes through: it fills
the audit draft (model, version, digest, backend kind) even when the answer is a refusal.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

from steward.audit.record import AuditDraft
from steward.catalog.cards import card_document
from steward.catalog.registry import Registry, ResolvedModel, split_model_ref
from steward.context import RequestContext

logger = logging.getLogger("steward.catalog")


class ReportSummaries(Protocol):
    """The latest fairness report summary a card shows (`steward.fairness.monitor.FairnessStore`)."""

    def latest_report(self, tenant_id: str, model: str, version: str) -> dict[str, Any] | None: ...


class ModelSwitches(Protocol):
    """Kill switches on a model or a model version (`steward.controls.gate.AccessGate`)."""

    def check_model(self, draft: AuditDraft, model: str, version: str) -> None: ...

    def switched_off(self, model: str, version: str) -> bool: ...


class Catalog:
    def __init__(
        self,
        registry: Registry,
        reports: ReportSummaries | None = None,
        *,
        switches: ModelSwitches | None = None,
    ) -> None:
        self.registry = registry
        self._reports = reports
        self._switches = switches

    def resolve(
        self, ctx: RequestContext, model: str, version: str | None, *, routed: bool = True
    ) -> ResolvedModel:
        """The version of a model the caller may use now; ``model.not_found`` otherwise.

        ``routed``: an unpinned request is drawn by the model's route plan (and may carry a
        shadow); read-only views (card, quality, drift, metadata) pass False and get the serving
        default, so the same question gets the same version while a canary runs."""
        draft = ctx.draft
        draft.model = model  # recorded even when refused, so denials are traceable
        resolved = self.registry.resolve(ctx.principal, model, version, routed=routed)
        draft.model_version = resolved.version.version
        draft.artifact_digest = resolved.version.artifact_digest
        draft.backend_kind = resolved.version.target.kind
        if self._switches is not None:  # a switched-off model or version: 503, before any backend
            self._switches.check_model(draft, resolved.entry.model, resolved.version.version)
            shadow = resolved.shadow
            if shadow is not None and self._switches.switched_off(shadow.model, shadow.version):
                resolved = replace(resolved, shadow=None)  # no copy to a switched-off version
        return resolved

    def is_registered(self, model: str) -> bool:
        return self.registry.is_registered(model)

    def list_models(self, ctx: RequestContext) -> dict[str, Any]:
        """OpenAI ``GET /v1/models``: only what this key may call right now."""
        return {
            "object": "list",
            "data": [_model_object(r, r.entry.model) for r in self.registry.list_for(ctx.principal)],
        }

    def repository_index(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """OIP repository index: the models this key may call now, each at its default version."""
        return [
            {"name": r.entry.model, "version": r.version.version, "state": "READY"}
            for r in self.registry.list_for(ctx.principal)
        ]

    def retrieve_model(self, ctx: RequestContext, model_ref: str) -> dict[str, Any]:
        """OpenAI ``GET /v1/models/{id}``: a model this key may call right now (``name`` or
        ``name@version``, as in ``model`` of embeddings); otherwise the usual ``model.not_found``,
        identical for "absent" and "not yours"."""
        model, version = split_model_ref(model_ref)
        resolved = self.resolve(ctx, model, version)
        return _model_object(resolved, resolved.entry.model if version is None else resolved.ref)

    def model_metadata(self, ctx: RequestContext, model: str, version: str | None) -> dict[str, Any]:
        """OIP model metadata from the registry (no backend round trip)."""
        resolved = self.resolve(ctx, model, version, routed=False)
        return {
            "name": resolved.entry.model,
            "versions": [resolved.version.version],
            "platform": "steward",
            "inputs": [dict(t) for t in resolved.version.inputs],
            "outputs": [dict(t) for t in resolved.version.outputs],
        }

    def model_card(self, ctx: RequestContext, model: str, version: str | None) -> dict[str, Any]:
        """The card of the version (the serving default unless pinned), with the latest fairness
        report summary if any."""
        resolved = self.resolve(ctx, model, version, routed=False)
        latest: dict[str, Any] | None = None
        if self._reports is not None:
            try:
                latest = self._reports.latest_report(
                    ctx.tenant_id, resolved.entry.model, resolved.version.version
                )
            except Exception:  # the card is still useful without the monitoring summary
                logger.warning("fairness summary unavailable", exc_info=True)
        return card_document(resolved.entry, resolved.version, latest)


def _model_object(resolved: ResolvedModel, model_id: str) -> dict[str, Any]:
    """An OpenAI ``model`` object."""
    return {
        "id": model_id,
        "object": "model",
        "created": resolved.entry.created_at or resolved.version.created_at,
        "owned_by": resolved.entry.owner or "steward",
    }
