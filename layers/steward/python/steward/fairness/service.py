"""Fairness use cases on the request path: a prediction's groups in, its outcomes counted, ground
truth joined later, and the tenant's declared group labels administered.

Monitoring never withholds an answer: once the backend has answered, a failure to count is
reported (``fairness_recorded: false``, reason ``fairness.not_recorded``), never raised. A
deployment without monitoring answers ``feature.not_configured`` (501) to anything that needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from steward.catalog.cards import makes_decisions
from steward.catalog.registry import ResolvedModel
from steward.context import RequestContext
from steward.errors import FeatureNotConfigured, UnknownFairnessGroup, UnsupportedInput
from steward.fairness.groups import GroupLabels
from steward.fairness.monitor import (
    FairnessMonitor,
    parse_groups,
    parse_labels,
    predictions_from_output,
    threshold_of,
)

logger = logging.getLogger("steward.fairness")
GROUP_PARAMETER = "group"


class Fairness:
    def __init__(self, monitor: FairnessMonitor | None) -> None:
        self._monitor = monitor

    def _required(self) -> FairnessMonitor:
        if self._monitor is None:
            raise FeatureNotConfigured("Fairness monitoring is not configured on this deployment.")
        return self._monitor

    # --- around an inference ------------------------------------------------------------------
    def take_groups(
        self, ctx: RequestContext, resolved: ResolvedModel, payload: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], list[str] | None]:
        """Take ``parameters.group`` out of the payload and turn it into group tokens, before any
        backend call: an undeclared value is refused (400 ``fairness.unknown_group``). When the
        declared labels can't be read, the prediction is still served, unmonitored (``[]``).
        ``None``: the request asked for no monitoring."""
        params = payload.get("parameters")
        if not isinstance(params, Mapping) or GROUP_PARAMETER not in params:
            return payload, None
        monitor = self._required()
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
            tokens = monitor.group_tokens(ctx.tenant_id, resolved.entry.model, mv.version, groups)
        except UnknownFairnessGroup:
            raise
        except Exception as error:
            logger.error("fairness groups unavailable", extra={"error_type": type(error).__name__})
            tokens = []
        return stripped, tokens

    def record_outcomes(
        self, ctx: RequestContext, resolved: ResolvedModel, groups: list[str], result: Mapping[str, Any]
    ) -> bool:
        """Count the outcomes; monitoring never withholds an answer, it reports ``False`` instead."""
        draft = ctx.draft
        if not groups or self._monitor is None:  # the declared labels could not be read before the call
            draft.reason_codes.append("fairness.not_recorded")
            return False
        predictions = predictions_from_output(result, len(groups), threshold_of(resolved.version.card))
        try:
            self._monitor.record(
                tenant_id=ctx.tenant_id,
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

    # --- ground truth --------------------------------------------------------------------------
    def feedback(self, ctx: RequestContext, request_id: str, label: Any, labels: Any) -> dict[str, Any]:
        """Ground truth for an earlier monitored prediction of the caller's tenant, to a model the
        key may use (anything else is the unknown-id 404, so other models' traffic can't be probed)."""
        monitor = self._required()
        parsed = parse_labels(label, labels)
        ctx.draft.n_inputs = len(parsed)
        result = monitor.feedback(ctx.tenant_id, request_id, parsed, may_use=ctx.principal.may_use)
        ctx.draft.model, ctx.draft.model_version = result["model"], result["model_version"]
        return result

    # --- the tenant's group labels (admin) --------------------------------------------------------
    def declare_groups(self, tenant_id: str, document: Any, author: str) -> dict[str, Any]:
        """Replace the labels ``tenant_id`` accepts in ``parameters.group``; returns their view."""
        monitor = self._required()
        return monitor.declare_groups(tenant_id, document, author=author).view()

    def group_labels(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's declared labels as stored now (not the request path's cached copy)."""
        monitor = self._required()
        return (monitor.store.group_labels(tenant_id) or GroupLabels(tenant_id)).view()

    def require_configured(self) -> None:
        """Refuse (501) before anything else when the deployment has no monitoring."""
        self._required()
