"""Each fast-path detector: what it must find, and look-alikes it must leave alone."""

from __future__ import annotations

import itertools

import pytest
from steward.privacy import detect


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "entity_type", "value"),
    [
        ("write to jane.doe@example.com today", "EMAIL_ADDRESS", "jane.doe@example.com"),
        ("write to jane [at] example [dot] com today", "EMAIL_ADDRESS", "jane [at] example [dot] com"),
        ("write to jane(at)example(dot)org", "EMAIL_ADDRESS", "jane(at)example(dot)org"),
        ("or jane at example dot com", "EMAIL_ADDRESS", "jane at example dot com"),
        ("call (212) 555-0187 now", "PHONE_NUMBER", "(212) 555-0187"),
        ("call +44 20 7946 0958 now", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("call +49 (0)171 1234567 now", "PHONE_NUMBER", "+49 (0)171 1234567"),
        ("phone 01 23 45 67 89 please", "PHONE_NUMBER", "01 23 45 67 89"),
        ("card 4111 1111 1111 1111 exp", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("card 2221-0000-0000-0009 exp", "CREDIT_CARD", "2221-0000-0000-0009"),
        ("amex 3782 822463 10005 ok", "CREDIT_CARD", "3782 822463 10005"),
        ("card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ok", "CREDIT_CARD", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"),
        ("ref 12 4111111111111111 ok", "CREDIT_CARD", "4111111111111111"),
        ("SSN 536-22-5471.", "US_SSN", "536-22-5471"),
        ("my ssn is 536225471", "US_SSN", "536225471"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB29NWBK60161331926819.", "IBAN_CODE", "GB29NWBK60161331926819"),
        ("host 10.0.0.12.", "IP_ADDRESS", "10.0.0.12"),
        ("host 2001:db8::8a2e:370:7334 down", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        ("see https://example.com/a?b=1).", "URL", "https://example.com/a?b=1"),
        ("see www.example.org/about now", "URL", "www.example.org/about"),
        ("mac 00:1A:2B:3C:4D:5E.", "MAC_ADDRESS", "00:1A:2B:3C:4D:5E"),
        ("btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 ok", "CRYPTO", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("on 5 March 2023 we met", "DATE_TIME", "5 March 2023"),
        ("due 2024-02-29 ok", "DATE_TIME", "2024-02-29"),
        ("my driver's license number is D1234567", "US_DRIVER_LICENSE", "D1234567"),
        ("passport number: A12345678", "US_PASSPORT", "A12345678"),
        ("key AKIAIOSFODNN7EXAMPLE ok", "CLOUD_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            "CLOUD_SECRET_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("token ghp_" + "a" * 36 + " ok", "API_TOKEN", "ghp_" + "a" * 36),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_abc ok",
            "JWT",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_abc",
        ),
        ("Authorization: Bearer abcdefghijklmnop1234", "BEARER_TOKEN", "abcdefghijklmnop1234"),
        ("postgres://app:S3cr3t!pw@db:5432/x", "PASSWORD", "S3cr3t!pw"),
        ("password=Tr0ub4dor&3 ok", "PASSWORD", "Tr0ub4dor&3"),
        ("My name is John Smith.", "PERSON", "John Smith"),
        ("my name is maria garcia", "PERSON", "maria garcia"),
        ("Ask Dr. Okonkwo about it.", "PERSON", "Okonkwo"),
        ("She lives in Lisbon now.", "LOCATION", "Lisbon"),
        ("Ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500.", "STREET_ADDRESS",
         "1600 Pennsylvania Avenue NW, Washington, DC 20500"),
    ],
)  # fmt: skip
def test_detector_finds_entity(text: str, entity_type: str, value: str) -> None:
    # Given a text holding one entity  When it is scanned  Then exactly that span is reported
    assert (entity_type, value) in found(text)


def test_private_key_block_is_one_finding() -> None:
    # Given a PEM private key pasted into a prompt
    text = (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\nabc=\n-----END RSA PRIVATE KEY-----\nthanks"
    )
    # When scanned  Then the whole block is one PRIVATE_KEY
    (hit,) = [f for f in detect(text) if f.entity_type == "PRIVATE_KEY"]
    assert text[hit.start : hit.end].startswith("-----BEGIN") and text[hit.start : hit.end].endswith(
        "KEY-----"
    )


@pytest.mark.parametrize(
    "text",
    [
        "invoice 4111 1111 1111 1112 is paid",  # fails Luhn
        "ref 1234 5678 9012 3456 is fine",  # no issuer range + fails Luhn
        "employee 000-12-3456 and 666-12-3456 and 912-12-3456",  # invalid SSN areas
        "account DE89370400440532013001 is a dummy",  # mod 97 fails
        "version 999.10.1.1 shipped",  # not an IPv4
        "use std::vector and a::b",  # not IPv6
        "The password is wrong, try again",  # prose, not a secret
        "Will the Apple keynote cover the new chips in May?",  # capitalised common words
        "Please Reply All with your Comments by End of Day.",
        "meet at home.It was late",  # ' at ' without a spelled-out dot is not an e-mail
        "order 12345678 totals $1,234.56",
    ],
)
def test_look_alikes_are_not_reported(text: str) -> None:
    # Given text with numbers or words that look like PII but fail validation
    # When scanned  Then nothing of the validated types is reported
    assert found(text) == []


def test_nine_digits_without_cue_are_not_an_ssn() -> None:
    assert [t for t, _ in found("tracking 536225471 arrived")] == []


def test_zero_width_and_fullwidth_obfuscation_maps_back_to_original_offsets() -> None:
    # Given an e-mail split by a zero-width space and a card in fullwidth digits
    fullwidth_card = "4111 1111 1111 1111".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    text = f"mail jane\u200b@example.com card {fullwidth_card} ok"
    # When scanned
    hits = found(text)
    # Then both are found and the spans cut the caller's own characters
    assert ("EMAIL_ADDRESS", "jane\u200b@example.com") in hits
    assert ("CREDIT_CARD", fullwidth_card) in hits


def test_non_ascii_text_keeps_character_offsets() -> None:
    text = "Grüße von José: jose@exämple.com? nein, jose@example.com"
    assert ("EMAIL_ADDRESS", "jose@example.com") in found(text)


def test_findings_never_overlap_and_hold_no_values() -> None:
    text = "Mail john.smith@example.com from 192.168.1.1 at https://example.com/john.smith@example.com"
    findings = detect(text)
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start
    assert all(not hasattr(f, "value") and "john" not in repr(f) for f in findings)


def test_threshold_and_type_filter() -> None:
    text = "Call (212) 555-0187 or mail a@example.com"
    assert {f.entity_type for f in detect(text, entity_types={"PHONE_NUMBER"})} == {"PHONE_NUMBER"}
    assert detect(text, threshold=1.01) == []
