"""The review queue's one implementation: the usage policy's flag sink, and what reviewers do
(``/admin/reviews`` and ``steward review``).

**Recording** (`ReviewService.flagged`, on the request path): per flagged rule, the texts' marks
are read (one strongly consistent batch read). A text with an *approved* mark is released; one
with a *pending* or *violation* mark is already in an item (no second item: a caller retrying a
held request, or a noisy rule, never floods the queue). The other texts go into one new item,
sealed with a fresh KMS data key under the tenant's encryption context, created in one
transaction with their marks (a concurrent request that marked a text first makes this one read
again). A ``hold`` rule holds the request unless every text is released.

**Reviewing**: an ``admin`` key sees its own tenant's items only (it never reads another tenant's
partition: another tenant's id answers exactly like an absent one, 404); a ``platform-admin``
key and the operator CLI any tenant's. ``claim`` gives the item to one reviewer for
``claim_s`` (a lapsed claim can be taken by anyone; the holder may renew); ``resolve`` needs the
resolver's own claim, live or lapsed as long as nobody claimed since, so a decision is always the
claimer's and two reviewers never decide one item. ``approve`` releases the item's texts for
``release_s`` (the same text from the same tenant then passes the hold rule, no new item);
``violation`` never releases them and may revoke the key that made the request (after the
decision is stored, so a lost race never revokes; a failed revocation is retried by resolving
again with the same decision). Store and key-service failures answer 503 ``review.unavailable``.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from itertools import islice
from typing import TYPE_CHECKING, Any

from steward.auth.keys import PLATFORM_ADMIN_SCOPE
from steward.controls.model import TENANT_ID
from steward.errors import (
    FeatureNotConfigured,
    Forbidden,
    InvalidInput,
    ReviewClaimed,
    ReviewNotClaimed,
    ReviewNotFound,
    ReviewResolved,
    ReviewUnavailable,
    StewardError,
)
from steward.review.model import (
    CLI_REVIEWER,
    DEFAULT_PAGE,
    MAX_ITEM_TEXTS,
    MAX_PAGE,
    MAX_SEALED_BYTES,
    Decision,
    Mark,
    MarkStatus,
    ReviewItem,
    State,
    is_cursor,
    is_review_id,
    new_review_id,
    queue_key,
    review_mac_key,
    seal_context,
    text_mac,
)
from steward.review.ports import MarkTaken, ReviewStore
from steward.usage_policy.ports import Flagged, FlagOutcome

if TYPE_CHECKING:
    from steward.auth.lifecycle import KeyLifecycle
    from steward.auth.principal import Principal
    from steward.context import RequestContext
    from steward.privacy.operators import Encryptor

logger = logging.getLogger("steward.review")
DEFAULT_RETENTION_S = 30 * 86_400
DEFAULT_CLAIM_S = 15 * 60
DEFAULT_RELEASE_S = 24 * 3600
#: Rounds of "read marks, create" when concurrent requests keep marking the same texts first.
_CREATE_ATTEMPTS = 3
#: Which stored states a listing of each state reads (a lapsed claim lists as open).
_STORED = {
    State.OPEN: (State.OPEN, State.CLAIMED),
    State.CLAIMED: (State.CLAIMED,),
    State.RESOLVED: (State.RESOLVED,),
}


class ReviewService:
    def __init__(
        self,
        store: ReviewStore,
        encryptor_for: Callable[[str], Encryptor],
        pepper: Callable[[], bytes],
        *,
        keys: KeyLifecycle | None = None,
        retention_s: int = DEFAULT_RETENTION_S,
        claim_s: int = DEFAULT_CLAIM_S,
        release_s: int = DEFAULT_RELEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._encryptor_for = encryptor_for
        self._pepper = pepper
        self._keys = keys
        self.retention_s = retention_s
        self.claim_s = claim_s
        self.release_s = release_s
        self._clock = clock
        self._mac_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # --- the flag sink (request path) ------------------------------------------------------

    def flagged(self, ctx: RequestContext, flags: Sequence[Flagged]) -> list[FlagOutcome]:
        """`~steward.usage_policy.ports.FlagSink`: one outcome per flag; raises on any failure."""
        key = self._mac_key(ctx.tenant_id)
        return [self._record(ctx, key, flag) for flag in flags]

    def _record(self, ctx: RequestContext, key: bytes, flag: Flagged) -> FlagOutcome:
        texts = list(dict.fromkeys(flag.texts))
        macs = [text_mac(key, flag.kind, flag.rule, flag.direction.value, t) for t in texts]
        for _ in range(_CREATE_ATTEMPTS):
            now = self._clock()
            marks = {m.mac: m for m in self._store.marks(ctx.tenant_id, macs) if m.live(now)}
            judged = [marks[m] for m in macs if m in marks]
            holding = [m.review_id for m in judged if m.status is not MarkStatus.APPROVED]
            fresh = [(t, m) for t, m in zip(texts, macs, strict=True) if m not in marks]
            if not fresh:
                return FlagOutcome(holding[0] if holding else None, held=flag.hold and bool(holding))
            item, sealed = self._new_item(ctx, flag, fresh, now)
            pending = [Mark(m, item.review_id, MarkStatus.PENDING, item.expires_at) for m in item.macs]
            try:
                self._store.create(item, sealed, pending, now=int(now))
            except MarkTaken:
                continue
            return FlagOutcome(item.review_id, held=flag.hold)
        raise RuntimeError("texts kept being marked by concurrent requests")

    def _new_item(
        self, ctx: RequestContext, flag: Flagged, fresh: Sequence[tuple[str, str]], now: float
    ) -> tuple[ReviewItem, bytes]:
        """An item holding as many of ``fresh`` as its bounds allow (the first one always, cut
        to the size bound if it must be), and its sealed texts."""
        kept: list[str] = []
        macs: list[str] = []
        size, truncated = 0, False
        for text, mac in fresh[:MAX_ITEM_TEXTS]:
            room = MAX_SEALED_BYTES - size
            encoded = len(json.dumps(text))
            if encoded > room:
                if kept:
                    break
                text, truncated = _cut(text, room), True
                encoded = room
            kept.append(text)
            macs.append(mac)
            size += encoded
        review_id = new_review_id()
        # ASCII JSON: any text seals, whatever it holds (a lone surrogate has no UTF-8 form).
        plaintext = json.dumps({"texts": kept, "truncated": truncated}).encode()
        sealed = self._encryptor_for(ctx.tenant_id).encrypt(plaintext, seal_context(ctx.tenant_id, review_id))
        item = ReviewItem(
            review_id=review_id,
            tenant_id=ctx.tenant_id,
            kind=flag.kind,
            rule=flag.rule,
            direction=flag.direction.value,
            hold=flag.hold,
            model=flag.model or "",
            request_id=ctx.request_id,
            key_id=ctx.principal.key_id,
            policy=flag.policy,
            created_at=int(now),
            expires_at=int(now) + self.retention_s,
            queued_at=queue_key(int(now * 1000), review_id),
            texts=len(kept),
            texts_omitted=len(fresh) - len(kept),
            macs=tuple(macs),
        )
        return item, sealed

    def _mac_key(self, tenant_id: str) -> bytes:
        key = self._mac_keys.get(tenant_id)
        if key is None:
            key = review_mac_key(self._pepper(), tenant_id)
            with self._lock:
                if len(self._mac_keys) >= 4096:
                    self._mac_keys.clear()
                self._mac_keys[tenant_id] = key
        return key

    # --- reviewers -------------------------------------------------------------------------

    def list(
        self,
        actor: Principal | None,
        tenant_id: str | None = None,
        state: State = State.OPEN,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> dict[str, Any]:
        """Items in ``state`` (metadata only), oldest first (resolved: newest first), at most
        ``limit``; ``next_cursor`` continues. ``tenant_id`` None: the actor's own tenant (the
        operator, no actor: every tenant, a full read of the table)."""
        _reviewer(actor)
        tenant = tenant_id if tenant_id is not None else actor.tenant_id if actor is not None else None
        if tenant is not None:
            if not TENANT_ID.fullmatch(tenant):
                raise InvalidInput("tenant must be 1 to 128 letters, digits, '.', '_' or '-'.")
            if actor is not None and not actor.may_administer(tenant):
                raise Forbidden()
        if cursor is not None and not is_cursor(cursor):
            raise InvalidInput("cursor must be a next_cursor of an earlier page.")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}.")
        now = self._clock()
        newest_first = state is State.RESOLVED
        with _available():
            if tenant is None:
                found = self._everywhere(state, cursor, newest_first, now)
            else:
                found = self._queued(tenant, state, cursor, newest_first, limit, now)
            page = list(islice(found, limit + 1))
        data = page[:limit]
        return {
            "object": "list",
            "tenant_id": tenant,
            "state": state.value,
            "data": [item.view(now) for item in data],
            "next_cursor": data[-1].queued_at if len(page) > limit else None,
        }

    def _queued(
        self, tenant: str, state: State, cursor: str | None, newest_first: bool, limit: int, now: float
    ) -> Iterator[ReviewItem]:
        streams = [
            (
                item
                for item in self._store.queue(
                    tenant, stored, after=cursor, newest_first=newest_first, page=limit + 1
                )
                if item.status(now) is state and item.expires_at > now
            )
            for stored in _STORED[state]
        ]
        return heapq.merge(*streams, key=lambda item: item.queued_at, reverse=newest_first)

    def _everywhere(
        self, state: State, cursor: str | None, newest_first: bool, now: float
    ) -> Iterator[ReviewItem]:
        def after(item: ReviewItem) -> bool:
            if cursor is None:
                return True
            return item.queued_at < cursor if newest_first else item.queued_at > cursor

        items = [
            item
            for item in self._store.every_queue(_STORED[state])
            if item.status(now) is state and item.expires_at > now and after(item)
        ]
        return iter(sorted(items, key=lambda item: item.queued_at, reverse=newest_first))

    def tenant_of(self, review_id: str) -> str | None:
        """Whose item this is, for an operator (the CLI's audit names that tenant's chain);
        None for no such item."""
        try:
            return self._visible(None, review_id).tenant_id
        except ReviewNotFound:
            return None

    def get(self, actor: Principal | None, review_id: str) -> dict[str, Any]:
        """One item with its texts, opened for the reviewer (the only answer that holds them)."""
        item = self._visible(actor, review_id)
        with _available():
            sealed = self._store.sealed(item.tenant_id, item.review_id)
            if sealed is None:
                raise ReviewNotFound()
            opened = self._encryptor_for(item.tenant_id).decrypt(
                sealed, seal_context(item.tenant_id, item.review_id)
            )
        document = json.loads(opened)
        return {**item.view(self._clock()), "texts": document["texts"], "truncated": document["truncated"]}

    def claim(self, actor: Principal | None, review_id: str) -> dict[str, Any]:
        """Hold the item for ``claim_s`` (409 ``review.claimed`` while another reviewer holds it,
        ``review.resolved`` once resolved); the holder may claim again to renew."""
        item = self._visible(actor, review_id)
        who, now = _who(actor), int(self._clock())
        _claimable(item, who, now)
        until = now + self.claim_s
        with _available():
            claimed = self._store.claim(item.tenant_id, item.review_id, by=who, until=until, now=now)
            # Lost to a concurrent claim or resolution: read it again to say which.
            current = None if claimed else self._store.get(item.tenant_id, item.review_id)
        if not claimed:
            if current is None or current.expires_at <= now:
                raise ReviewNotFound()
            _claimable(current, who, now)
            raise ReviewClaimed()
        return replace(item, state=State.CLAIMED, claimed_by=who, claim_until=until).view(now)

    def resolve(
        self, actor: Principal | None, review_id: str, decision: Decision, *, suspend_key: bool = False
    ) -> dict[str, Any]:
        """Decide the claimed item; with ``suspend_key`` (violations only), revoke the key that
        made the request. Resolving again with the same decision is a no-op (a retry)."""
        if suspend_key and decision is not Decision.VIOLATION:
            raise InvalidInput("suspend_key applies to a violation only.")
        item = self._visible(actor, review_id)
        who, now = _who(actor), int(self._clock())
        if item.state is State.RESOLVED:
            if (item.resolved_by, item.decision, item.suspend_key) != (who, decision, suspend_key):
                raise ReviewResolved()
            if suspend_key:
                self._suspend(actor, item)
            return item.view(now)
        _holds(item, who, now)
        if suspend_key:
            self._may_suspend(actor, item)
        resolved = replace(
            item,
            state=State.RESOLVED,
            decision=decision,
            suspend_key=suspend_key,
            resolved_by=who,
            resolved_at=now,
            queued_at=queue_key(int(self._clock() * 1000), item.review_id),
        )
        approved = decision is Decision.APPROVE
        status = MarkStatus.APPROVED if approved else MarkStatus.VIOLATION
        until = now + self.release_s if approved else item.expires_at
        marks = [Mark(mac, item.review_id, status, until) for mac in item.macs]
        with _available():
            stored = self._store.resolve(resolved, marks, now=now)
            current = None if stored else self._store.get(item.tenant_id, item.review_id)
        if not stored:
            if current is None or current.expires_at <= now:
                raise ReviewNotFound()
            if current.state is State.RESOLVED:
                raise ReviewResolved()
            _holds(current, who, now)
            raise ReviewClaimed()
        if suspend_key:
            self._suspend(actor, resolved)
        return resolved.view(now)

    # --- helpers ---------------------------------------------------------------------------

    def _visible(self, actor: Principal | None, review_id: str) -> ReviewItem:
        """The item if this actor may review it; else the same 404 as for no such item. An
        ``admin`` key only ever reads its own tenant's partition."""
        _reviewer(actor)
        if not is_review_id(review_id):
            raise ReviewNotFound()
        with _available():
            if actor is not None and PLATFORM_ADMIN_SCOPE not in actor.scopes:
                item = self._store.get(actor.tenant_id, review_id)
            else:
                item = self._store.find(review_id)
        now = self._clock()
        if item is None or item.expires_at <= now:
            raise ReviewNotFound()
        if actor is not None and not actor.may_administer(item.tenant_id):
            raise ReviewNotFound()
        return item

    def _may_suspend(self, actor: Principal | None, item: ReviewItem) -> None:
        """Before deciding: the key may be revoked by this actor (403 or 404 otherwise)."""
        if self._keys is None:
            raise FeatureNotConfigured("API keys can't be revoked on this deployment.")
        with _available():
            self._keys.get(item.key_id, actor)

    def _suspend(self, actor: Principal | None, item: ReviewItem) -> None:
        if self._keys is None:
            raise FeatureNotConfigured("API keys can't be revoked on this deployment.")
        with _available(
            "The decision is stored, but the key could not be revoked; resolve again with the same "
            "decision to retry."
        ):
            self._keys.revoke(item.key_id, actor)


