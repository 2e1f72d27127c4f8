"""Obfuscated personal data: found through look-alikes and encodings, cut in the caller's text.

Each case hides one value; the finding must cover exactly the caller's characters (the whole
encoded sequence, every invisible character inside), and redaction must remove all of them.
"""

from __future__ import annotations

import pytest
from steward.privacy import (
    NER_TYPES,
    DetectionEngine,
    DetectionPath,
    Finding,
    RedactionContext,
    default_policy,
    detect,
    redact,
)
from steward.privacy.normalize import TextView, normalize


def math_digits(s: str) -> str:
    """Digits as MATHEMATICAL MONOSPACE DIGIT ZERO.. (U+1D7F6..), which NFKC folds to ASCII."""
    return s.translate({ord(d): 0x1D7F6 + int(d) for d in "0123456789"})


def math_bold_digits(s: str) -> str:
    return s.translate({ord(d): 0x1D7CE + int(d) for d in "0123456789"})


CYR_EMAIL = "j\u0430n\u0435.d\u043e\u0435@\u0435x\u0430mpl\u0435.c\u043em"  # Cyrillic a, ie, o
GREEK_EMAIL = "m\u03b1ri\u03bf@ex\u03b1mple.\u03bfrg"  # Greek alpha, omicron
ARMENIAN_EMAIL = "j\u0585hn@example.c\u0585m"  # Armenian oh
MATH_EMAIL = "\U0001d423\U0001d41a\U0001d427\U0001d41e@example.com"  # "jane" in mathematical bold
FULLWIDTH_EMAIL = (
    "\uff4a\uff41\uff4e\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"
)

