"""What a reviewer reads before ``promote``: a model's versions side by side, and each card's live figures.

`VersionReview.compare` puts, per version, every monitoring view the deployment has next to each
other: quality from ground truth, fairness (latest report), drift, and how it serves (latency p50/p99,
error rate, shadow agreement, `steward.quality.serving`). Each view is a `FigureSource`, so a
deployment without one (no drift profile, no feedback yet) shows ``null`` rather than failing, and a
source that fails is logged and shown as ``null``: the page is still worth reading without it.
Figures are the caller's tenant's own, over the last ``days`` UTC days; the versions are the ones
the caller's key may call (approved), checked through `steward.catalog.service.Catalog.resolve`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from steward.catalog.cards import makes_decisions
from steward.catalog.registry import ModelVersion, ResolvedModel
from steward.catalog.service import Catalog
from steward.context import RequestContext
from steward.errors import InvalidInput, ModelNotFound, ServiceDisabled
from steward.fairness.monitor import threshold_of
from steward.quality.drift_monitor import DriftReference, DriftSketchStore, drift_document
from steward.quality.monitor import QualityStore, merged, quality_metrics, thresholds_of
from steward.quality.serving import ServingStatsStore

logger = logging.getLogger("steward.quality")

MAX_VERSIONS = 4
MAX_DAYS = 31  # each day is a read per version and view: a month bounds a page's cost
DEFAULT_DAYS = 7


class FigureSource(Protocol):
    """One monitoring view of a model version for a tenant over some UTC days (None: nothing yet)."""

    @property
    def name(self) -> str: ...

    def figures(
        self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]
    ) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class ServingFigures:
    """Latency, error rate and shadow agreement of a version (`steward.quality.serving`)."""

    store: ServingStatsStore
    name: str = "serving"

    def figures(self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]) -> Mapping[str, Any] | None:
        stats = self.store.read(mv.model, mv.version, set(windows), tenant_id)
        return stats.figures() if stats.calls or stats.shadow_calls else None


class LatestReport(Protocol):
    def latest_report(self, tenant_id: str, model: str, version: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class FairnessFigures:
    """The summary of the version's latest scheduled fairness report."""

    reports: LatestReport
    name: str = "fairness"

    def figures(self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]) -> Mapping[str, Any] | None:
        return self.reports.latest_report(tenant_id, mv.model, mv.version)


@dataclass(frozen=True)
class QualityFigures:
    """A classifier's quality from its tenant's ground truth over the windows (`steward.quality.monitor`)."""

    store: QualityStore
    name: str = "quality"

    def figures(self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]) -> Mapping[str, Any] | None:
        if not makes_decisions(mv.task):
            return None
        threshold = threshold_of(mv.card)
        counts = self.store.quality_counts(
            mv.model,
            mv.version,
            first_window=windows[0],
            last_window=windows[-1],
            tenant_id=tenant_id,
            threshold=threshold,
        )
        quality, _other, _labelled = merged(counts, threshold)
        return quality_metrics(quality, thresholds_of(mv.card)) if quality.n else None


@dataclass(frozen=True)
class DriftFigures:
    """Label-free drift of the period against the build-time reference (`steward.quality.drift_monitor`)."""

    store: DriftSketchStore
    name: str = "drift"

    def figures(self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]) -> Mapping[str, Any] | None:
        reference = DriftReference.from_dict(mv.drift_profile) if mv.drift_profile else None
        if reference is None:
            return None
        fingerprint = reference.profile.fingerprint
        stored = self.store.days(mv.model, mv.version, tenant_id, windows, fingerprint)
        if not stored:
            return None
        period = drift_document(reference, stored, period=f"{windows[0]}..{windows[-1]}")["period"]
        keys = ("rows", "sufficient", "share_drifted", "prediction_psi", "drifted", "drifted_features")
        return {k: period[k] for k in keys} if period else None


def windows_back(now: float, days: int) -> list[str]:
    """The last ``days`` UTC days up to today, oldest first."""
    today = datetime.fromtimestamp(now, tz=UTC).date()
    return [(today - timedelta(days=d)).isoformat() for d in range(days - 1, -1, -1)]