def _reviewer(actor: Principal | None) -> None:
    if actor is not None and not actor.is_admin:
        raise Forbidden()


def _who(actor: Principal | None) -> str:
    return actor.key_id if actor is not None else CLI_REVIEWER


def _claimable(item: ReviewItem, who: str, now: float) -> None:
    if item.state is State.RESOLVED:
        raise ReviewResolved()
    if item.status(now) is State.CLAIMED and item.claimed_by != who:
        raise ReviewClaimed()


def _holds(item: ReviewItem, who: str, now: float) -> None:
    """Resolving needs the resolver's own claim (lapsed is fine while nobody claimed since)."""
    if item.state is State.CLAIMED and item.claimed_by == who:
        return
    if item.status(now) is State.CLAIMED:
        raise ReviewClaimed()
    raise ReviewNotClaimed()


def _cut(text: str, room: int) -> str:
    """The longest prefix of ``text`` whose JSON encoding fits in ``room`` bytes."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle])) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low]


@contextmanager
def _available(detail: str | None = None) -> Iterator[None]:
    """Store and key-service failures as 503 ``review.unavailable`` (never their message: it
    could name a table, a key or a value)."""
    try:
        yield
    except StewardError:
        raise
    except Exception as error:
        logger.error("review queue unavailable", extra={"error_type": type(error).__name__})
        raise ReviewUnavailable(detail) from None