CASES: list[tuple[str, str, str, str]] = [
    # (id, text, entity type, the caller's characters the finding must cover)
    ("cyrillic_email", f"write to {CYR_EMAIL} today", "EMAIL_ADDRESS", CYR_EMAIL),
    ("greek_email", f"mail {GREEK_EMAIL} now", "EMAIL_ADDRESS", GREEK_EMAIL),
    ("armenian_email", f"mail {ARMENIAN_EMAIL} now", "EMAIL_ADDRESS", ARMENIAN_EMAIL),
    ("math_letters_email", f"mail {MATH_EMAIL} now", "EMAIL_ADDRESS", MATH_EMAIL),
    ("fullwidth_email", f"mail {FULLWIDTH_EMAIL} now", "EMAIL_ADDRESS", FULLWIDTH_EMAIL),
    ("zero_width_in_email", "mail ja\u200dne\u2060@exa\ufeffmple.com now", "EMAIL_ADDRESS",
     "ja\u200dne\u2060@exa\ufeffmple.com"),
    ("tag_chars_in_email", "mail jane\U000e0041@example.com now", "EMAIL_ADDRESS",
     "jane\U000e0041@example.com"),
    ("combining_marks_in_email", "mail j\u0332a\u0332n\u0332e\u0332@example.com now", "EMAIL_ADDRESS",
     "j\u0332a\u0332n\u0332e\u0332@example.com"),
    ("percent_at", "mail jane.doe%40example.com now", "EMAIL_ADDRESS", "jane.doe%40example.com"),
    ("percent_at_and_dot", "mail jane%40example%2Ecom now", "EMAIL_ADDRESS", "jane%40example%2Ecom"),
    ("entity_decimal_at", "mail jane&#64;example.com now", "EMAIL_ADDRESS", "jane&#64;example.com"),
    ("entity_hex_at", "mail jane&#x40;example.com now", "EMAIL_ADDRESS", "jane&#x40;example.com"),
    ("entity_named_at", "mail jane&commat;example&period;com now", "EMAIL_ADDRESS",
     "jane&commat;example&period;com"),
    ("entity_first_char", "mail &#106;ane@example.com now", "EMAIL_ADDRESS", "&#106;ane@example.com"),
    ("entity_cyrillic", "mail j&#1072;ne@example.com now", "EMAIL_ADDRESS", "j&#1072;ne@example.com"),
    ("bracket_at_after_at_word", "You can reach me at stanley.smith [at] hotmail [dot] com.", "EMAIL_ADDRESS",
     "stanley.smith [at] hotmail [dot] com"),
    ("spelled_at_after_at_word", "You can reach me at eloise.sons at example dot org.", "EMAIL_ADDRESS",
     "eloise.sons at example dot org"),
    ("paren_at", "or j.doe(at)example(dot)com please", "EMAIL_ADDRESS", "j.doe(at)example(dot)com"),
    ("after_fullwidth_colon", "\u554f\u3044\u5408\u308f\u305b\uff1ajane@example.com\u3002", "EMAIL_ADDRESS",
     "jane@example.com"),
    ("mailto", "write to mailto:jane@example.com", "EMAIL_ADDRESS", "jane@example.com"),
    ("math_bold_card", f"card {math_bold_digits('4111 1111 1111 1111')} exp", "CREDIT_CARD",
     math_bold_digits("4111 1111 1111 1111")),
    ("math_mono_card", f"card {math_digits('4111111111111111')} exp", "CREDIT_CARD",
     math_digits("4111111111111111")),
    ("arabic_indic_card", "card \u0664\u0661\u0661\u0661" + "\u0661" * 12 + " ok", "CREDIT_CARD",
     "\u0664\u0661\u0661\u0661" + "\u0661" * 12),
    ("slash_card", "card 4111/1111/1111/1111 exp", "CREDIT_CARD", "4111/1111/1111/1111"),
    ("underscore_card", "pay with 5555_5555_5555_4444 ok", "CREDIT_CARD", "5555_5555_5555_4444"),
    ("newline_card", "my card is 4111 1111\n1111 1111 thanks", "CREDIT_CARD", "4111 1111\n1111 1111"),
    ("crlf_wrapped_card", "number:\r\n41111111\r\n11111111\r\nthanks", "CREDIT_CARD", "41111111\r\n11111111"),
    ("nbsp_entity_card", "card 4111&nbsp;1111&nbsp;1111&nbsp;1111 exp", "CREDIT_CARD",
     "4111&nbsp;1111&nbsp;1111&nbsp;1111"),
    ("zero_width_card", "card 4111\u200b1111\u200b1111\u200b1111 exp", "CREDIT_CARD",
     "4111\u200b1111\u200b1111\u200b1111"),
    ("fullwidth_ssn", "my ssn is \uff15\uff13\uff16-\uff12\uff12-\uff15\uff14\uff17\uff11", "US_SSN",
     "\uff15\uff13\uff16-\uff12\uff12-\uff15\uff14\uff17\uff11"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "entity_type", "value"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_obfuscated_value_is_found_with_the_callers_exact_span(
    text: str, entity_type: str, value: str
) -> None:
    # Given a text hiding one value  When it is scanned
    hits = [(f.entity_type, f.start, f.end) for f in detect(text)]
    # Then the finding covers exactly the caller's characters of that value
    start = text.index(value)
    assert (entity_type, start, start + len(value)) in hits


@pytest.mark.parametrize(("text", "entity_type", "value"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_obfuscated_value_is_cut_from_the_original_text(text: str, entity_type: str, value: str) -> None:
    # Given a text hiding one value  When it is redacted with the built-in policy
    result = redact(text, default_policy(), RedactionContext(tenant_id="t1"))
    # Then exactly the value's characters are replaced and the text around it is untouched
    start = text.index(value)
    before, after = text[:start], text[start + len(value) :]
    assert result.text.startswith(before) and result.text.endswith(after)
    middle = result.text[len(before) : len(result.text) - len(after)]
    assert middle == f"<{entity_type}_1>"


@pytest.mark.parametrize(
    "text",
    [
        "Prices: 12/24 items at $19.99/$24.99, ratio 4111/1111 kept.",
        "Meeting on 2024/01/15 and 15/01/2024, filed under 1234_5678_9012.",
        "Search https://example.org/a%20b%2Fc?q=caf%C3%A9&x=100%25 for docs",
        "<p>Tom &amp; Jerry &lt;3 &copy; 2024 &nbsp;&mdash; fine&hellip;</p>",
        "Москва — столица России. Привет, как дела? Это тест.",
        "Κάτι στα ελληνικά: ο κόσμος είναι ωραίος.",  # noqa: RUF001
        "Years:\n2019\n2020\n2021\n2022\nand codes\n5123\n4567\n8901\n2345",
        "Formula x\u00b2 + y\u00b2 = r\u00b2, about \u00bd of the \ufb01le.",
        "50% off, 100%OK, 25%-30% discount, A&B and AT&T&co",
    ],
)
def test_benign_texts_get_no_new_findings(text: str) -> None:
    # Given benign text with slashes, dates, URL escapes, HTML entities and non-Latin scripts
    # When scanned  Then nothing of the structured types is reported (the URL is its own finding)
    types = {f.entity_type for f in detect(text)}
    assert types <= {"URL", "DATE_TIME", "LOCATION", "PERSON"}
    assert "CREDIT_CARD" not in types and "EMAIL_ADDRESS" not in types and "PHONE_NUMBER" not in types


def test_url_with_percent_escapes_keeps_its_whole_span() -> None:
    text = "see https://example.org/a%20b%40c/d%2Fe now"
    (hit,) = [f for f in detect(text) if f.entity_type == "URL"]
    assert text[hit.start : hit.end] == "https://example.org/a%20b%40c/d%2Fe"


@pytest.mark.parametrize("text", ["Привет, это Москва.", "Ba\u011fc\u0131lar, \u0130stanbul", "Ελλάδα 2024"])
def test_real_words_in_other_scripts_are_not_rewritten(text: str) -> None:
    # Look-alikes fold only inside tokens that mix in ASCII letters, digits or '@': real words
    # reach the detectors (and the deep-path model) as written.
    assert normalize(text).text == text


def test_ascii_text_takes_the_copy_free_path() -> None:
    # Given plain ASCII text, also with '%' and '&' that decode to nothing of interest
    for text in ("plain ascii mail jane@example.com", "Tom &amp; Jerry at 50% off, %20 and &lt;"):
        view = normalize(text)
        # Then the view is the caller's string itself, with no offset map
        assert view.text is text
        assert view.is_identity
        assert view.to_original(3, 7) == (3, 7)


def test_offset_map_covers_whole_encoded_sequences() -> None:
    text = "a&#64;b %40 c\u200bd \uff41"
    view = normalize(text)
    assert view.text == "a@b @ cd a"
    # '@' from '&#64;' maps to all five characters; '@' from '%40' to all three
    assert view.to_original(1, 2) == (1, 6)
    assert view.to_original(4, 5) == (8, 11)
    # a span over 'cd' keeps the zero-width space inside it; one starting at 'd' skips it
    assert view.to_original(6, 8) == (12, 15)
    assert view.to_original(7, 8) == (14, 15)
    assert view.to_original(9, 10) == (16, 17)


def test_cards_on_consecutive_lines_are_two_findings() -> None:
    text = "cards:\n4111 1111 1111 1111\n5555 5555 5555 4444\nexp 12/25"
    values = [text[f.start : f.end] for f in detect(text) if f.entity_type == "CREDIT_CARD"]
    assert values == ["4111 1111 1111 1111", "5555 5555 5555 4444"]


def test_card_inside_a_long_run_of_digit_groups_is_found() -> None:
    # Given a valid card hidden after many 4-digit groups joined by '/'
    text = "ids " + "1234/" * 50 + "4111/1111/1111/1111 end"
    values = [text[f.start : f.end] for f in detect(text) if f.entity_type == "CREDIT_CARD"]
    assert values == ["4111/1111/1111/1111"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ids 4111/1111/11/111111 ok", False),  # '/' outside a card layout, no cue
        ("card 4111/1111/11/111111 ok", True),  # the same with a card cue
        ("totals:\n5555\n5555\n5555\n4444\n", False),  # a column of numbers
        ("card:\n5555\n5555\n5555\n4444\n", True),  # the same column after a card cue
    ],
)
def test_unusual_separators_need_a_card_layout_or_a_cue(text: str, found: bool) -> None:
    assert any(f.entity_type == "CREDIT_CARD" for f in detect(text)) is found


class _FakeNer:
    """A deep-path detector that finds 'John Smith' in the normalised view, as the model would."""

    name = "fake_ner"
    entity_types = NER_TYPES

    def detect(self, view: TextView) -> list[Finding]:
        i = view.text.find("John Smith")
        if i < 0:
            return []
        start, end = view.to_original(i, i + len("John Smith"))
        return [Finding("PERSON", start, end, 0.9, self.name)]


def test_deep_path_sees_the_folded_name_and_cuts_the_callers_characters() -> None:
    # Given a name written with a Cyrillic 'o' after an entity-encoded e-mail (the view is shorter)
    text = "mail j&#64;example.com from J\u043ehn Smith"
    # When the deep path runs
    findings = DetectionEngine().detect(text, deep=_FakeNer(), path=DetectionPath.DEEP)
    # Then the model saw 'John Smith' and the finding covers the caller's characters
    spans = {(f.entity_type, text[f.start : f.end]) for f in findings}
    assert ("PERSON", "J\u043ehn Smith") in spans
    assert ("EMAIL_ADDRESS", "j&#64;example.com") in spans
