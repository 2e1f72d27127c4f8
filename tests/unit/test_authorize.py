"""The authorization decision and its cache."""

from __future__ import annotations

from dataclasses import replace

import pytest
from steward.auth.authorize import Authorizer, extract_token
from steward.auth.keys import generate_key
from steward.errors import Unauthenticated

from tests.fakes import InMemoryKeyStore

PEPPER = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def setup(**record_changes: object) -> tuple[Authorizer, InMemoryKeyStore, str, Clock]:
    store = InMemoryKeyStore()
    token, record = generate_key("acme", pepper=PEPPER, models=("m1", "m2"), scopes=("admin",))
    store.put(replace(record, **record_changes))  # type: ignore[arg-type]
    clock = Clock()
    return Authorizer(store, lambda: PEPPER, ttl_s=30, clock=clock, monotonic=clock), store, token, clock


def test_valid_key_yields_its_tenant_scopes_and_models() -> None:
    authorizer, _, token, _ = setup()
    principal = authorizer.authorize(token)
    assert principal.tenant_id == "acme"
    assert principal.is_admin and principal.may_use("m1") and not principal.may_use("m3")


def test_malformed_key_is_rejected_without_a_database_read() -> None:
    authorizer, store, _, _ = setup()
    for token in [None, "", "nope", "stw_aaaaaaaaaaaa_" + "b" * 40 + "_00000000"]:
        with pytest.raises(Unauthenticated):
            authorizer.authorize(token)
    assert store.reads == 0


def test_wrong_secret_with_valid_format_is_rejected() -> None:
    # Given a key id that exists but a different secret (re-checksummed so it passes the format)
    authorizer, _, token, _ = setup()
    from steward.auth.keys import format_key

    key_id = token.split("_")[1]
    forged = format_key(key_id, "z" * 40)
    with pytest.raises(Unauthenticated):
        authorizer.authorize(forged)


def test_revoked_key_is_rejected() -> None:
    authorizer, _, token, _ = setup(revoked=True)
    with pytest.raises(Unauthenticated):
        authorizer.authorize(token)


def test_expired_key_is_rejected() -> None:
    authorizer, _, token, clock = setup(expires_at=1_000_010)
    assert authorizer.authorize(token).tenant_id == "acme"
    clock.now = 1_000_010.0
    authorizer.forget(token.split("_")[1])
    with pytest.raises(Unauthenticated):
        authorizer.authorize(token)


def test_records_are_cached_for_the_ttl_then_reread() -> None:
    # Given an authorized key
    authorizer, store, token, clock = setup()
    authorizer.authorize(token)
    authorizer.authorize(token)
    # Then the store was read once within the TTL
    assert store.reads == 1
    # When the TTL passes and the key was revoked meanwhile
    store.revoke(token.split("_")[1])
    clock.now += 31
    # Then the revocation takes effect
    with pytest.raises(Unauthenticated):
        authorizer.authorize(token)
    assert store.reads == 2


def test_unknown_key_ids_are_negatively_cached() -> None:
    authorizer, store, _, _ = setup()
    stranger, _ = generate_key("other", pepper=PEPPER)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            authorizer.authorize(stranger)
    assert store.reads == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer   abc  "}, "abc"),
        ({"X-Api-Key": "abc"}, "abc"),
        ({"Authorization": "Basic abc", "x-api-key": "def"}, "def"),
        ({"Authorization": "Basic abc"}, None),
        ({}, None),
    ],
)
def test_token_comes_from_bearer_or_x_api_key(headers: dict[str, str], expected: str | None) -> None:
    assert extract_token(headers) == expected
