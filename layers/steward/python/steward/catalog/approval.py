"""Approval and the default-version rule, over the registry's write port.

A version is approved only with a complete card (`steward.catalog.cards.missing_fields`): nobody
routes traffic to a model whose intended use, limitations or evaluation were never written down.
The model's stored default stays on an approved version whenever one exists, so no write takes a
model offline unless the caller says so (``take_offline``). The admin routes, the CLI and the
local stack all reach these rules through `steward.admin`, which picks the store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from steward.catalog.cards import missing_fields
from steward.catalog.history import VersionEvent
from steward.catalog.registry import APPROVALS, ModelDocument, ModelEntry, ModelVersion, serving_default
from steward.catalog.routing_plan import RoutePlan
from steward.errors import CardIncomplete, DefaultVersionConflict, VersionNotFound


class RegistryWriter(Protocol):
    def get_model(self, model: str) -> ModelDocument: ...

    def commit(
        self,
        *,
        entry: ModelEntry | None = None,
        version: ModelVersion | None = None,
        event: VersionEvent | None = None,
    ) -> None:
        """Write what is given at once (all or nothing): ``version``, ``entry`` as revision
        ``entry.revision + 1`` if the stored one is still ``entry.revision`` (or absent;
        `ModelChanged` otherwise), and ``event`` in the model's history."""
        ...


@dataclass(frozen=True)
class RegistryChange:
    """What one approval rule writes: the version and, when it changes, the model entry."""

    version: ModelVersion
    entry: ModelEntry | None = None

    def commit(self, store: RegistryWriter, event: VersionEvent | None = None) -> None:
        store.commit(entry=self.entry, version=self.version, event=event)


def check_state(approval: str) -> None:
    """``ValueError`` unless ``approval`` is one of `APPROVALS`."""
    if approval not in APPROVALS:
        raise ValueError(f"approval must be one of {', '.join(APPROVALS)}")


def require_complete_card(card: Mapping[str, Any], task: str, artifact_digest: str) -> None:
    """No version is approved without intended use, limitations, evaluation ... written down."""
    missing = missing_fields(card, task=task, artifact_digest=artifact_digest)
    if missing:
        raise CardIncomplete(missing)


def plan_registration(
    doc: ModelDocument,
    mv: ModelVersion,
    *,
    make_default: bool,
    enabled: bool,
    owner: str,
    description: str,
) -> RegistryChange:
    """``mv`` (a new or replaced version) and the model entry it implies.

    The caller has checked the card of an approved ``mv``. ``make_default`` lets an *approved*
    version take the default over, a pending one never displaces an approved default, and
    re-registering the serving version as anything but approved raises `DefaultVersionConflict`.
    A new entry takes ``owner`` and ``description`` from the card when they are not given.
    """
    model, version, approval = mv.model, mv.version, mv.approval
    serving = serving_default(doc)
    if serving is not None and serving.version == version and approval != "approved":
        raise DefaultVersionConflict(
            f"{model}@{version} is the approved version serving the model; registering it again "
            f"as {approval} would take the model offline. Register a new version instead."
        )
    existing = doc.entry
    entry = ModelEntry(
        model=model,
        default_version=existing.default_version if existing else mv.version,
        enabled=enabled if existing is None else existing.enabled,
        owner=owner or (existing.owner if existing else str(mv.card.get("owner", ""))),
        description=description
        or (existing.description if existing else str(mv.card.get("description", ""))),
        created_at=existing.created_at if existing else mv.created_at,
        routing=existing.routing if existing else RoutePlan(),
        previous_default=existing.previous_default if existing else "",
        revision=existing.revision if existing else 0,
    )
    entry = with_default(entry, _default_after_register(existing, serving, mv, make_default), serving)
    if approval != "approved":  # a version re-registered as pending leaves the split at once
        entry = replace(entry, routing=entry.routing.without(version))
    return RegistryChange(version=mv, entry=entry if entry != existing else None)


