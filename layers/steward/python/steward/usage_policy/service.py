"""``POST /v1/guardrails/apply``: the tenant's usage policy and privacy policy on a text, without
any model call (what Bedrock's ApplyGuardrail does, for any model).

The privacy policy runs first (as on the model routes), then the usage policy on the redacted
text. Nothing is refused here: a ``block`` is a verdict in the answer (and a ``flag`` with
``hold`` says so), so a caller can decide what to do before it calls a model. Verdicts are
recorded in the audit draft like on the model routes; nothing goes to the review queue (no model
was called, nothing was served).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from steward.catalog.registry import split_model_ref
from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.inference.limits import Limits, caller_texts
from steward.privacy.guard import PrivacyGuard
from steward.usage_policy.document import Direction
from steward.usage_policy.engine import UsageGuard, record


class GuardrailService:
    def __init__(
        self, catalog: Catalog, privacy: PrivacyGuard, usage: UsageGuard, limits: Limits | None = None
    ) -> None:
        self.catalog = catalog
        self.privacy = privacy
        self.usage = usage
        self.limits = limits or Limits()

    def apply(
        self, ctx: RequestContext, texts: str | Sequence[str], model: str | None, source: str
    ) -> dict[str, Any]:
        from steward.privacy.errors import PiiBlocked

        draft = ctx.draft
        items = caller_texts(texts, self.limits, field_name="text")
        draft.n_inputs = len(items)
        if model is not None:
            model = self.catalog.resolve(ctx, *split_model_ref(model)).entry.model
        direction = Direction.OUTPUT if source == "output" else Direction.INPUT
        guard = self.privacy.begin(ctx.tenant_id, model, draft)
        redact = guard.output_text if direction is Direction.OUTPUT else guard.redact_text
        verdicts: list[dict[str, Any]] = []
        redacted: list[str | None] = []
        for index, text in enumerate(items):
            try:
                redacted.append(redact(text).text)
            except PiiBlocked as blocked:
                redacted.append(None)
                verdicts += [
                    {"index": index, "kind": "pii", "rule": t, "action": "block", "hold": False}
                    for t in blocked.entity_types
                ]
        chosen = self.usage.book.in_force(ctx.tenant_id, model)
        usage_label = None
        if chosen is not None:
            usage_label = chosen.label
            checked = [(i, t) for i, t in enumerate(redacted) if t is not None]
            found = self.usage.evaluate(chosen, [t for _, t in checked], direction)
            record(ctx, chosen.label, found)
            verdicts += [
                {
                    "index": checked[v.index][0],
                    "kind": v.kind,
                    "rule": v.rule,
                    "action": v.action.value,
                    "hold": v.hold,
                }
                for v in found
            ]
        verdicts.sort(key=lambda v: (v["index"], v["kind"], v["rule"]))
        actions = {v["action"] for v in verdicts}
        return {
            "object": "guardrail.result",
            "action": "block" if "block" in actions else "flag" if actions else "none",
            "verdicts": verdicts,
            "text": redacted[0] if isinstance(texts, str) else redacted,
            "policy_version": draft.policy_version,
            "usage_policy_version": usage_label,
        }
