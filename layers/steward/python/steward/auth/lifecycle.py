"""Key lifecycle: create (the secret shown once), list (metadata only), rotate, revoke, expire.

One use case for both the admin API (the actor is the calling key's `Principal`) and the
operator CLI (no actor: operator credentials act for the platform). Rules:

- An ``admin`` key manages its own tenant's keys, a ``platform-admin`` key any tenant's; a key it
  may not manage (another tenant's, or absent) gets the same 403, so tenants can't probe ids.
- No escalation: a key never grants more than it holds. Scopes, models and per-key limits of a
  new key are within the creator's; an ``admin`` key can't rotate or revoke a ``platform-admin``
  key (403 ``key.escalation``).
- Rotation creates a successor with the same tenant, scopes, models, limits and lifetime, and
  sets the old key's expiry to now + the overlap (bounded by `MAX_OVERLAP_HOURS`; never later
  than it already was). The authorizer refuses expired keys, so the old key works until the
  window ends. The store does both writes atomically, and only if the old key is still active
  and not rotated yet: two concurrent rotations can't fork a key into two successors.
- Revocation is in force everywhere within the authorizer's cache TTL (at most 5 s).
- A key's ``name`` is stored with any personal data in it redacted (``<PERSON>``,
  `steward.privacy.free_text`): operators label keys with whatever comes to mind.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from steward.auth.authorize import KeyStore, KeyWriter
from steward.auth.keys import (
    ADMIN_SCOPE,
    ALL_MODELS,
    DEFAULT_POLICY_VERSION,
    NO_LIMITS,
    PLATFORM_ADMIN_SCOPE,
    KeyLimits,
    KeyRecord,
    generate_key,
)
from steward.auth.principal import Principal
from steward.controls.model import TENANT_ID
from steward.errors import Forbidden, InvalidInput, KeyConflict, KeyEscalation, KeyNotFound
from steward.privacy.free_text import redact_free_text

#: Longest key lifetime (ten years): rotate keys rather than keep them.
MAX_KEY_DAYS = 3650
#: Longest rotation overlap (7 days): long enough to roll a fleet, short enough to end.
MAX_OVERLAP_HOURS = 168.0
DEFAULT_OVERLAP_HOURS = 24.0
#: Highest per-key limit accepted (a typo guard; the tenant's plan caps it anyway).
MAX_LIMIT = 10**9
MAX_MODELS = 64
MODEL_PATTERN = re.compile(r"^(?:\*|[A-Za-z0-9._:-]{1,200})$")
#: A key's label: up to 128 characters, no control characters.
NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{0,128}$")


class KeyRequestInvalid(InvalidInput, ValueError):
    """A key request the lifecycle refuses (422; a ``ValueError`` for the CLI and scripts)."""


class KeyLedger(KeyStore, KeyWriter, Protocol):
    """The key table as the lifecycle uses it (`steward.adapters.key_store.DynamoKeyStore`)."""

    def list_tenant(self, tenant_id: str) -> list[KeyRecord]: ...

    def rotate(self, old: KeyRecord, successor: KeyRecord, *, old_expires_at: int) -> bool:
        """Store ``successor`` and retire ``old`` (its ``rotated_to`` and expiry) atomically, only
        if ``old`` is still unrevoked and unrotated; False (nothing written) otherwise."""
        ...


@dataclass(frozen=True)
class NewKey:
    """What a key is created with (validated by `KeyLifecycle.create`)."""

    tenant_id: str
    models: tuple[str, ...]
    admin: bool = False
    platform_admin: bool = False
    limits: KeyLimits = NO_LIMITS
    expires_days: float | None = None
    name: str = ""
    policy_version: str = DEFAULT_POLICY_VERSION

    @property
    def scopes(self) -> tuple[str, ...]:
        if self.platform_admin:
            return (ADMIN_SCOPE, PLATFORM_ADMIN_SCOPE)
        return (ADMIN_SCOPE,) if self.admin else ()


def key_view(record: KeyRecord, now: float) -> dict[str, Any]:
    """A key's metadata as the CLI and the admin API show it: never the hash, never the secret."""
    status = "revoked" if record.revoked else "active" if record.is_active(now) else "expired"
    return {
        "key_id": record.key_id,
        "name": record.name,
        "tenant_id": record.tenant_id,
        "scopes": sorted(record.scopes),
        "models": sorted(record.models),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked": record.revoked,
        "revoked_at": record.revoked_at,
        "status": status,
        "rotated_from": record.rotated_from or None,
        "rotated_to": record.rotated_to or None,
        "limits": {"rpm": record.limits.rpm, "daily": record.limits.daily, "monthly": record.limits.monthly},
    }


