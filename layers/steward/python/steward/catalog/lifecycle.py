"""Steering a model's versions: route (canary, shadow, sticky), promote, roll back, retire.

One service for the CLI (`steward.cli_models`), the platform-admin routes and the local stack.
Every change is written to the registry entry, which every warm process re-reads within 5 s
(`steward.ttl_cache`), and appended to the model's version history (`VersionEvent`: what, which
version, who, when, why) that its card shows. *Why* is a reason code from `LIFECYCLE_REASONS`, not
free text: the history is public to every caller of the model, and a typed note could carry a
name. Who is the admin key id (API) or ``cli`` (the CLI's audit record names the operator).

Rules, all checked before anything is written:

* only approved versions take traffic or a shadow copy (409 ``model.version_not_routable``);
* a shadow version takes no live traffic in the same plan (it would be compared with itself);
* ``promote V`` makes V the default and ends any split (the whole model on V); ``rollback``
  returns the default to the version before the last promote or rollback (or a named approved
  one) and ends any split too, so one command undoes a canary gone wrong;
* ``retire V`` is the approval rule's withdrawal (`steward.catalog.approval.plan_approval`): V
  leaves the split and the shadow, and the default moves to ``new_default`` if V served it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from steward.catalog import approval as rules
from steward.catalog.approval import RegistryWriter
from steward.catalog.history import HISTORY_LIMIT, VersionEvent
from steward.catalog.registry import ModelDocument, ModelEntry, ModelVersion, serving_default
from steward.catalog.routing_plan import RoutePlan, parse_weights
from steward.errors import (
    InvalidInput,
    ModelNotFound,
    RollbackUnavailable,
    VersionNotFound,
    VersionNotRoutable,
)

#: Why a version's state or traffic changed (shown on the public card; no free text).
LIFECYCLE_REASONS = (
    "release",
    "canary",
    "evaluation",
    "quality",
    "fairness",
    "drift",
    "incident",
    "superseded",
    "maintenance",
)
#: What happened to a version.
EVENTS = ("registered", "approved", "pending", "rejected", "retired", "routed", "promoted", "rolled_back")


@runtime_checkable
class LifecycleStore(RegistryWriter, Protocol):
    def history(self, model: str, limit: int = HISTORY_LIMIT) -> list[VersionEvent]:
        """Newest first."""
        ...


def check_reason(reason: str) -> str:
    if reason not in LIFECYCLE_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(LIFECYCLE_REASONS)}")
    return reason


def routing_view(doc: ModelDocument) -> dict[str, Any]:
    """What a model's traffic does now: the default, the stored plan and the effective split."""
    entry = doc.entry
    if entry is None:
        raise ModelNotFound()
    plan = entry.routing
    live = {v: w for v, w in plan.weights if (mv := doc.versions.get(v)) is not None and mv.routable}
    serving = serving_default(doc)
    shadow = doc.versions.get(plan.shadow)
    return {
        "object": "model.routing",
        "model": entry.model,
        "default_version": serving.version if serving else None,
        "previous_default": entry.previous_default or None,
        "weights": {v: w for v, w in plan.weights},
        "effective_weights": live or ({serving.version: 1} if serving else {}),
        "shadow": plan.shadow or None,
        "shadow_active": bool(shadow is not None and shadow.routable),
        "sticky": plan.sticky,
        "versions": {
            v.version: v.approval for v in sorted(doc.versions.values(), key=lambda v: v.created_at)
        },
    }


