"""Administrative operations (keys, models), shared by the CLI, the local stack and admin routes.

Each function takes optional ``settings`` and store/pepper arguments: explicit argument >
``STEWARD_*`` environment > defaults, so tests inject in-memory stores and the local stack points
the same code at moto. Stores not passed come from `steward.bootstrap.build_admin`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from steward.auth.keys import DEFAULT_POLICY_VERSION, KeyLimits, KeyRecord
from steward.auth.lifecycle import (
    DEFAULT_OVERLAP_HOURS,
    KeyLedger,
    KeyLifecycle,
    NewKey,
)
from steward.auth.lifecycle import MAX_KEY_DAYS as MAX_KEY_DAYS  # the CLI's bound on --expires-days
from steward.bootstrap import admin_settings, build_admin
from steward.catalog import approval as rules
from steward.catalog.cards import clean_card
from steward.catalog.lifecycle import LifecycleStore, ModelLifecycle
from steward.catalog.names import check_name
from steward.catalog.registry import ModelVersion, Target, serving_default
from steward.errors import KeyNotFound
from steward.quality.drift_monitor import checked_drift_reference
from steward.settings import AdminSettings

#: Who the version history names for a CLI change (the audit record names the operator).
CLI_ACTOR = "cli"
#: The reason code an approval change is filed under when the operator gives none.
APPROVAL_REASONS = {
    "approved": "release",
    "pending": "evaluation",
    "rejected": "evaluation",
    "retired": "superseded",
}


def key_lifecycle(
    *,
    settings: AdminSettings | None = None,
    store: KeyLedger | None = None,
    pepper: Callable[[], bytes] | None = None,
    now: float | None = None,
) -> KeyLifecycle:
    """The key lifecycle acting for the operator (no actor: the CLI runs under AWS credentials)."""
    if store is None or pepper is None:
        ports = build_admin(settings or admin_settings())
        store, pepper = store or ports.keys, pepper or ports.pepper
    return KeyLifecycle(store, pepper, clock=(lambda: now) if now is not None else time.time)


def create_api_key(
    tenant_id: str,
    *,
    models: Sequence[str],
    admin: bool = False,
    platform_admin: bool = False,
    expires_days: float | None = None,
    name: str = "",
    policy_version: str = DEFAULT_POLICY_VERSION,
    rpm: int | None = None,
    daily: int | None = None,
    monthly: int | None = None,
    settings: AdminSettings | None = None,
    store: KeyLedger | None = None,
    pepper: Callable[[], bytes] | None = None,
    now: float | None = None,
) -> tuple[str, KeyRecord]:
    """Create and store a key; returns ``(plaintext, record)``. Show the plaintext once only.

    ``expires_days`` must be a finite number of days in (0, `MAX_KEY_DAYS`]: a key that is born
    expired, or whose expiry can't be stored, is a mistake. ``None`` means no expiry. ``rpm``,
    ``daily`` and ``monthly`` are the key's own request limits (None: the tenant plan's only).
    """
    request = NewKey(
        tenant_id=tenant_id,
        models=tuple(models),
        admin=admin,
        platform_admin=platform_admin,
        limits=KeyLimits(rpm=rpm, daily=daily, monthly=monthly),
        expires_days=expires_days,
        name=name,
        policy_version=policy_version,
    )
    return key_lifecycle(settings=settings, store=store, pepper=pepper, now=now).create(request)


def list_api_keys(
    tenant_id: str, *, settings: AdminSettings | None = None, store: KeyLedger | None = None
) -> list[KeyRecord]:
    """The tenant's keys, oldest first: metadata only (show with `steward.auth.lifecycle.key_view`)."""
    return key_lifecycle(settings=settings, store=store, pepper=_no_pepper).list(tenant_id)


def rotate_api_key(
    key_id: str,
    *,
    overlap_hours: float = DEFAULT_OVERLAP_HOURS,
    settings: AdminSettings | None = None,
    store: KeyLedger | None = None,
    pepper: Callable[[], bytes] | None = None,
    now: float | None = None,
) -> tuple[str, KeyRecord, KeyRecord]:
    """A successor key (same tenant, scopes, models, limits); the old key works ``overlap_hours``
    more. Returns ``(plaintext, successor, old)``; `KeyNotFound`, `KeyConflict` otherwise."""
    lifecycle = key_lifecycle(settings=settings, store=store, pepper=pepper, now=now)
    return lifecycle.rotate(key_id, overlap_hours)


def revoke_api_key(
    key_id: str, *, settings: AdminSettings | None = None, store: KeyLedger | None = None
) -> KeyRecord:
    """Revoke a key (`KeyNotFound` if no key has this id). Authorizer caches forget it within
    ``auth_cache_ttl_s``."""
    return key_lifecycle(settings=settings, store=store, pepper=_no_pepper).revoke(key_id)


def key_tenant(
    key_id: str, *, settings: AdminSettings | None = None, store: KeyLedger | None = None
) -> str | None:
    """The tenant of the key ``key_id`` (None: no such key): the chain a command on it is audited in."""
    try:
        return key_lifecycle(settings=settings, store=store, pepper=_no_pepper).get(key_id).tenant_id
    except KeyNotFound:
        return None


def _no_pepper() -> bytes:
    raise RuntimeError("listing and revoking keys never hash a key")