def parse_versions(raw: str) -> list[str]:
    versions = [v.strip() for v in raw.split(",") if v.strip()]
    if not versions or len(versions) > MAX_VERSIONS or len(set(versions)) != len(versions):
        raise InvalidInput(f"'versions' names 1 to {MAX_VERSIONS} distinct versions, comma-separated.")
    return versions


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"'days' must be from 1 to {MAX_DAYS}.")
    return days


class VersionReview:
    def __init__(
        self,
        catalog: Catalog,
        sources: Sequence[FigureSource],
        *,
        history: Callable[[str], list[dict[str, Any]]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.sources = list(sources)
        self._history = history
        self._clock = clock

    def compare(
        self, ctx: RequestContext, model: str, versions: Sequence[str] | None, days: int = DEFAULT_DAYS
    ) -> dict[str, Any]:
        """``versions`` None: the newest `MAX_VERSIONS` approved versions."""
        check_days(days)
        windows = windows_back(self._clock(), days)
        if versions is None:
            resolved = self._default_versions(ctx, model)
        else:
            resolved = [self.catalog.resolve(ctx, model, v) for v in versions]
        name = resolved[0].entry.model
        return {
            "object": "model.comparison",
            "model": name,
            "window": {"from": windows[0], "to": windows[-1], "days": days},
            "versions": [
                {
                    "version": r.version.version,
                    "approval": r.version.approval,
                    "artifact_digest": r.version.artifact_digest,
                    **self._figures(ctx.tenant_id, r.version, windows),
                }
                for r in resolved
            ],
        }

    def card(
        self, ctx: RequestContext, model: str, version: str | None, days: int = DEFAULT_DAYS
    ) -> dict[str, Any]:
        """The version's card with its live figures (the caller's tenant's) and version history."""
        windows = windows_back(self._clock(), check_days(days))
        resolved = self.catalog.resolve(ctx, model, version, routed=False)
        # Pinned to the version just drawn: under a split, a second draw could name another.
        document = self.catalog.model_card(ctx, model, resolved.version.version)
        live = self._figures(ctx.tenant_id, resolved.version, windows)
        document["live"] = {"window": {"from": windows[0], "to": windows[-1], "days": days}, **live}
        document["history"] = self._events(document["model"])
        return document

    def _default_versions(self, ctx: RequestContext, model: str) -> list[ResolvedModel]:
        """The newest `MAX_VERSIONS` approved versions the caller may call now (a switched-off
        one is left out rather than failing the page)."""
        chosen: list[ResolvedModel] = []
        refusal: ServiceDisabled | None = None
        for version in reversed(self.catalog.registry.approved_versions(ctx.principal, model)):
            try:
                chosen.append(self.catalog.resolve(ctx, model, version))
            except ServiceDisabled as error:
                refusal = error
                continue
            if len(chosen) == MAX_VERSIONS:
                break
        if not chosen:  # every version switched off: the model's own answer (503)
            raise refusal or ModelNotFound()
        return chosen[::-1]

    def _figures(self, tenant_id: str, mv: ModelVersion, windows: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for source in self.sources:
            try:
                figures = source.figures(tenant_id, mv, windows)
            except Exception as error:  # one missing view must not hide the others
                logger.warning(
                    "monitoring figures unavailable",
                    extra={"source": source.name, "error_type": type(error).__name__},
                )
                figures = None
            out[source.name] = dict(figures) if figures is not None else None
        return out

    def _events(self, model: str) -> list[dict[str, Any]]:
        if self._history is None:
            return []
        try:
            return public_history(self._history(model))
        except Exception as error:
            logger.warning("version history unavailable", extra={"error_type": type(error).__name__})
            return []


#: Events that show a version was approved at some point (so callers may know it existed).
_APPROVING = frozenset({"approved", "promoted", "rolled_back"})


def public_history(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The history a model's callers may read: events of versions that were ever approved (a
    pending or rejected version answers 404 and stays unnamed), the actor as a role (an admin
    key id is the operators' business; the admin routes show it)."""
    approved = {
        e["version"]
        for e in events
        if e.get("event") in _APPROVING
        or (e.get("event") == "registered" and (e.get("details") or {}).get("approval") == "approved")
    }
    return [
        {**e, "actor": "cli" if e.get("actor") == "cli" else "platform-admin"}
        for e in events
        if e.get("version") in approved
    ]
