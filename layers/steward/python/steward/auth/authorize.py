"""The authorization decision: presented key -> :class:`Principal`, or a refusal.

Pure logic over two ports (a key store and a pepper source), so it is tested without AWS. The
checksum gate runs before any read; key records are cached for ``ttl_s`` (at most 5 s by default,
so a revocation is in force within that window, see `steward.ttl_cache`) and misses are cached
too, so junk keys can't hammer the table: one read per key per TTL, however many requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from steward.auth.keys import KeyRecord, parse_key, verify_key
from steward.auth.principal import Principal
from steward.errors import Unauthenticated
from steward.ttl_cache import DEFAULT_TTL_S, TtlCache


class KeyStore(Protocol):
    def get(self, key_id: str) -> KeyRecord | None: ...


class KeyWriter(Protocol):
    """The key store's write side (`steward.admin`: create and revoke keys)."""

    def put(self, record: KeyRecord) -> None: ...

    def revoke(self, key_id: str, *, now: float | None = None) -> None: ...


def extract_token(headers: Mapping[str, str] | None) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``x-api-key`` (header names any case)."""
    if not headers:
        return None
    lowered = {name.lower(): value for name, value in headers.items() if isinstance(value, str)}
    auth = lowered.get("authorization", "").strip()
    if auth:
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


class Authorizer:
    def __init__(
        self,
        store: KeyStore,
        pepper: Callable[[], bytes],
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self._store = store
        self._pepper = pepper
        self._clock = clock
        self._cache: TtlCache[str, KeyRecord | None] = TtlCache(
            ttl_s, monotonic=monotonic, max_entries=max_entries, is_miss=lambda record: record is None
        )

    @property
    def ttl_s(self) -> float:
        """How long a key record (or its absence) is reused before the table is read again."""
        return self._cache.ttl_s

    def authorize(self, token: str | None) -> Principal:
        """The caller's principal; raises :class:`Unauthenticated` for any bad key."""
        parsed = parse_key(token) if token else None
        if parsed is None:
            raise Unauthenticated()
        record = self._record(parsed.key_id)
        if record is None or record.key_id != parsed.key_id:
            raise Unauthenticated()
        if not verify_key(self._pepper(), parsed.token, record.secret_hash):
            raise Unauthenticated()
        if not record.is_active(self._clock()):
            raise Unauthenticated()
        return Principal.from_record(record)

    def _record(self, key_id: str) -> KeyRecord | None:
        return self._cache.get(key_id, lambda: self._store.get(key_id))

    def forget(self, key_id: str) -> None:
        self._cache.forget(key_id)