def register_model(
    model: str,
    version: str,
    *,
    target: Target | Mapping[str, Any],
    approval: str = "pending",
    backend_model: str | None = None,
    backend_version: str | None = None,
    artifact_digest: str = "",
    task: str = "",
    card: Mapping[str, Any] | None = None,
    inputs: Sequence[Mapping[str, Any]] = (),
    outputs: Sequence[Mapping[str, Any]] = (),
    max_batch_size: int = 0,
    make_default: bool = True,
    enabled: bool = True,
    owner: str = "",
    description: str = "",
    settings: AdminSettings | None = None,
    store: LifecycleStore | None = None,
    now: float | None = None,
    actor: str = CLI_ACTOR,
    drift_profile: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Add (or replace) a model version; creates the model entry on first registration.

    The full model card is stored with the version; registering it as ``approved`` needs a
    complete card, exactly like `set_approval`; the default stays on an approved version whenever
    one exists (`steward.catalog.approval.plan_registration`); the version, the entry and the
    ``registered`` event are written at once.
    """
    rules.check_state(approval)
    stored_card = clean_card(card)
    if approval == "approved":
        rules.require_complete_card(stored_card, task, artifact_digest)
    check_name(model, "model")  # also keeps '#' (storage keys) and '@' (model@version) out
    check_name(version, "version")
    writer = store or build_admin(settings or admin_settings()).registry
    created = int(now if now is not None else time.time())
    mv = ModelVersion(
        model=model,
        version=version,
        approval=approval,
        target=target if isinstance(target, Target) else Target.from_dict(target),
        backend_model=backend_model or model,
        backend_version=backend_version or version,
        artifact_digest=artifact_digest,
        task=task,
        card=stored_card,
        inputs=tuple(dict(i) for i in inputs),
        outputs=tuple(dict(o) for o in outputs),
        created_at=created,
        max_batch_size=max(0, int(max_batch_size)),
        drift_profile=checked_drift_reference(drift_profile),
    )
    lifecycle = ModelLifecycle(writer, clock=lambda: created)
    return lifecycle.register(
        mv, make_default=make_default, enabled=enabled, owner=owner, description=description, actor=actor
    )


def register_from_manifest(
    manifest: Mapping[str, Any],
    *,
    target: Target | Mapping[str, Any],
    approval: str | None = None,
    make_default: bool = True,
    settings: AdminSettings | None = None,
    store: LifecycleStore | None = None,
) -> ModelVersion:
    """Register a version from a model repository ``manifest.json`` (see docs/contracts.md)."""
    artifacts = manifest.get("artifacts") or {}
    model_file = str(manifest.get("model_file") or "")
    digest = (artifacts.get(model_file) or {}).get("sha256", "")
    card = manifest.get("card") or {}
    return register_model(
        str(manifest["name"]),
        str(manifest["version"]),
        target=target,
        approval=approval or str(manifest.get("approval") or "pending"),
        artifact_digest=f"sha256:{digest}" if digest else "",
        task=str(manifest.get("task") or ""),
        card=card,
        inputs=manifest.get("inputs") or (),
        outputs=manifest.get("outputs") or (),
        max_batch_size=_manifest_max_batch(manifest),
        make_default=make_default,
        settings=settings,
        store=store,
        drift_profile=manifest.get("drift_profile") or None,
    )


def _manifest_max_batch(manifest: Mapping[str, Any]) -> int:
    """``batching.max_batch_size`` (the backend refuses bigger batches); 0 when not declared."""
    batching = manifest.get("batching")
    value = batching.get("max_batch_size") if isinstance(batching, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def set_approval(
    model: str,
    version: str,
    approval: str,
    *,
    make_default: bool = False,
    new_default: str | None = None,
    take_offline: bool = False,
    reason: str | None = None,
    actor: str = CLI_ACTOR,
    settings: AdminSettings | None = None,
    store: LifecycleStore | None = None,
) -> ModelVersion:
    """Change a version's approval state under the card and default-version rules
    (`steward.catalog.approval.plan_approval`: `CardIncomplete`, `DefaultVersionConflict`,
    `VersionNotFound`), recorded in the model's version history."""
    return model_lifecycle(settings=settings, store=store).set_approval(
        model,
        version,
        approval,
        actor=actor,
        reason=reason or APPROVAL_REASONS.get(approval, "release"),
        make_default=make_default,
        new_default=new_default,
        take_offline=take_offline,
    )


def model_lifecycle(
    *, settings: AdminSettings | None = None, store: LifecycleStore | None = None
) -> ModelLifecycle:
    """Routing, promotion, rollback and retirement of model versions (`steward.catalog.lifecycle`)."""
    return ModelLifecycle(store or build_admin(settings or admin_settings()).registry)


def default_version(
    model: str, *, settings: AdminSettings | None = None, store: LifecycleStore | None = None
) -> str | None:
    """The version serving requests that name none (`steward.catalog.registry.serving_default`)."""
    store = store or build_admin(settings or admin_settings()).registry
    serving = serving_default(store.get_model(model))
    return serving.version if serving is not None else None


def is_registered(
    model: str, *, settings: AdminSettings | None = None, store: LifecycleStore | None = None
) -> bool:
    """Whether ``model`` has a registry entry in any state (what a per-model policy may name)."""
    store = store or build_admin(settings or admin_settings()).registry
    return bool(model) and store.get_model(model).entry is not None