class KeyLifecycle:
    """Create, list, rotate and revoke API keys, for an actor (a key) or the operator (None)."""

    def __init__(
        self, store: KeyLedger, pepper: Callable[[], bytes], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._pepper = pepper
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def create(self, request: NewKey, actor: Principal | None = None) -> tuple[str, KeyRecord]:
        """Store a new key; ``(plaintext, record)``. The plaintext is shown once and never kept."""
        request = _validated(request)
        _administers(actor, request.tenant_id)
        _within_actor(actor, request)
        issued = self._clock()
        expires_at = int(issued + request.expires_days * 86_400) if request.expires_days is not None else None
        token, record = generate_key(
            request.tenant_id,
            pepper=self._pepper(),
            models=request.models,
            scopes=request.scopes,
            expires_at=expires_at,
            name=request.name,
            policy_version=request.policy_version,
            limits=request.limits,
        )
        record = replace(record, created_at=int(issued))
        self._store.put(record)
        return token, record

    def list(self, tenant_id: str, actor: Principal | None = None) -> list[KeyRecord]:
        """The tenant's keys, oldest first (metadata: show them with `key_view`)."""
        if not TENANT_ID.fullmatch(tenant_id):
            raise KeyRequestInvalid("tenant must be 1 to 128 letters, digits, '.', '_' or '-'.")
        _administers(actor, tenant_id)
        return sorted(self._store.list_tenant(tenant_id), key=lambda r: (r.created_at, r.key_id))

    def get(self, key_id: str, actor: Principal | None = None) -> KeyRecord:
        """A key the actor may manage (403 for another tenant's or an absent key, unless platform)."""
        record = self._store.get(key_id) if _plausible_id(key_id) else None
        platform = actor is None or PLATFORM_ADMIN_SCOPE in actor.scopes
        if (
            actor is not None
            and not platform
            and (record is None or not actor.may_administer(record.tenant_id))
        ):
            raise Forbidden()
        if record is None:
            raise KeyNotFound()
        if actor is not None and not set(record.scopes) <= set(actor.scopes):
            raise KeyEscalation()
        return record

    def rotate(
        self, key_id: str, overlap_hours: float = DEFAULT_OVERLAP_HOURS, actor: Principal | None = None
    ) -> tuple[str, KeyRecord, KeyRecord]:
        """A successor key; the old one keeps working for ``overlap_hours``. Returns
        ``(plaintext, successor, old as retired)``; 409 ``key.conflict`` if the old key is
        revoked, expired or already rotated."""
        if not (math.isfinite(overlap_hours) and 0 <= overlap_hours <= MAX_OVERLAP_HOURS):
            raise KeyRequestInvalid(f"overlap_hours must be from 0 to {MAX_OVERLAP_HOURS:g}.")
        old = self.get(key_id, actor)
        now = self._clock()
        if not old.is_active(now) or old.rotated_to:
            raise KeyConflict()
        lifetime = old.expires_at - old.created_at if old.expires_at is not None else None
        token, successor = generate_key(
            old.tenant_id,
            pepper=self._pepper(),
            models=old.models,
            scopes=old.scopes,
            expires_at=int(now + lifetime) if lifetime is not None and lifetime > 0 else None,
            name=redact_free_text(old.name),  # a name stored before names were checked, too
            policy_version=old.policy_version,
            limits=old.limits,
        )
        successor = replace(successor, created_at=int(now), rotated_from=old.key_id)
        window_end = math.ceil(now + overlap_hours * 3600)
        old_expires_at = min(window_end, old.expires_at) if old.expires_at is not None else window_end
        if not self._store.rotate(old, successor, old_expires_at=old_expires_at):
            raise KeyConflict()
        return token, successor, replace(old, rotated_to=successor.key_id, expires_at=old_expires_at)

    def revoke(self, key_id: str, actor: Principal | None = None) -> KeyRecord:
        """Revoke a key (idempotent); refused everywhere within the authorizer's cache TTL."""
        self.get(key_id, actor)
        now = self._clock()
        try:
            self._store.revoke(key_id, now=now)
        except LookupError:  # deleted between the read and the write
            raise KeyNotFound() from None
        record = self._store.get(key_id)
        if record is None:
            raise KeyNotFound()
        return record


def _plausible_id(key_id: str) -> bool:
    return len(key_id) <= 64 and key_id.isascii() and key_id.isalnum()


def _administers(actor: Principal | None, tenant_id: str) -> None:
    if actor is not None and not actor.may_administer(tenant_id):
        raise Forbidden()


def _within_actor(actor: Principal | None, request: NewKey) -> None:
    """No escalation: the new key's scopes, models and limits within the actor's own."""
    if actor is None or PLATFORM_ADMIN_SCOPE in actor.scopes:
        return
    if not set(request.scopes) <= set(actor.scopes):
        raise KeyEscalation()
    if ALL_MODELS not in actor.models and not set(request.models) <= set(actor.models):
        raise KeyEscalation()
    if not request.limits.within(actor.limits):
        raise KeyEscalation()


def _validated(request: NewKey) -> NewKey:
    if not TENANT_ID.fullmatch(request.tenant_id.strip()):
        raise KeyRequestInvalid("tenant must be 1 to 128 letters, digits, '.', '_' or '-'.")
    days = request.expires_days
    if days is not None and not 0 < days <= MAX_KEY_DAYS:  # NaN fails too
        raise KeyRequestInvalid(f"expires_days must be more than 0 and at most {MAX_KEY_DAYS}.")
    models = _models(request.models)
    for label, value in (("rpm", request.limits.rpm), ("daily", request.limits.daily),
                         ("monthly", request.limits.monthly)):  # fmt: skip
        if value is not None and not (isinstance(value, int) and 1 <= value <= MAX_LIMIT):
            raise KeyRequestInvalid(f"{label} must be a whole number from 1 to {MAX_LIMIT}.")
    if not NAME_PATTERN.fullmatch(request.name):
        raise KeyRequestInvalid("name must be at most 128 characters, none of them control characters.")
    name = redact_free_text(request.name)
    return replace(request, tenant_id=request.tenant_id.strip(), models=models, name=name)


def _models(models: Sequence[str]) -> tuple[str, ...]:
    names = tuple(sorted({m.strip() for m in models if m.strip()}))
    if not names:
        raise KeyRequestInvalid("models must name at least one model, or '*'.")
    if len(names) > MAX_MODELS or not all(MODEL_PATTERN.fullmatch(m) for m in names):
        raise KeyRequestInvalid(f"models: at most {MAX_MODELS} model names (or '*').")
    return names
