"""Checksums and structural rules behind the structured detectors."""

from __future__ import annotations

import pytest
from steward.privacy import validators as v


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "2221000000000009", "378282246310005", "6011111111111117",
     "3530111333300000", "36259600000004", "4222222222222", "6200000000000005"],
)  # fmt: skip
def test_valid_card_numbers_pass(number: str) -> None:
    # Given a published test card number of a major network (incl. the Mastercard 2-series)
    # When it is validated
    # Then it passes IIN range, length and Luhn
    assert v.credit_card_ok(number)


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111112",
        "1234567812345678",
        "0000000000000000",
        "4444444444444444",
        "9111111111111111",
        "411111111111",
    ],
)
def test_card_numbers_failing_luhn_or_range_are_rejected(number: str) -> None:
    # Given numbers that fail Luhn, have no issuer range, repeat one digit or are too short
    # Then none is a card
    assert not v.credit_card_ok(number)


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("DE89370400440532013000", True),
        ("GB29NWBK60161331926819", True),
        ("FR1420041010050500013M02606", True),
        ("NO9386011117947", True),
        ("DE89370400440532013001", False),  # mod 97 fails
        ("DE8937040044053201300", False),  # one character short for DE
        ("XX89370400440532013000", False),  # no such country
    ],
)
def test_iban_uses_country_length_and_mod97(iban: str, ok: bool) -> None:
    assert v.iban_ok(iban) is ok


@pytest.mark.parametrize(
    ("ssn", "ok"),
    [
        ("536225471", True),
        ("000225471", False),
        ("666225471", False),
        ("912225471", False),
        ("536005471", False),
        ("536220000", False),
        ("078051120", False),  # the Woolworth wallet SSN
        ("123456789", False),
    ],
)
def test_ssn_rules(ssn: str, ok: bool) -> None:
    assert v.ssn_ok(ssn) is ok


def test_ip_validation() -> None:
    assert v.ipv4_ok("192.168.0.1")
    assert not v.ipv4_ok("256.1.1.1")
    assert not v.ipv4_ok("01.2.3.4")
    assert v.ipv6_ok("2001:db8::8a2e:370:7334")
    assert v.ipv6_ok("::1")
    assert not v.ipv6_ok("d::")  # std::min-like tokens
    assert not v.ipv6_ok("12:30:45")


def test_bitcoin_checksums() -> None:
    assert v.base58check_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
    assert v.base58check_ok("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")
    assert not v.base58check_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3")
    assert v.bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert not v.bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")
