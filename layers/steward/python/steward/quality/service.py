"""``GET /v1/models/{m}/quality``: a classifier's quality from the ground truth its tenant sent.

Entitlement is the card's: a model the key may not use is the same 404 ``model.not_found`` as an
unknown one (`steward.catalog.service.Catalog.resolve`), and the version defaults to the routed
default. Only the caller's tenant's counters are read; days are whole UTC days ending today.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.errors import FeatureNotConfigured, InvalidInput
from steward.fairness.monitor import threshold_of, window_of
from steward.quality.monitor import MAX_DAYS, QualityStore, merged, quality_metrics, thresholds_of


class QualityService:
    def __init__(
        self, catalog: Catalog, store: QualityStore | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._clock = clock

    def model_quality(
        self, ctx: RequestContext, model: str, version: str | None, days: int
    ) -> dict[str, Any]:
        """Counters of the last ``days`` UTC days merged, with metrics, thresholds and breaches."""
        if isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"'days' must be an integer from 1 to {MAX_DAYS}.")
        # First (a stranger learns nothing); the serving default unless pinned, never a canary draw.
        resolved = self._catalog.resolve(ctx, model, version, routed=False)
        if self._store is None:
            raise FeatureNotConfigured("Quality monitoring is not configured on this deployment.")
        mv = resolved.version
        now = self._clock()
        first, last = window_of(now - (days - 1) * 86_400), window_of(now)
        threshold = threshold_of(mv.card)
        counts = self._store.quality_counts(
            resolved.entry.model,
            mv.version,
            first_window=first,
            last_window=last,
            tenant_id=ctx.tenant_id,
            threshold=threshold,
        )
        quality, _other, windows = merged(counts, threshold)
        return {
            "object": "model.quality",
            "model": resolved.entry.model,
            "version": mv.version,
            "task": mv.task,
            **quality_metrics(quality, thresholds_of(mv.card)),
            "window": {
                "days": days,
                "from": first,
                "to": last,
                "windows_with_labels": windows,
            },
            "positive_class": 1,
        }
