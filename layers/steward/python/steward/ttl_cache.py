"""Read-through caches with a hard staleness bound, for the items every request reads.

Keys, registry documents and privacy policies change rarely and are read on every request, so
each warm process caches them. The promise is :data:`FRESHNESS_BOUND_S`: a change written to a
table (a revoked key, a retired or newly approved version, a new policy) is in force in every
warm process within 5 s.

Why a short TTL rather than a change counter read on every request: a counter costs one
DynamoDB read per request per function (authorizer and api: two per request, at any rate),
while a TTL costs one read per key or model per TTL per warm process, whatever the traffic; a
counter also depends on every writer (CLI, admin routes, a hand edit in the console) bumping it,
and one missed bump leaves a process stale for good, where a TTL heals by itself. The in-process
part is :data:`DEFAULT_TTL_S`, leaving the rest of the bound to DynamoDB's replication lag
(eventually consistent reads, typically well under a second).

Concurrent misses for one key share a single read (single flight): a burst of requests with the
same key on a cold or expired entry costs one read, and a failed read is handed to every waiter
and never cached (the next request reads again).

Absences ("no such key", "no such model") are cached too, so junk can't hammer the table, but
apart from what exists (``is_miss``): callers choose those keys freely, and a flood of them must
cost the flooder its reads, never evict the entries real callers use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

#: Seconds within which a stored change is in force in every warm process (the promise).
FRESHNESS_BOUND_S = 5.0
#: The in-process share of that bound (the default of every cache TTL setting).
DEFAULT_TTL_S = 4.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the cached value if read less than ``ttl_s`` ago, else ``load()``."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
        is_miss: Callable[[V], bool] | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._max_entries = max_entries
        self._is_miss = is_miss
        # An entry's age counts from the moment its read *started*: a change made before then
        # is in the value; one made after is picked up at most ``ttl_s`` later.
        self._entries: dict[K, tuple[float, V]] = {}
        self._misses: dict[K, tuple[float, V]] = {}  # values ``is_miss`` calls absences
        self._flights: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                cached = self._misses.get(key)
            if cached is not None and self._monotonic() - cached[0] < self.ttl_s:
                return cached[1]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()  # the leader's value, or its exception
        started = self._monotonic()
        try:
            value = load()
        except BaseException as error:
            with self._lock:
                del self._flights[key]
            flight.set_exception(error)
            raise
        miss = self._is_miss is not None and self._is_miss(value)
        table, other = (self._misses, self._entries) if miss else (self._entries, self._misses)
        with self._lock:
            other.pop(key, None)
            if key not in table and len(table) >= self._max_entries:
                table.clear()  # bounded memory: junk keys can't grow it without limit
            table[key] = (started, value)
            del self._flights[key]
        flight.set_result(value)
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._misses.pop(key, None)
