"""Linear time: 1 MB adversarial inputs finish quickly (RE2 patterns, bounded Python work).

The timeout marks are the assertion (generous, the machine is shared); the time is printed.
"""

from __future__ import annotations

import time

import pytest
from steward.privacy import detect

MB = 1 << 20

SHAPES = {
    "digit_run": "1" * MB,
    "spaced_digits": "4 " * (MB // 2),
    "dashed_digits": "12-" * (MB // 3),
    "repeated_a_at": "a@" * (MB // 2),
    "a_run": "a" * MB,
    "dotted": "a." * (MB // 2),
    "colons": "a:" * (MB // 2),
    "capitalised_words": "Aaaa Bbbb " * (MB // 10),
    "names_and_places": "John Smith lives in Paris. " * (MB // 27),
    "at_dot_words": "x at y dot " * (MB // 11),
    "brackets": "<PERSON_1 " * (MB // 10),
    "non_ascii": "é1 ü@ " * (MB // 8),  # 8 UTF-8 bytes each: 1 MB of bytes
    "base64ish": "eyJ" + "A" * (MB - 3),
    "begin_key": "-----BEGIN PRIVATE KEY-----" + "A" * MB,
    # Obfuscations the normaliser decodes or folds: one length-changing edit every few bytes.
    "html_entities": "&#64;" * (MB // 5),
    "named_entities": "&commat;" * (MB // 8),
    "percent_escapes": "%40" * (MB // 3),
    "zero_width_between_letters": "a\u200b" * (MB // 4),
    "combining_marks": "a\u0332" * (MB // 3),
    "confusables_in_one_token": "a\u0430" * (MB // 3),
    "cyrillic_words": "Привет мир " * (MB // 20),
    "math_digits": "\U0001d7cf" * (MB // 4),
    "cards_split_by_slashes": "4111/" * (MB // 5),
    "digits_on_lines": "4\n" * (MB // 2),
    "at_word_before_spelled_email": "me at jane.doe " * (MB // 15),
    # Phone candidates that each reach phonenumbers, and runs that try a split into two numbers.
    "phone_like_groups": "call 0412 345 678 a " * (MB // 20),
    "phone_pairs": "212-555-0187 415-555-2671 1 " * (MB // 28),
    "date_words_and_years": "in 1999 since May last Tuesday 3 days ago 1999-2003 " * (MB // 52),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_megabyte_adversarial_input_is_processed(shape: str) -> None:
    text = SHAPES[shape]
    start = time.perf_counter()
    findings = detect(text)
    elapsed = time.perf_counter() - start
    print(f"{shape}: {len(text.encode()) / MB:.2f} MB in {elapsed:.3f} s, {len(findings)} findings")
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
