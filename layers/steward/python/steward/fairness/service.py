"""Fairness use cases on the request path: a prediction's groups in, its outcomes counted, ground
truth joined later, and the tenant's declared group labels administered.

Every classifier answer with class probabilities also leaves its scores for quality monitoring
(`steward.quality.monitor`), in the same single write as the fairness outcomes.

Monitoring never withholds an answer: once the backend has answered, a failure to count is
reported (``fairness_recorded: false``, reason ``fairness.not_recorded``; ``quality_recorded:
false``, reason ``quality.not_recorded``), never raised. A deployment without monitoring answers
``feature.not_configured`` (501) to anything that needs it (and records no quality).
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
    MAX_MONITORED_ROWS,
    PROBABILITY_OUTPUTS,
    FairnessMonitor,
    has_probability_output,
    parse_groups,
    parse_labels,
    predictions_from_output,
    scores_from_output,
    threshold_of,
)

logger = logging.getLogger("steward.fairness")
GROUP_PARAMETER = "group"


def _rows(result: Mapping[str, Any]) -> int:
    """Rows of the class-probability output (its first dimension), 0 if it has none."""
    for output in result.get("outputs") or []:
        if isinstance(output, Mapping) and output.get("name") in PROBABILITY_OUTPUTS:
            shape = output.get("shape")
            if isinstance(shape, list) and shape and isinstance(shape[0], int):
                return shape[0]
    return 0


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
        self,
        ctx: RequestContext,
        resolved: ResolvedModel,
        groups: list[str] | None,
        result: Mapping[str, Any],
    ) -> dict[str, bool]:
        """Store the prediction's join (grouped outcomes and/or scores) in one write; the answer's
        flags: ``fairness_recorded`` when the request sent a group, ``quality_recorded`` for a
        classifier with class probabilities. Monitoring never withholds an answer."""
        draft = ctx.draft
        flags: dict[str, bool] = {}
        fair = groups is not None
        if fair and (not groups or self._monitor is None):  # labels unreadable before the call
            draft.reason_codes.append("fairness.not_recorded")
            flags["fairness_recorded"] = False
            groups = None
        quality = (
            self._monitor is not None
            and makes_decisions(resolved.version.task)
            and has_probability_output(result)
        )
        if not quality and groups is None:
            return flags
        threshold = threshold_of(resolved.version.card)
        n_rows = len(groups) if groups is not None else _rows(result)
        predictions = predictions_from_output(result, n_rows, threshold) if groups is not None else None
        scores = self._scores(result, n_rows) if quality else None
        if scores is not None and predictions is None:
            predictions = [int(s >= threshold) for s in scores]
        if predictions is not None and self._monitor is not None:
            try:
                self._monitor.record(
                    tenant_id=ctx.tenant_id,
                    request_id=draft.request_id,
                    model=resolved.entry.model,
                    version=resolved.version.version,
                    groups=groups,
                    predictions=predictions,
                    scores=scores,
                    threshold=threshold,
                )
            except Exception as error:
                logger.error("monitoring join not recorded", extra={"error_type": type(error).__name__})
                predictions = None
        if groups is not None:
            flags["fairness_recorded"] = predictions is not None
            if predictions is None:
                draft.reason_codes.append("fairness.not_recorded")
        if quality:
            flags["quality_recorded"] = predictions is not None and scores is not None
            if not flags["quality_recorded"]:
                draft.reason_codes.append("quality.not_recorded")
        return flags

    @staticmethod
    def _scores(result: Mapping[str, Any], n_rows: int) -> list[float] | None:
        """The rows' positive-class scores, or None when they can't be monitored (too many rows
        for one join, or not probabilities): the prediction is then served unmonitored."""
        if not 0 < n_rows <= MAX_MONITORED_ROWS:
            return None
        try:
            return scores_from_output(result, n_rows)
        except (ValueError, UnsupportedInput):
            return None

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