class ModelLifecycle:
    def __init__(self, store: LifecycleStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    # --- reads -----------------------------------------------------------------------------
    def routing(self, model: str) -> dict[str, Any]:
        return routing_view(self.store.get_model(model))

    def history(self, model: str, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        if self.store.get_model(model).entry is None:
            raise ModelNotFound()
        return [e.to_dict() for e in self.store.history(model, limit)]

    # --- traffic -----------------------------------------------------------------------------
    def route(
        self,
        model: str,
        *,
        weights: str | Mapping[str, Any] | None,
        shadow: str | None,
        sticky: bool | None,
        actor: str,
        reason: str = "canary",
    ) -> dict[str, Any]:
        """Replace the parts of the plan given (None keeps a part; ``shadow=""`` ends the shadow)."""
        check_reason(reason)
        doc = self.store.get_model(model)
        entry = _entry(doc)
        plan = entry.routing
        try:
            split = parse_weights(weights) if weights is not None else plan.weights
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        for version, _weight in split:
            _approved(doc, version)
        new_shadow = plan.shadow if shadow is None else shadow
        if new_shadow:
            _approved(doc, new_shadow)
            if new_shadow in dict(split):
                raise InvalidInput(
                    f"{model}@{new_shadow} takes live traffic in this plan; a shadow version must not."
                )
        updated = RoutePlan(
            weights=split, shadow=new_shadow, sticky=plan.sticky if sticky is None else sticky
        )
        event = self._event("routed", _main_version(split, entry), actor, reason, updated.to_dict())
        self.store.commit(entry=replace(entry, routing=updated), event=event)
        return routing_view(self.store.get_model(model))

    def promote(self, model: str, version: str, *, actor: str, reason: str = "release") -> dict[str, Any]:
        """``version`` takes all unpinned traffic; the old default is kept for ``rollback``."""
        return self._move_default(model, version, "promoted", actor, check_reason(reason))

    def rollback(
        self, model: str, version: str | None = None, *, actor: str, reason: str = "incident"
    ) -> dict[str, Any]:
        """Back to the default before the last promote/rollback (or ``version``), split ended."""
        check_reason(reason)
        entry = _entry(self.store.get_model(model))
        target = version or entry.previous_default
        if not target:
            raise RollbackUnavailable()
        return self._move_default(model, target, "rolled_back", actor, reason)

    def set_approval(
        self,
        model: str,
        version: str,
        approval: str,
        *,
        actor: str,
        reason: str,
        make_default: bool = False,
        new_default: str | None = None,
        take_offline: bool = False,
    ) -> ModelVersion:
        """The approval rule (`steward.catalog.approval.plan_approval`), recorded in the history."""
        check_reason(reason)
        change = rules.plan_approval(
            self.store.get_model(model),
            model,
            version,
            approval,
            make_default=make_default,
            new_default=new_default,
            take_offline=take_offline,
        )
        details = {"new_default": new_default} if new_default else {}
        change.commit(self.store, self._event(approval, version, actor, reason, details))
        return change.version

    def register(
        self,
        mv: ModelVersion,
        *,
        make_default: bool,
        enabled: bool,
        owner: str,
        description: str,
        actor: str,
    ) -> ModelVersion:
        """Store a new or replaced version under the default-version rule
        (`steward.catalog.approval.plan_registration`), with its ``registered`` event."""
        change = rules.plan_registration(
            self.store.get_model(mv.model),
            mv,
            make_default=make_default,
            enabled=enabled,
            owner=owner,
            description=description,
        )
        event = self._event("registered", mv.version, actor, "release", {"approval": mv.approval})
        change.commit(self.store, event)
        return change.version

    # --- internals ---------------------------------------------------------------------------
    def _move_default(self, model: str, version: str, event: str, actor: str, reason: str) -> dict[str, Any]:
        doc = self.store.get_model(model)
        entry = _entry(doc)
        _approved(doc, version)
        serving = serving_default(doc)
        before = serving.version if serving is not None else entry.default_version
        plan = entry.routing
        updated = replace(
            rules.with_default(entry, version, serving),
            routing=RoutePlan(shadow="" if plan.shadow == version else plan.shadow, sticky=plan.sticky),
        )
        self.store.commit(entry=updated, event=self._event(event, version, actor, reason, {"from": before}))
        return routing_view(self.store.get_model(model))

    def _event(
        self, event: str, version: str, actor: str, reason: str, details: Mapping[str, Any]
    ) -> VersionEvent:
        return VersionEvent(int(self._clock()), event, version, actor, reason, details)


def _entry(doc: ModelDocument) -> ModelEntry:
    if doc.entry is None:
        raise ModelNotFound()
    return doc.entry


def _approved(doc: ModelDocument, version: str) -> ModelVersion:
    mv = doc.versions.get(version)
    if mv is None:
        model = doc.entry.model if doc.entry else ""
        raise VersionNotFound(f"{model}@{version} is not registered.")
    if not mv.routable:
        raise VersionNotRoutable(
            f"{mv.model}@{version} is {mv.approval}: only approved versions take traffic."
        )
    return mv


def _main_version(split: tuple[tuple[str, int], ...], entry: ModelEntry) -> str:
    """The version a routing event is filed under: the heaviest of the split, else the default."""
    return max(split, key=lambda pair: pair[1])[0] if split else entry.default_version
