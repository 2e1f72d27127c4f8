"""The review queue's service over in-memory ports: recording flags (one item per rule, marks,
no second item for a known text, release after approval), claims and resolutions (one reviewer
per item, decisions only by the claimer), key suspension, tenant isolation, bounds, and failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from steward.audit.record import AuditDraft
from steward.auth.keys import KeyRecord
from steward.auth.lifecycle import KeyLifecycle, NewKey
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.errors import (
    Forbidden,
    InvalidInput,
    KeyEscalation,
    ReviewClaimed,
    ReviewNotClaimed,
    ReviewNotFound,
    ReviewResolved,
    ReviewUnavailable,
)
from steward.review.model import MAX_ITEM_TEXTS, MAX_SEALED_BYTES, Decision, State
from steward.review.service import ReviewService
from steward.usage_policy.document import Direction
from steward.usage_policy.ports import Flagged

from tests.fakes import FakeEncryptor, InMemoryKeyStore, InMemoryReviewStore

PEPPER = b"review-unit-pepper-0123456789abcdef"
TEXT = "plan the heist for <EMAIL_ADDRESS_1>"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Queue:
    service: ReviewService
    store: InMemoryReviewStore
    keys: InMemoryKeyStore
    lifecycle: KeyLifecycle
    clock: Clock
    encryptor: FakeEncryptor

    def key(self, tenant: str = "acme", *, admin: bool = False, platform: bool = False) -> KeyRecord:
        _, record = self.lifecycle.create(NewKey(tenant, ("*",), admin=admin, platform_admin=platform))
        return record

    def admin(self, tenant: str = "acme", *, platform: bool = False) -> Principal:
        return Principal.from_record(self.key(tenant, admin=True, platform=platform))

    def flag(
        self, *texts: str, hold: bool = False, rule: str = "watch", caller: KeyRecord | None = None
    ) -> Any:
        caller = caller or self.key()
        ctx = RequestContext(
            Principal.from_record(caller), AuditDraft(f"req-{self.clock.now}", "POST", "/x", 0.0)
        )
        flag = Flagged("word", rule, Direction.INPUT, hold, texts, "all-minilm-l6-v2", "tenant@v1")
        [outcome] = self.service.flagged(ctx, [flag])
        return outcome


@pytest.fixture
def queue() -> Queue:
    store, keys, clock, encryptor = InMemoryReviewStore(), InMemoryKeyStore(), Clock(), FakeEncryptor()
    lifecycle = KeyLifecycle(keys, lambda: PEPPER, clock=clock)
    service = ReviewService(store, lambda _tenant: encryptor, lambda: PEPPER, keys=lifecycle, clock=clock)
    return Queue(service, store, keys, lifecycle, clock, encryptor)


# --- recording -----------------------------------------------------------------------------------


def test_a_flag_becomes_one_item_with_its_texts_sealed(queue: Queue) -> None:
    caller = queue.key()
    outcome = queue.flag(TEXT, "another text", caller=caller)
    assert outcome.review_id is not None and not outcome.held
    admin = queue.admin()
    shown = queue.service.get(admin, outcome.review_id)
    assert shown["texts"] == [TEXT, "another text"] and shown["truncated"] is False
    assert (shown["state"], shown["kind"], shown["rule"], shown["direction"]) == (
        "open",
        "word",
        "watch",
        "input",
    )
    assert (shown["key_id"], shown["model"], shown["policy_version"]) == (
        caller.key_id,
        "all-minilm-l6-v2",
        "tenant@v1",
    )
    assert shown["expires_at"] - shown["created_at"] == 30 * 86_400
    # Nothing the store holds has a text in clear: not the item, not the sealed blob, not a mark
    stored = json.dumps(queue.store.rows, default=lambda v: bytes(v).decode("latin-1"))
    assert "heist" not in stored and "another" not in stored
    listed = queue.service.list(admin)["data"]
    assert [i["review_id"] for i in listed] == [outcome.review_id] and "texts" not in listed[0]


def test_the_sealed_texts_open_only_under_their_own_tenant_and_item(queue: Queue) -> None:
    outcome = queue.flag(TEXT)
    blob = queue.store.sealed_texts[("acme", outcome.review_id)]
    with pytest.raises(ValueError, match="context"):
        queue.encryptor.decrypt(blob, {"steward:tenant": "globex", "steward:review": outcome.review_id})
    with pytest.raises(ValueError, match="context"):
        queue.encryptor.decrypt(blob, {"steward:tenant": "acme", "steward:review": "rv_" + "0" * 24})


def test_a_known_text_opens_no_second_item(queue: Queue) -> None:
    first = queue.flag(TEXT)
    again = queue.flag(TEXT)
    assert again.review_id == first.review_id and queue.store.creates == 1
    held = queue.flag(TEXT, hold=True, rule="other")  # another rule's mark: a new item, held
    assert held.held and held.review_id != first.review_id
    assert queue.flag(TEXT, hold=True, rule="other") == held  # a retried held request: the same item
    partly = queue.flag(TEXT, "new text")  # only the new text goes into a new item
    assert partly.review_id not in (first.review_id, held.review_id)
    assert queue.service.get(queue.admin(), partly.review_id)["texts"] == ["new text"]


def test_an_item_keeps_at_most_its_bounds_and_counts_the_rest(queue: Queue) -> None:
    texts = [f"text number {i}" for i in range(MAX_ITEM_TEXTS + 4)]
    outcome = queue.flag(*texts)
    shown = queue.service.get(queue.admin(), outcome.review_id)
    assert shown["texts"] == texts[:MAX_ITEM_TEXTS] and shown["texts_omitted"] == 4
    # The omitted texts have no mark: the next flag of them opens a new item
    later = queue.flag(*texts)
    assert queue.service.get(queue.admin(), later.review_id)["texts"] == texts[MAX_ITEM_TEXTS:]
    huge = queue.flag("é" * MAX_SEALED_BYTES)
    cut = queue.service.get(queue.admin(), huge.review_id)
    assert cut["truncated"] is True and 0 < len(cut["texts"][0]) < MAX_SEALED_BYTES


def test_concurrent_flags_of_one_text_open_one_item(queue: Queue) -> None:
    caller = queue.key()
    barrier = threading.Barrier(8)
    outcomes: list[Any] = []

    def flag() -> None:
        barrier.wait()
        outcomes.append(queue.flag(TEXT, hold=True, caller=caller))

    threads = [threading.Thread(target=flag) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.store.creates == 1
    assert {o.review_id for o in outcomes} == {next(iter(queue.store.items))[1]} and all(
        o.held for o in outcomes
    )


def test_a_store_or_key_service_failure_fails_the_flag(queue: Queue) -> None:
    queue.encryptor.fail = True
    with pytest.raises(ConnectionError):
        queue.flag(TEXT)
    queue.encryptor.fail, queue.store.fail = False, True
    with pytest.raises(ConnectionError):
        queue.flag(TEXT)
    admin = queue.admin()
    for call in (
        lambda: queue.service.list(admin),
        lambda: queue.service.get(admin, "rv_" + "0" * 24),
        lambda: queue.service.claim(admin, "rv_" + "0" * 24),
    ):
        with pytest.raises(ReviewUnavailable) as failed:
            call()
        assert (failed.value.status, failed.value.code) == (503, "review.unavailable")


# --- claims --------------------------------------------------------------------------------------


def test_one_reviewer_at_a_time_until_the_claim_lapses(queue: Queue) -> None:
    review_id = queue.flag(TEXT).review_id
    alice, bob = queue.admin(), queue.admin()
    claimed = queue.service.claim(alice, review_id)
    assert (claimed["state"], claimed["claimed_by"]) == ("claimed", alice.key_id)
    assert claimed["claim_expires_at"] == int(queue.clock.now) + 15 * 60
    with pytest.raises(ReviewClaimed) as refused:
        queue.service.claim(bob, review_id)
    assert (refused.value.status, refused.value.code) == (409, "review.claimed")
    queue.clock.now += 600
    renewed = queue.service.claim(alice, review_id)  # the holder renews
    assert renewed["claim_expires_at"] == int(queue.clock.now) + 15 * 60
    queue.clock.now += 15 * 60
    assert queue.service.list(bob)["data"][0]["state"] == "open"  # a lapsed claim lists as open
    assert queue.service.claim(bob, review_id)["claimed_by"] == bob.key_id


def test_concurrent_claims_have_exactly_one_winner(queue: Queue) -> None:
    review_id = queue.flag(TEXT).review_id
    reviewers = [queue.admin() for _ in range(8)]
    barrier = threading.Barrier(len(reviewers))
    won: list[str] = []
    lost: list[str] = []

    def claim(reviewer: Principal) -> None:
        barrier.wait()
        try:
            won.append(queue.service.claim(reviewer, review_id)["claimed_by"])
        except ReviewClaimed:
            lost.append(reviewer.key_id)

    threads = [threading.Thread(target=claim, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == len(reviewers) - 1
    assert queue.store.get("acme", review_id).claimed_by == won[0]


# --- resolutions ---------------------------------------------------------------------------------


def test_resolving_needs_the_resolvers_own_claim(queue: Queue) -> None:
    review_id = queue.flag(TEXT).review_id
    alice, bob = queue.admin(), queue.admin()
    with pytest.raises(ReviewNotClaimed) as unclaimed:
        queue.service.resolve(alice, review_id, Decision.APPROVE)
    assert (unclaimed.value.status, unclaimed.value.code) == (409, "review.not_claimed")
    queue.service.claim(alice, review_id)
    with pytest.raises(ReviewClaimed):
        queue.service.resolve(bob, review_id, Decision.VIOLATION)
    queue.clock.now += 3600  # alice's claim lapsed, nobody claimed since: still hers to decide
    with pytest.raises(ReviewNotClaimed):
        queue.service.resolve(bob, review_id, Decision.VIOLATION)
    resolved = queue.service.resolve(alice, review_id, Decision.APPROVE)
    assert (resolved["state"], resolved["decision"], resolved["resolved_by"]) == (
        "resolved",
        "approve",
        alice.key_id,
    )
    assert queue.service.resolve(alice, review_id, Decision.APPROVE) == resolved  # a retry: no-op
    with pytest.raises(ReviewResolved):
        queue.service.resolve(alice, review_id, Decision.VIOLATION)
    with pytest.raises(ReviewResolved):
        queue.service.claim(bob, review_id)


def test_an_approval_releases_the_held_text_for_a_while(queue: Queue) -> None:
    held = queue.flag(TEXT, hold=True)
    assert held.held
    admin = queue.admin()
    queue.service.claim(admin, held.review_id)
    queue.service.resolve(admin, held.review_id, Decision.APPROVE)
    released = queue.flag(TEXT, hold=True)
    assert (released.review_id, released.held) == (None, False) and queue.store.creates == 1
    assert queue.flag(TEXT + " ", hold=True).held  # only the exact text
    assert queue.flag(TEXT, hold=True, rule="other").held  # only under that rule
    queue.clock.now += 24 * 3600
    again = queue.flag(TEXT, hold=True)  # the release lapsed: held again, a new item
    assert again.held and again.review_id != held.review_id


def test_a_confirmed_violation_is_never_released_and_can_revoke_the_key(queue: Queue) -> None:
    caller = queue.key()
    held = queue.flag(TEXT, hold=True, caller=caller)
    admin = queue.admin()
    queue.service.claim(admin, held.review_id)
    with pytest.raises(InvalidInput):
        queue.service.resolve(admin, held.review_id, Decision.APPROVE, suspend_key=True)
    resolved = queue.service.resolve(admin, held.review_id, Decision.VIOLATION, suspend_key=True)
    assert (resolved["decision"], resolved["suspend_key"], resolved["key_id"]) == (
        "violation",
        True,
        caller.key_id,
    )
    assert queue.keys.records[caller.key_id].revoked
    again = queue.flag(TEXT, hold=True)  # still held, under the decided item: no new one
    assert (again.review_id, again.held) == (held.review_id, True) and queue.store.creates == 1


def test_a_key_the_reviewer_may_not_revoke_leaves_the_item_undecided(queue: Queue) -> None:
    platform_key = queue.key(admin=True, platform=True)
    held = queue.flag(TEXT, hold=True, caller=platform_key)
    admin = queue.admin()
    queue.service.claim(admin, held.review_id)
    with pytest.raises(KeyEscalation):
        queue.service.resolve(admin, held.review_id, Decision.VIOLATION, suspend_key=True)
    assert queue.store.get("acme", held.review_id).state is State.CLAIMED
    assert not queue.keys.records[platform_key.key_id].revoked


def test_a_failed_revocation_is_retried_by_resolving_again(queue: Queue) -> None:
    caller = queue.key()
    review_id = queue.flag(TEXT, caller=caller).review_id
    admin = queue.admin()
    queue.service.claim(admin, review_id)
    revoke = queue.keys.revoke

    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("key table down")

    queue.keys.revoke = down  # type: ignore[method-assign]
    with pytest.raises(ReviewUnavailable) as failed:
        queue.service.resolve(admin, review_id, Decision.VIOLATION, suspend_key=True)
    assert "resolve again" in failed.value.detail
    queue.keys.revoke = revoke  # type: ignore[method-assign]
    assert queue.service.resolve(admin, review_id, Decision.VIOLATION, suspend_key=True)["suspend_key"]
    assert queue.keys.records[caller.key_id].revoked


# --- who sees what ------------------------------------------------------------------------------


def test_another_tenants_item_answers_like_an_absent_one(queue: Queue) -> None:
    review_id = queue.flag(TEXT).review_id
    stranger = queue.admin("globex")
    absent = "rv_" + "f" * 24
    for call in (queue.service.get, queue.service.claim):
        for target in (review_id, absent, "not-an-id"):
            with pytest.raises(ReviewNotFound) as refused:
                call(stranger, target)
            assert (refused.value.status, refused.value.detail) == (404, ReviewNotFound.default_detail)
    with pytest.raises(ReviewNotFound):
        queue.service.resolve(stranger, review_id, Decision.VIOLATION, suspend_key=True)
    with pytest.raises(Forbidden):
        queue.service.list(stranger, "acme")
    assert queue.service.list(stranger)["data"] == []
    plain = Principal.from_record(queue.key())
    with pytest.raises(Forbidden):
        queue.service.get(plain, review_id)
    # A platform admin of any tenant, and the operator (no actor), review it
    assert queue.service.get(queue.admin("ops", platform=True), review_id)["tenant_id"] == "acme"
    assert queue.service.list(queue.admin("ops", platform=True), "acme")["data"][0]["review_id"] == review_id
    assert queue.service.claim(None, review_id)["claimed_by"] == "cli"


def test_an_expired_item_is_gone(queue: Queue) -> None:
    review_id = queue.flag(TEXT).review_id
    queue.clock.now += 30 * 86_400
    with pytest.raises(ReviewNotFound):
        queue.service.get(queue.admin(), review_id)
    assert queue.service.list(queue.admin())["data"] == []


# --- listings -----------------------------------------------------------------------------------


def test_listings_by_state_in_order_with_cursors(queue: Queue) -> None:
    ids = []
    for i in range(5):
        queue.clock.now += 1
        ids.append(queue.flag(f"text {i}").review_id)
    admin = queue.admin()
    queue.service.claim(admin, ids[1])
    queue.service.claim(admin, ids[3])
    queue.service.resolve(admin, ids[3], Decision.VIOLATION)
    queue.clock.now += 1
    queue.service.claim(admin, ids[0])
    queue.service.resolve(admin, ids[0], Decision.APPROVE)

    def listed(state: State, limit: int = 50) -> list[str]:
        found, cursor = [], None
        while True:
            page = queue.service.list(admin, state=state, cursor=cursor, limit=limit)
            found += [i["review_id"] for i in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    assert listed(State.OPEN) == [ids[2], ids[4]]
    assert listed(State.CLAIMED) == [ids[1]]
    assert listed(State.RESOLVED) == [ids[0], ids[3]]  # newest decision first
    assert listed(State.OPEN, limit=1) == [ids[2], ids[4]]
    queue.clock.now += 15 * 60
    assert listed(State.OPEN, limit=1) == [ids[1], ids[2], ids[4]]  # the lapsed claim is open again
    everywhere = queue.service.list(None, state=State.OPEN)  # the operator: every tenant
    assert everywhere["tenant_id"] is None and [i["review_id"] for i in everywhere["data"]] == [
        ids[1],
        ids[2],
        ids[4],
    ]


@pytest.mark.parametrize(
    "bad",
    [{"tenant_id": "a b"}, {"cursor": "x"}, {"cursor": "12.rv_1"}, {"limit": 0}, {"limit": 101}],
)
def test_a_bad_listing_request_is_422(queue: Queue, bad: dict[str, Any]) -> None:
    call: Callable[..., Any] = queue.service.list
    with pytest.raises(InvalidInput):
        call(None, **bad)
