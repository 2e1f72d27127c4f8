"""Format families of the fast path: national phone formats, card brands, dates, and the context
words that raise or lower a shape's score. True and false positives for each."""

from __future__ import annotations

import subprocess
import sys

import pytest
from steward.privacy import (
    Direction,
    RedactionContext,
    default_policy,
    detect,
    parse_policy,
    redact,
)
from steward.privacy.policy import layered
from steward.privacy.validators import card_brand


def found(text: str, entity_type: str) -> list[str]:
    return [text[f.start : f.end] for f in detect(text) if f.entity_type == entity_type]


def score_of(text: str, entity_type: str) -> float:
    """The best score of ``entity_type`` in ``text`` at threshold 0 (0.0 when none)."""
    return max((f.score for f in detect(text, threshold=0.0) if f.entity_type == entity_type), default=0.0)


def luhn_complete(prefix: str, length: int) -> str:
    """A number of ``length`` digits starting with ``prefix`` whose last digit makes Luhn hold
    (written here independently of the detector's own check)."""
    body = prefix.ljust(length - 1, "7")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


# --- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Call me on 020 7946 0958 tonight.", "020 7946 0958"),  # UK London
        ("Ring (0131) 496 0999 for the office.", "(0131) 496 0999"),  # UK, area code in brackets
        ("Mobil: 0171 1234567", "0171 1234567"),  # DE mobile
        ("Büro 030 12345678, bis 18 Uhr", "030 12345678"),  # DE Berlin
        ("Appelez le 01 23 45 67 89 demain", "01 23 45 67 89"),  # FR
        ("Tel. 06 1234 5678 (Roma)", "06 1234 5678"),  # IT landline keeps its 0
        ("cell 333 1234567", "333 1234567"),  # IT mobile, no trunk prefix
        ("Móvil 612 345 678", "612 345 678"),  # ES, 9 digits: needs the cue
        ("bel 020-123 4567 gerust", "020-123 4567"),  # NL
        ("mobile 0412 345 678", "0412 345 678"),  # AU
        ("WhatsApp 98765 43210", "98765 43210"),  # IN mobile
        ("電話 090-1234-5678", "090-1234-5678"),  # JP
        ("tel (11) 91234-5678", "(11) 91234-5678"),  # BR São Paulo mobile
        ("phone 138 1234 5678", "138 1234 5678"),  # CN mobile
        ("call (212) 555-0187 now", "(212) 555-0187"),  # NANP
        ("fax 212.555.0187", "212.555.0187"),  # NANP with dots
        ("toll free 1-800-555-0199", "1-800-555-0199"),
        ("Call +1 (415) 555-2671 ext 55 today", "+1 (415) 555-2671 ext 55"),  # extension
        ("desk 212-555-0187 x1234", "212-555-0187 x1234"),
        ("office 020 7946 0958 ext. 12", "020 7946 0958 ext. 12"),
        ("intl +33 (0)1 23 45 67 89", "+33 (0)1 23 45 67 89"),
        ("from abroad 0049 30 1234567", "0049 30 1234567"),  # 00 = international prefix
        ("US from Europe 001-212-555-0187", "001-212-555-0187"),
        ("+91 98765 43210", "+91 98765 43210"),  # no cue needed with a country code
        ("(+44) 20 7946 0958", "(+44) 20 7946 0958"),
        ("Call +(370) 612 34567", "+(370) 612 34567"),  # the country code in brackets after the +
        ("see (020 7946 0958) below", "020 7946 0958"),  # the brackets around it are not part of it
        ("07911123456", "07911123456"),  # a bare run with a trunk 0
        ("Tlf. 32 14 56 78", "32 14 56 78"),  # DK/NO: the Nordic phone abbreviation is a cue
        ("Telemóvel 912 345 678", "912 345 678"),  # PT mobile
        ("Kontakt: 601 123 456", "601 123 456"),  # CZ/PL, 'kontakt' is a cue
        ("tél. 06 12 34 56 78", "06 12 34 56 78"),
        ("nummer 070-123 45 67", "070-123 45 67"),  # SE mobile with its trunk 0
        ("Büro Wien 01 5123456", "01 5123456"),  # AT Vienna
        ("Budapest office 06 1 234 5678", "06 1 234 5678"),  # HU, trunk 06
        ("Moscow office 8 (495) 123-45-67", "8 (495) 123-45-67"),  # RU, trunk 8
        ("Taipei office 02 2345 6789", "02 2345 6789"),  # TW
        ("Tel.0171 1234567", "0171 1234567"),  # a label glued to the number
        ("Mob.+44 7700 900123", "+44 7700 900123"),
        ("Fax/020 7946 0958", "020 7946 0958"),
        ("T+44 20 7946 0958", "+44 20 7946 0958"),
    ],
)
def test_phone_numbers_in_national_and_international_formats(text: str, value: str) -> None:
    assert value in found(text, "PHONE_NUMBER")


