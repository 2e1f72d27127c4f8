"""API key format, checksum and keyed hashing."""

from __future__ import annotations

from steward.auth.keys import checksum, generate_key, hash_key, parse_key, verify_key

PEPPER = b"p" * 32


def test_generated_key_parses_and_verifies_against_its_record() -> None:
    # Given a freshly generated key
    token, record = generate_key("acme", pepper=PEPPER, models=("m",))
    # When it is parsed and verified
    parsed = parse_key(token)
    # Then the id matches the record and the stored hash verifies, without storing the secret
    assert parsed is not None and parsed.key_id == record.key_id
    assert verify_key(PEPPER, token, record.secret_hash)
    assert token.split("_")[2] not in repr(record)
    assert record.models == ("m",) and record.tenant_id == "acme"


def test_key_with_a_changed_character_fails_the_checksum() -> None:
    # Given a valid key with one secret character changed
    token, _ = generate_key("acme", pepper=PEPPER)
    prefix, key_id, secret, check = token.split("_")
    tampered = f"{prefix}_{key_id}_{'a' if secret[0] != 'a' else 'b'}{secret[1:]}_{check}"
    # When it is parsed, Then it is rejected before any lookup
    assert parse_key(tampered) is None


def test_malformed_keys_are_rejected() -> None:
    for junk in ["", "stw_", "sk-abc", "stw_x_y_z", "stw_" + "a" * 200, "Bearer stw_abc"]:
        assert parse_key(junk) is None


def test_wellformed_key_with_valid_checksum_but_other_pepper_does_not_verify() -> None:
    # Given a key hashed under one pepper
    token, record = generate_key("acme", pepper=PEPPER)
    # Then it does not verify under another pepper
    assert not verify_key(b"q" * 32, token, record.secret_hash)
    assert hash_key(PEPPER, token) == record.secret_hash


def test_checksum_is_stable_crc32_hex() -> None:
    assert checksum("stw_abc_def") == checksum("stw_abc_def")
    assert len(checksum("x")) == 8


def test_empty_models_grant_nothing() -> None:
    _, record = generate_key("acme", pepper=PEPPER, models=())
    assert record.models == ()