def _default_after_register(
    existing: ModelEntry | None, serving: ModelVersion | None, new: ModelVersion, make_default: bool
) -> str:
    """The default-version rule: the default is an approved version whenever one exists.

    A new approved version becomes the default when asked (``make_default``) or when no approved
    version serves the model yet; a version that is not approved only holds the slot of a model
    with no approved version (the first registration, or ``make_default``).
    """
    if new.approval == "approved" and (make_default or serving is None):
        return new.version
    if serving is not None:
        return serving.version  # also repairs a stored default that is not approved
    if existing is None or make_default:
        return new.version
    return existing.default_version


def plan_approval(
    doc: ModelDocument,
    model: str,
    version: str,
    approval: str,
    *,
    make_default: bool = False,
    new_default: str | None = None,
    take_offline: bool = False,
) -> RegistryChange:
    """A version's new approval state, keeping the default on an approved version.

    ``approved`` raises `CardIncomplete` (409 ``card.incomplete``, naming the missing fields)
    unless the stored card is complete; the version becomes the default when ``make_default`` or
    when no approved version serves the model yet. Moving the serving default to any other state
    raises `DefaultVersionConflict` unless ``new_default`` names another approved version (it
    becomes the default first, so no request sees the model offline) or, when it is the only
    approved version, ``take_offline`` confirms the model goes offline. Unknown versions raise
    `VersionNotFound`.
    """
    check_state(approval)
    current = doc.versions.get(version)
    if current is None:
        raise VersionNotFound(f"{model}@{version} is not registered.")
    serving = serving_default(doc)
    updated = replace(current, approval=approval)
    if approval == "approved":
        if new_default is not None:
            raise ValueError("new_default only applies when a version is withdrawn; use make_default")
        require_complete_card(current.card, current.task, current.artifact_digest)
        keep = serving.version if serving is not None and not make_default else version
        return RegistryChange(version=updated, entry=_pointed(doc, model, keep, serving))
    if make_default:
        raise DefaultVersionConflict(
            f"Only an approved version can be the default; {model}@{version} would be {approval}."
        )
    successor = _successor(doc, current, approval, serving, new_default, take_offline)
    entry = doc.entry
    if entry is None:
        return RegistryChange(
            version=updated, entry=_pointed(doc, model, successor, serving) if successor else None
        )
    # The version leaves the split and the shadow too, with its default.
    changed = replace(entry, routing=entry.routing.without(version))
    if successor is not None:
        changed = with_default(changed, successor, serving)
    return RegistryChange(version=updated, entry=changed if changed != entry else None)


def _successor(
    doc: ModelDocument,
    current: ModelVersion,
    approval: str,
    serving: ModelVersion | None,
    new_default: str | None,
    take_offline: bool,
) -> str | None:
    """The default after ``current`` leaves the approved state (None: unchanged); refuses a change
    that would silently take the model offline or hand the default to an unapproved version."""
    ref = f"{current.model}@{current.version}"
    others = sorted(v.version for v in doc.versions.values() if v.routable and v.version != current.version)
    if new_default is not None:
        if new_default not in others:
            listed = ", ".join(others) or "none"
            raise DefaultVersionConflict(
                f"The new default must be another approved version of {current.model} (approved: {listed})."
            )
        return new_default
    if serving is None or serving.version != current.version:
        return None
    if others:
        raise DefaultVersionConflict(
            f"{ref} is the default version; name another approved version as the new default "
            f"(approved: {', '.join(others)})."
        )
    if not take_offline:
        raise DefaultVersionConflict(
            f"{ref} is the only approved version: making it {approval} takes the model offline. "
            "Approve another version first, or confirm taking the model offline."
        )
    return None


def with_default(entry: ModelEntry, version: str, serving: ModelVersion | None) -> ModelEntry:
    """``entry`` with ``version`` as its default; the version that served until now is kept as
    ``previous_default`` (what ``rollback`` returns to), whichever command moved the default."""
    before = serving.version if serving is not None else entry.default_version
    if version == entry.default_version and before == version:
        return entry
    previous = before if before and before != version else entry.previous_default
    return replace(entry, default_version=version, previous_default=previous)


def _pointed(doc: ModelDocument, model: str, version: str, serving: ModelVersion | None) -> ModelEntry | None:
    """The entry with ``version`` as its default (None: it already is)."""
    entry = doc.entry
    if entry is None:
        return ModelEntry(model=model, default_version=version, created_at=int(time.time()))
    moved = with_default(entry, version, serving)
    return moved if moved != entry else None
