"""Key lifecycle: rotation overlap, metadata-only listing, revocation within 5 s, no escalation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from steward.auth.authorize import Authorizer
from steward.auth.keys import ADMIN_SCOPE, NO_LIMITS, PLATFORM_ADMIN_SCOPE, KeyLimits
from steward.auth.lifecycle import KeyLifecycle, KeyRequestInvalid, NewKey, key_view
from steward.auth.principal import Principal
from steward.errors import Forbidden, KeyConflict, KeyEscalation, KeyNotFound, Unauthenticated

from tests.fakes import InMemoryKeyStore

PEPPER = b"lifecycle-test-pepper-0123456789"
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def keys(store: InMemoryKeyStore, clock: Clock) -> KeyLifecycle:
    return KeyLifecycle(store, lambda: PEPPER, clock=clock)


def authorizer(store: InMemoryKeyStore, clock: Clock, ttl_s: float = 0.0) -> Authorizer:
    return Authorizer(store, lambda: PEPPER, ttl_s=ttl_s, clock=clock, monotonic=clock)


def works(auth: Authorizer, token: str) -> bool:
    try:
        auth.authorize(token)
    except Unauthenticated:
        return False
    return True


def admin_of(
    tenant: str, *, models: frozenset[str] = frozenset({"*"}), limits: KeyLimits = NO_LIMITS
) -> Principal:
    return Principal(tenant, "adminkey0001", frozenset({ADMIN_SCOPE}), models, limits=limits)


PLATFORM = Principal("ops", "platform0001", frozenset({ADMIN_SCOPE, PLATFORM_ADMIN_SCOPE}), frozenset({"*"}))


# -- rotation -------------------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_working_until_the_overlap_ends(
    keys: KeyLifecycle, store: InMemoryKeyStore, clock: Clock
) -> None:
    limits = KeyLimits(rpm=60, daily=1000, monthly=20_000)
    old_token, old = keys.create(
        NewKey("acme", ("emb",), admin=True, limits=limits, expires_days=30, name="ci")
    )
    auth = authorizer(store, clock)

    clock.now += 10 * 86_400
    new_token, successor, retired = keys.rotate(old.key_id, overlap_hours=2)

    # The successor is the same key in every respect but its secret and id.
    assert (successor.tenant_id, successor.scopes, successor.models, successor.limits, successor.name) == (
        "acme", ("admin",), ("emb",), limits, "ci",
    )  # fmt: skip
    assert successor.rotated_from == old.key_id and store.records[old.key_id].rotated_to == successor.key_id
    assert successor.expires_at == int(clock.now) + 30 * 86_400  # the same lifetime, from now
    assert retired.expires_at == store.records[old.key_id].expires_at == int(clock.now + 2 * HOUR)
    assert works(auth, new_token) and works(auth, old_token)

    clock.now += 2 * HOUR - 1
    assert works(auth, old_token)
    clock.now += 1
    assert not works(auth, old_token)
    assert works(auth, new_token)


def test_rotation_never_extends_the_old_keys_life(keys: KeyLifecycle, store: InMemoryKeyStore) -> None:
    _, old = keys.create(NewKey("acme", ("*",), expires_days=1 / 24))  # one hour left
    keys.rotate(old.key_id, overlap_hours=48)
    assert store.records[old.key_id].expires_at == old.expires_at


def test_a_key_is_rotated_once_and_a_revoked_or_expired_key_not_at_all(
    keys: KeyLifecycle, clock: Clock
) -> None:
    _, old = keys.create(NewKey("acme", ("*",), expires_days=1))
    keys.rotate(old.key_id, overlap_hours=1)
    with pytest.raises(KeyConflict):
        keys.rotate(old.key_id, overlap_hours=1)
    _, revoked = keys.create(NewKey("acme", ("*",)))
    keys.revoke(revoked.key_id)
    with pytest.raises(KeyConflict):
        keys.rotate(revoked.key_id)
    _, expiring = keys.create(NewKey("acme", ("*",), expires_days=1))
    clock.now += 86_400
    with pytest.raises(KeyConflict) as refused:
        keys.rotate(expiring.key_id)
    assert refused.value.status == 409 and refused.value.code == "key.conflict"


@pytest.mark.parametrize("hours", [-1.0, 168.5, float("nan"), float("inf")])
def test_the_overlap_is_bounded(keys: KeyLifecycle, store: InMemoryKeyStore, hours: float) -> None:
    _, old = keys.create(NewKey("acme", ("*",)))
    with pytest.raises(KeyRequestInvalid, match="overlap_hours"):
        keys.rotate(old.key_id, overlap_hours=hours)
    assert len(store.records) == 1


def test_an_overlap_of_zero_retires_the_old_key_at_once(
    keys: KeyLifecycle, store: InMemoryKeyStore, clock: Clock
) -> None:
    old_token, old = keys.create(NewKey("acme", ("*",)))
    keys.rotate(old.key_id, overlap_hours=0)
    assert not works(authorizer(store, clock), old_token)


# -- listing --------------------------------------------------------------------------------------


def test_listing_shows_metadata_and_never_a_hash_or_secret(
    keys: KeyLifecycle, store: InMemoryKeyStore, clock: Clock
) -> None:
    token_a, a = keys.create(NewKey("acme", ("emb",), limits=KeyLimits(rpm=5), name="a"))
    keys.create(NewKey("globex", ("*",)))
    clock.now += 60
    token_b, b, _ = keys.rotate(a.key_id)
    listed = [key_view(r, clock()) for r in keys.list("acme")]

    assert [v["key_id"] for v in listed] == [a.key_id, b.key_id]  # oldest first
    text = json.dumps(listed)
    for secret in (token_a, token_b, *[r.secret_hash for r in store.records.values()]):
        assert secret not in text
    assert not any("hash" in member or "secret" in member for view in listed for member in view)
    first = listed[0]
    assert first["rotated_to"] == b.key_id and first["limits"] == {"rpm": 5, "daily": None, "monthly": None}
    assert first["status"] == "active" and listed[1]["rotated_from"] == a.key_id


# -- revocation -----------------------------------------------------------------------------------


def test_a_revoked_key_is_refused_within_5s_by_a_warm_authorizer(
    keys: KeyLifecycle, store: InMemoryKeyStore, clock: Clock
) -> None:
    token, record = keys.create(NewKey("acme", ("*",)))
    warm = Authorizer(store, lambda: PEPPER, clock=clock, monotonic=clock)  # default TTL
    assert works(warm, token)  # cached now: the worst case is a revocation right after this read
    revoked = keys.revoke(record.key_id)
    assert revoked.revoked and revoked.revoked_at == int(clock.now)
    start = clock.now
    while works(warm, token):
        clock.now += 0.1
        assert clock.now - start <= 60
    assert clock.now - start <= 5.0


# -- authority and escalation ---------------------------------------------------------------------


def test_an_admin_manages_its_own_tenant_only(keys: KeyLifecycle) -> None:
    _, theirs = keys.create(NewKey("globex", ("*",)))
    acme_admin = admin_of("acme")
    for refused in (
        lambda: keys.create(NewKey("globex", ("*",)), acme_admin),
        lambda: keys.list("globex", acme_admin),
        lambda: keys.rotate(theirs.key_id, actor=acme_admin),
        lambda: keys.revoke(theirs.key_id, acme_admin),
        lambda: keys.revoke("nosuchkey000", acme_admin),  # absent looks the same as not yours
    ):
        with pytest.raises(Forbidden):
            refused()
    with pytest.raises(KeyNotFound):
        keys.revoke("nosuchkey000", PLATFORM)
    assert keys.revoke(theirs.key_id, PLATFORM).revoked


@pytest.mark.parametrize(
    ("actor", "request_"),
    [
        (admin_of("acme"), NewKey("acme", ("*",), platform_admin=True)),
        (admin_of("acme", models=frozenset({"emb"})), NewKey("acme", ("*",))),
        (admin_of("acme", models=frozenset({"emb"})), NewKey("acme", ("emb", "credit"))),
        (admin_of("acme", limits=KeyLimits(rpm=10)), NewKey("acme", ("*",))),
        (admin_of("acme", limits=KeyLimits(rpm=10)), NewKey("acme", ("*",), limits=KeyLimits(rpm=11))),
        (admin_of("acme", limits=KeyLimits(daily=100)), NewKey("acme", ("*",), limits=KeyLimits(rpm=1))),
    ],
)
def test_a_key_never_grants_more_than_it_holds(
    keys: KeyLifecycle, store: InMemoryKeyStore, actor: Principal, request_: NewKey
) -> None:
    with pytest.raises(KeyEscalation) as refused:
        keys.create(request_, actor)
    assert refused.value.status == 403 and refused.value.code == "key.escalation"
    assert store.records == {}


def test_within_its_own_grants_an_admin_may_create(keys: KeyLifecycle) -> None:
    actor = admin_of("acme", models=frozenset({"emb", "credit"}), limits=KeyLimits(rpm=10, daily=100))
    _, record = keys.create(NewKey("acme", ("emb",), admin=True, limits=KeyLimits(rpm=10, daily=50)), actor)
    assert record.scopes == (ADMIN_SCOPE,) and record.limits == KeyLimits(rpm=10, daily=50)
    _, anything = keys.create(NewKey("acme", ("*",), platform_admin=True), PLATFORM)
    assert PLATFORM_ADMIN_SCOPE in anything.scopes


def test_an_admin_cant_rotate_or_revoke_a_platform_admin_key(keys: KeyLifecycle) -> None:
    _, operator = keys.create(NewKey("acme", ("*",), platform_admin=True))
    for refused in (lambda: keys.revoke(operator.key_id, admin_of("acme")),
                    lambda: keys.rotate(operator.key_id, actor=admin_of("acme"))):  # fmt: skip
        with pytest.raises(KeyEscalation):
            refused()


@pytest.mark.parametrize(
    "request_",
    [
        NewKey("", ("*",)),
        NewKey("acme/../x", ("*",)),
        NewKey("acme", ()),
        NewKey("acme", (" ",)),
        NewKey("acme", ("*",), limits=KeyLimits(rpm=0)),
        NewKey("acme", ("*",), limits=KeyLimits(monthly=-5)),
        NewKey("acme", ("*",), expires_days=0),
        NewKey("acme", ("*",), name="line\nbreak"),
    ],
)
def test_invalid_requests_are_refused_before_anything_is_stored(
    keys: KeyLifecycle, store: InMemoryKeyStore, request_: NewKey
) -> None:
    with pytest.raises(KeyRequestInvalid) as refused:
        keys.create(request_)
    assert refused.value.status == 422 and isinstance(refused.value, ValueError)
    assert store.records == {}


# -- limits reach the rate limiter ----------------------------------------------------------------


def test_per_key_limits_ride_the_authorizer_context(
    keys: KeyLifecycle, store: InMemoryKeyStore, clock: Clock
) -> None:
    token, _ = keys.create(NewKey("acme", ("*",), limits=KeyLimits(rpm=30, monthly=9000)))
    principal = authorizer(store, clock).authorize(token)
    assert principal.limits == KeyLimits(rpm=30, monthly=9000)
    context = principal.to_context()
    assert context["limit_rpm"] == 30 and "limit_daily" not in context
    # API Gateway may hand the numbers back as strings.
    echoed = {name: str(value) for name, value in context.items()}
    assert Principal.from_context(echoed) == principal
    assert Principal.from_context({**echoed, "limit_rpm": "junk"}) == replace(
        principal, limits=KeyLimits(monthly=9000)
    )
