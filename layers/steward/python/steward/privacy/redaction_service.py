"""The standalone redaction use case (``POST /v1/redact``): the policy in force, applied to caller
text without any model call, answering findings as types and spans, never values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from steward.catalog.registry import split_model_ref
from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.inference.limits import Limits, caller_texts
from steward.privacy.guard import PrivacyGuard


class RedactionService:
    def __init__(self, catalog: Catalog, privacy: PrivacyGuard, limits: Limits | None = None) -> None:
        self.catalog = catalog
        self.privacy = privacy
        self.limits = limits or Limits()

    def redact(
        self, ctx: RequestContext, texts: str | Sequence[str], model: str | None, direction: str
    ) -> dict[str, Any]:
        """The policy in force applied to caller text, with findings (types and spans in the
        caller's text, never values). ``model`` selects a model's policy and must be one the key
        may use; a ``block`` rule refuses (400 ``pii.blocked``) as the model routes would."""
        draft = ctx.draft
        items = caller_texts(texts, self.limits, field_name="text")
        draft.n_inputs = len(items)
        if model is not None:
            model = self.catalog.resolve(ctx, *split_model_ref(model)).entry.model
        guard = self.privacy.begin(ctx.tenant_id, model, draft)
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
