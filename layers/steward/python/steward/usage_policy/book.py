"""Which usage policy is in force for a tenant (and model): immutable numbered versions, cached.

Like privacy policies (`steward.privacy.policies`): one item per version and scope (the tenant's
default, or one model), never overwritten, so the version an audit record names is the exact
document applied. The most specific scope wins (a model's policy replaces the tenant's for that
model; it does not add to it). No stored policy means no usage rules; a store that can't be read
refuses the request (fail closed). Reads go through a per-tenant cache of at most ``ttl_s``
(4 s by default, within the 5 s freshness promise of `steward.ttl_cache`), and each version is
compiled once (word index, RE2 programs) since versions never change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steward.ttl_cache import DEFAULT_TTL_S, TtlCache
from steward.usage_policy.compiled import CompiledPolicy
from steward.usage_policy.document import UsagePolicy, parse_usage_policy
from steward.usage_policy.errors import UsagePolicyUnavailable
from steward.usage_policy.ports import UsagePolicyStore, UsagePolicyVersionExists

logger = logging.getLogger("steward.usage_policy")
_SAVE_ATTEMPTS = 3
_MAX_COMPILED = 1024


def usage_policy_key(model: str | None, version: int) -> str:
    """Sort key in the policies table: ``usage#default#v0000000003`` or ``usage#model#<m>#v...``
    (the ``usage#`` prefix keeps these apart from the privacy policies of the same tenant)."""
    scope = "default" if model is None else f"model#{model}"
    return f"{USAGE_KEY_PREFIX}{scope}#v{version:010d}"


USAGE_KEY_PREFIX = "usage#"


def usage_policy_label(policy: UsagePolicy) -> str:
    scope = "tenant" if policy.model is None else f"model:{policy.model}"
    return f"{scope}@v{policy.version}"


def newest_in_force(policies: list[UsagePolicy], model: str | None) -> UsagePolicy | None:
    """The newest version of the most specific scope: the model's own, else the tenant's."""
    scoped = [p for p in policies if p.model == model] if model is not None else []
    chosen = scoped or [p for p in policies if p.model is None]
    return max(chosen, key=lambda p: p.version) if chosen else None


@dataclass(frozen=True)
class UsageInForce:
    compiled: CompiledPolicy
    label: str


class UsagePolicyBook:
    def __init__(
        self,
        store: UsagePolicyStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._cache: TtlCache[str, list[UsagePolicy]] = TtlCache(ttl_s, monotonic=clock)
        self._compiled: dict[tuple[str, str | None, int], CompiledPolicy] = {}
        self._lock = threading.Lock()

    def in_force(self, tenant_id: str, model: str | None) -> UsageInForce | None:
        """The newest version of the most specific scope, compiled; None when none is stored."""
        policy = newest_in_force(self._cache.get(tenant_id, lambda: self._read(tenant_id)), model)
        if policy is None:
            return None
        return UsageInForce(self._compile(policy), usage_policy_label(policy))

    def current(self, tenant_id: str, model: str | None) -> UsagePolicy | None:
        """The version in force for ``model`` (or the tenant's default), read through: what
        `in_force` applies once the caches catch up (``steward policies usage get``)."""
        return newest_in_force(self._read(tenant_id), model)

    def _compile(self, policy: UsagePolicy) -> CompiledPolicy:
        key = (policy.tenant_id, policy.model, policy.version)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = CompiledPolicy(policy)
            with self._lock:
                if len(self._compiled) >= _MAX_COMPILED:
                    self._compiled.clear()
                self._compiled[key] = compiled
        return compiled

    def history(
        self, tenant_id: str, model: str | None = None, *, all_scopes: bool = True
    ) -> list[UsagePolicy]:
        """Stored versions, newest first within each scope (read through, no cache); with
        ``all_scopes=False`` only the scope ``model`` names."""
        policies = self._read(tenant_id)
        if not all_scopes:
            policies = [p for p in policies if p.model == model]
        return sorted(policies, key=lambda p: (p.model or "", -p.version))

    def save(
        self, tenant_id: str, model: str | None, document: Mapping[str, Any], *, author: str
    ) -> UsagePolicy:
        """Validate ``document`` (422 if invalid, or a pattern invalid or too costly) and store it
        as the next version of its scope."""
        policy = parse_usage_policy(document, tenant_id=tenant_id, model=model)
        for _ in range(_SAVE_ATTEMPTS):
            latest = max((p.version for p in self._read(tenant_id) if p.model == model), default=0)
            versioned = policy.model_copy(update={"version": latest + 1})
            try:
                self.store.put_usage_policy(versioned, author=author)
            except UsagePolicyVersionExists:
                continue
            self._cache.forget(tenant_id)
            return versioned
        raise UsagePolicyUnavailable("Another usage policy change was stored at the same time; retry.")

    def _read(self, tenant_id: str) -> list[UsagePolicy]:
        try:
            return list(self.store.list_usage_policies(tenant_id))
        except Exception as error:  # fail closed: no policy read, no request
            logger.error("usage policy store read failed", extra={"error_type": type(error).__name__})
            raise UsagePolicyUnavailable() from None


class NoStoredUsagePolicies:
    """A store with nothing in it (no usage rules), refusing writes: for a deployment or test
    wired without the policies table."""

    def list_usage_policies(self, tenant_id: str) -> list[UsagePolicy]:
        return []

    def put_usage_policy(self, policy: UsagePolicy, *, author: str) -> None:
        from steward.errors import FeatureNotConfigured

        raise FeatureNotConfigured("Usage policies can't be stored on this deployment.")