def test_a_number_no_plan_holds_is_a_phone_only_when_written_and_called_as_one() -> None:
    # Given numbers that no numbering plan holds (no country +999; a national form too short)
    # Then a phone word next to a phone's shape flags them; the shape alone does not
    assert found("Call +999 1234 5678 today", "PHONE_NUMBER") == ["+999 1234 5678"]
    assert found("see +999 1234 5678 today", "PHONE_NUMBER") == []
    assert found("call 1234 5678 9012 3456 78", "PHONE_NUMBER") == []  # no phone's shape


def test_two_numbers_written_back_to_back_are_two_findings() -> None:
    text = "lines 212-555-0187 415-555-2671"
    assert found(text, "PHONE_NUMBER") == ["212-555-0187", "415-555-2671"]


@pytest.mark.parametrize(
    "text",
    [
        "Arsenal beat Chelsea 3-1 and drew 2-2 at home.",  # sport scores
        "The war lasted 1939-1945 in Europe.",  # a year range
        "Released 2021-04-05, patched 05.03.2021.",  # dates
        "host 192.168.100.200 is down",  # an IPv4 address
        "Employee id 000-81-3689 appears in the ledger",  # SSN shape (an invalid one)
        "Reference number 4775 2952 0199 1434 is not a card",
        "order 98765 43210 shipped",  # a lowering word
        "tracking 5551234567 arrived",  # bare digits with a lowering word
        "invoice 07911123456 paid",
        "The total was 5551234567 units",  # bare digits, no cue
        "It has 555-1234 rows",  # a 7-digit local form without a cue
        "version 1.2.3.4567 released",
        "card 4111 1111 1111 1111 exp",  # a card is not a phone
        "Scores were 21 14 35 28 in the four quarters.",  # a tally after a sport word
        "O escritório no Porto, 912 345 678.",  # 9 digits in groups, no phone word: not flagged
        "Hotel.0171 1234567 and ID.0171 1234567",  # glued to a word that is no phone label
        "ABC-020 7946 0958",
        "Attendance 45 123, the total 912 345 678 votes",
        "Population 12 345 678 in 2001.",
    ],
)
def test_numbers_that_are_not_phone_numbers(text: str) -> None:
    assert found(text, "PHONE_NUMBER") == []


def test_a_phone_word_raises_and_an_order_word_lowers_the_score() -> None:
    plain, cued, lowered = (
        score_of(t, "PHONE_NUMBER") for t in ("x 555-1234", "call 555-1234", "order 555-1234")
    )
    assert cued >= 0.5 > plain > lowered > 0
    assert score_of("call 98765 43210", "PHONE_NUMBER") > score_of("see 98765 43210", "PHONE_NUMBER")
    assert score_of("order 98765 43210", "PHONE_NUMBER") < 0.5 <= score_of("see 98765 43210", "PHONE_NUMBER")


def test_context_words_are_whole_words() -> None:
    # 'tel' inside 'hotel' and 'ring' inside 'during' are no phone cue
    assert found("hotel 555-1234", "PHONE_NUMBER") == []
    assert found("during 555-1234", "PHONE_NUMBER") == []
    assert found("tel: 555-1234", "PHONE_NUMBER") == ["555-1234"]


def test_phonenumbers_is_imported_on_first_use_only() -> None:
    code = (
        "import sys\nfrom steward.privacy import detect\n"
        "detect('no digits here at all')\nassert 'phonenumbers' not in sys.modules\n"
        "detect('call 020 7946 0958')\nassert 'phonenumbers' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- payment cards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),  # 13 digits
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),  # 2-series
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        (luhn_complete("2131", 15), "jcb"),  # JCB's older 15-digit range
        ("30569309025904", "diners"),  # 14 digits
        (luhn_complete("36", 14), "diners"),
        ("6200000000000005", "unionpay"),
        (luhn_complete("8171", 19), "unionpay"),
        ("6759649826438453", "maestro"),
        (luhn_complete("6759", 12), "maestro"),  # 12 digits: Maestro only
        (luhn_complete("5018", 19), "maestro"),
    ],
)
def test_card_brands_by_iin_and_length(number: str, brand: str) -> None:
    assert card_brand(number) == brand
    groups = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    assert found(f"paid with card {groups} today", "CREDIT_CARD") == [groups]
    # The same number with a wrong check digit is no card
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    bad_groups = " ".join(wrong[i : i + 4] for i in range(0, len(wrong), 4))
    assert found(f"paid with card {bad_groups} today", "CREDIT_CARD") == []


@pytest.mark.parametrize(
    "number",
    [
        luhn_complete("4", 15),  # Visa has no 15-digit numbers
        luhn_complete("51", 15),  # Mastercard is 16 digits
        luhn_complete("34", 16),  # Amex is 15
        luhn_complete("4111", 12),  # 12 digits: only Maestro
        luhn_complete("7", 16),  # no network issues from 7
    ],
)
def test_luhn_valid_numbers_outside_every_brand_are_not_cards(number: str) -> None:
    assert card_brand(number) is None
    assert found(f"card {number} ok", "CREDIT_CARD") == []


