"""Which privacy policy is in force for a tenant (and model): versioned documents, cached.

Policies are stored per tenant, one item per version and scope (the tenant's default, or one
model), and never overwritten: a change is a new version, so the version recorded in an audit
record always names the exact document that was applied. No stored policy means
:func:`steward.privacy.default_policy`, never "no checks"; a store that can't be read refuses
the request (``pii.policy_unavailable``) rather than guessing. A stored document is applied as a
layer over the built-in default (:func:`steward.privacy.policy.layered`), so a partial document
never switches a protection off and a secret is always removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from steward.errors import PolicyUnavailable
from steward.ttl_cache import DEFAULT_TTL_S

if TYPE_CHECKING:
    from steward.privacy.policy import PrivacyPolicy

logger = logging.getLogger("steward.privacy")
#: Label of the built-in default policy in audit records (no stored document applies).
BUILTIN_LABEL = "builtin@v1"
_SAVE_ATTEMPTS = 3


@lru_cache(maxsize=1024)
def _default(tenant_id: str, model: str | None) -> PrivacyPolicy:
    """The built-in policy (frozen, so one instance per tenant and model is shared safely)."""
    from steward.privacy.policy import default_policy

    return default_policy(tenant_id, model)


class PolicyVersionExists(Exception):
    """Another writer stored this version first (conditional put lost the race)."""


class PolicyStore(Protocol):
    def list_policies(self, tenant_id: str) -> list[PrivacyPolicy]:
        """Every stored version of every scope of the tenant."""
        ...

    def put_policy(self, policy: PrivacyPolicy, *, author: str) -> None:
        """Store a new version; raise :class:`PolicyVersionExists` if that version exists."""
        ...


def policy_key(model: str | None, version: int) -> str:
    """Sort key: ``default#v0000000003`` or ``model#<name>#v0000000003`` (sorts by version)."""
    scope = "default" if model is None else f"model#{model}"
    return f"{scope}#v{version:010d}"


def policy_label(policy: PrivacyPolicy, *, stored: bool) -> str:
    """What the audit record's ``policy_version`` says: scope and version, never content."""
    if not stored:
        return BUILTIN_LABEL
    scope = "tenant" if policy.model is None else f"model:{policy.model}"
    return f"{scope}@v{policy.version}"


@dataclass(frozen=True)
class PolicyInForce:
    policy: PrivacyPolicy
    label: str


class PolicyBook:
    """Reads policies through a per-tenant cache (``ttl_s``: a version stored by another process
    is in force within it, at most 5 s by default) and writes new versions."""

    def __init__(
        self, store: PolicyStore, *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, list[PrivacyPolicy]]] = {}
        self._lock = threading.Lock()
        # Stored versions are immutable, so their layered form is keyed by scope and version.
        self._layered: dict[tuple[str | None, str | None, int], PrivacyPolicy] = {}

    def in_force(self, tenant_id: str, model: str | None) -> PolicyInForce:
        """The stored document of the most specific scope, layered over the built-in default."""
        from steward.privacy.policy import select_policy

        stored = [p for p in self._tenant_policies(tenant_id) if p.model in (None, model)]
        if not stored:
            return PolicyInForce(_default(tenant_id, model), BUILTIN_LABEL)
        policy = select_policy(stored, tenant_id, model)
        return PolicyInForce(self._layer(policy), policy_label(policy, stored=True))

    def _layer(self, policy: PrivacyPolicy) -> PrivacyPolicy:
        from steward.privacy.policy import layered

        key = (policy.tenant_id, policy.model, policy.version)
        effective = self._layered.get(key)
        if effective is None:
            effective = layered(policy)
            with self._lock:
                if len(self._layered) > 1024:
                    self._layered.clear()
                self._layered[key] = effective
        return effective

    def history(self, tenant_id: str) -> list[PrivacyPolicy]:
        """Every version of the tenant, newest first within each scope (read through, no cache)."""
        policies = self._read(tenant_id)
        return sorted(policies, key=lambda p: (p.model or "", -p.version))

    def save(
        self, tenant_id: str, model: str | None, document: Mapping[str, Any], *, author: str
    ) -> PrivacyPolicy:
        """Validate ``document`` and store it as the next version of its scope."""
        from steward.privacy.policy import parse_policy

        body = {k: v for k, v in document.items() if k not in ("version", "tenant_id", "model")}
        policy = parse_policy({**body, "tenant_id": tenant_id, "model": model})
        for _ in range(_SAVE_ATTEMPTS):
            latest = max(
                (p.version for p in self._read(tenant_id) if p.model == model),
                default=0,
            )
            versioned = policy.model_copy(update={"version": latest + 1})
            try:
                self.store.put_policy(versioned, author=author)
            except PolicyVersionExists:
                continue
            with self._lock:
                self._cache.pop(tenant_id, None)
            return versioned
        raise PolicyUnavailable("Another policy change was stored at the same time; retry.")

    def _tenant_policies(self, tenant_id: str) -> list[PrivacyPolicy]:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        policies = self._read(tenant_id)
        with self._lock:
            self._cache[tenant_id] = (now + self.ttl_s, policies)
        return policies

    def _read(self, tenant_id: str) -> list[PrivacyPolicy]:
        try:
            return list(self.store.list_policies(tenant_id))
        except Exception as error:  # fail closed: no policy, no request
            logger.error("policy store read failed", extra={"error_type": type(error).__name__})
            raise PolicyUnavailable() from None