def test_twelve_digit_maestro_needs_its_own_iin_or_a_card_word() -> None:
    other_maestro = luhn_complete("58", 12)  # Maestro's wide range: needs a card word
    assert found(f"ref {other_maestro} ok", "CREDIT_CARD") == []
    assert found(f"maestro card {other_maestro} ok", "CREDIT_CARD") == [other_maestro]
    # and never as part of a longer run of digit groups
    assert found("ref 1234 5678 9012 3456 is fine", "CREDIT_CARD") == []


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Signed on March 3rd, 2021 in Lisbon.", "March 3rd, 2021"),
        ("Due Tuesday, March 5, 2023 at 10:30.", "Tuesday, March 5, 2023 at 10:30"),
        ("the 3rd of March, 2021", "3rd of March, 2021"),
        ("on 3-5 March 2021", "3-5 March 2021"),
        ("on March 3-5, 2021", "March 3-5, 2021"),
        ("She worked there 1999-2003.", "1999-2003"),
        ("She worked there 1999\u20132003.", "1999\u20132003"),  # en dash
        ("between 1999 and 2003", "1999 and 2003"),
        ("Revenue for Jan-Mar 2020 fell.", "Jan-Mar 2020"),
        ("I saw him last Tuesday.", "last Tuesday"),
        ("It arrived 3 days ago.", "3 days ago"),
        ("two weeks ago", "two weeks ago"),
        ("He called yesterday.", "yesterday"),
        ("See you on Monday.", "Monday"),
        ("It opens in January.", "January"),
        ("He was born in 1984.", "1984"),
        ("DOB: 1984", "1984"),
        ("During 1971 the court ruled.", "1971"),
        ("in the 1990s", "1990s"),
        ("filed 03-Mar-2021", "03-Mar-2021"),
        ("filed 2021/04/05", "2021/04/05"),
        ("DOB 12/05/90", "12/05/90"),
        ("since May", "May"),
    ],
)
def test_dates_in_written_numeric_range_and_relative_forms(text: str, value: str) -> None:
    assert value in found(text, "DATE_TIME")


@pytest.mark.parametrize(
    "text",
    [
        "Arsenal beat Chelsea 3-1 on the night.",  # a score
        "In 2000 patients at the clinic.",  # a count after a temporal word, not a year
        "It costs $1999 now.",
        "Room 1971 is on the left.",  # a number without a temporal word
        "Will the keynote cover the new chips in May?",  # 'May' alone, 'in' is not enough
        "You may march on in August heat",  # lower-case verbs; 'August' alone is ambiguous
        "version 2.2021.1",
        "Not a date: 31/04/2021",  # there is no 31 April
        "in 2003 and 1999",  # not a range (backwards): each year on its own, not one span
    ],
)
def test_numbers_and_words_that_are_not_dates(text: str) -> None:
    values = found(text, "DATE_TIME")
    if text.startswith("in 2003 and"):
        assert values == ["2003", "1999"]
    else:
        assert values == []


def test_a_year_in_prose_is_not_a_street_address() -> None:
    for text in ("During 1971 Park Chung-hee consolidated power.", "In 1971 Supreme Court justices met."):
        assert found(text, "STREET_ADDRESS") == []
    # German '-ring' streets still are
    assert found("Wohnt am Kaiserring 12, 68161 Mannheim.", "STREET_ADDRESS") == [
        "Kaiserring 12, 68161 Mannheim"
    ]


def test_a_date_word_raises_a_bare_year() -> None:
    assert (
        score_of("born 1984", "DATE_TIME")
        > score_of("in 1984", "DATE_TIME")
        > score_of("Room 1984", "DATE_TIME")
    )
    assert score_of("Room 1984", "DATE_TIME") < 0.5


# --- per-type thresholds from the tenant's policy ------------------------------------------------


def _redacted(text: str, document: dict[str, object]) -> str:
    policy = layered(parse_policy(document))
    return redact(text, policy, RedactionContext("t1", Direction.INPUT)).text


def test_a_tenant_tunes_one_types_threshold() -> None:
    text = "Room 555-1234 and later 98765 43210"
    # Default: the 7-digit local form (0.3) stays, the 10-digit Indian mobile (0.7) goes
    assert (
        redact(text, default_policy("t1"), RedactionContext("t1")).text
        == "Room 555-1234 and later <PHONE_NUMBER_1>"
    )
    # Lower PHONE_NUMBER's threshold: the local form goes too
    assert "555-1234" not in _redacted(text, {"entities": {"PHONE_NUMBER": {"threshold": 0.25}}})
    # Raise it: only numbers with a country code or a phone word remain findings
    assert _redacted(text, {"entities": {"PHONE_NUMBER": {"threshold": 0.9}}}) == text


@pytest.mark.parametrize("bad", [1.5, -0.1, "0.4", True, None])
def test_a_bad_per_type_threshold_is_refused(bad: object) -> None:
    from steward.privacy import PolicyError

    if bad is None:  # null is the 'use the policy threshold' default, so it is accepted
        assert parse_policy({"entities": {"DATE_TIME": {"threshold": bad}}}).threshold_for("DATE_TIME") == 0.5
        return
    with pytest.raises(PolicyError) as err:
        parse_policy({"entities": {"DATE_TIME": {"threshold": bad}}})
    assert err.value.status == 422 and "entities.DATE_TIME.threshold" in err.value.detail
