"""PHONE_NUMBER: candidate spans found by one RE2 pass, validated by ``phonenumbers``.

``phonenumbers`` (Google's libphonenumber metadata, the library Presidio uses) knows every
region's numbering plan: which lengths and prefixes are numbers, and which are valid. Scanning
the text with its own ``PhoneNumberMatcher`` costs milliseconds per kilobyte, so candidates come
from one permissive pattern (digit runs joined by spaces, dots, dashes, slashes and parentheses,
a leading ``+``/``00``, an extension such as ``x1234`` or ``ext. 12``) and only those are parsed.

How a candidate is scored (the policy's per-type threshold, 0.5 by default, decides):

* ``+CC``/``00CC`` and valid: 0.9. A national form with its trunk ``0`` (``020 7946 0958``,
  ``(0131) 496 0999``), a North American ``(212) 555-0187``/``212-555-0187``, or any number with
  an extension, valid in one of :data:`TRUNK_REGIONS`/:data:`PLAIN_REGIONS`: 0.85 (0.6 with
  8-9 digits, so an 'order' word takes it under the threshold).
* Grouped, 10+ digits, valid without a trunk prefix (``98765 43210`` in India, ``333 1234567``
  in Italy): 0.7. With 8-9 digits (``912 345 678`` in Portugal, ``32 14 56 78`` in Denmark) the
  shape alone is a tally as often as a phone, so it needs a phone word; a word of sport or
  statistics before it (``scores``, ``attendance``, ``votes``) lowers it further.
* Only *possible* (the right length, not an allocated range: fictional ``555`` numbers) with a
  phone's shape: 0.6; without it 0.3.
* Neither valid nor possible in any plan tried, but phone-shaped (grouped, and with a ``+``, a
  trunk ``0``, brackets or an extension) next to a phone word: 0.55; else not a phone.
* A 7-9 digit local form or a bare run of digits (an order number has the same shape): 0.3-0.45
  (0.5 for a bare run with a trunk ``0``, ``07911123456``), flagged only with a context word
  (``call``, ``tel``, ``mobile``...) nearby, which adds 0.4.
  Words such as ``order``, ``invoice`` or ``ISBN`` take 0.3 off when no phone word is near.

A number glued to the token before it is the tail of that token (a version, an id, an IBAN),
unless that token is a phone label: ``Tel.0171 ...``, ``Mob.+44 ...``, ``Fax/020 ...``.

Dates (``2021-04-05``, ``05.03.2021``), IPv4 addresses, year ranges (``1999-2003``) and SSN
layouts are numbers too in some plan, so their shapes are left to the other detectors.

``phonenumbers`` takes ~65-90 ms to import (``python -X importtime -c "import phonenumbers"``;
the 14 regions' metadata then loads in ~10 ms), so it is imported on the first candidate or by
``steward.privacy.warm()``, never with the module.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from steward.privacy._regex import Pattern
from steward.privacy.detectors.context import Cues

if TYPE_CHECKING:
    from types import ModuleType

    from phonenumbers import PhoneNumber

#: Regions tried for a national number written with its trunk prefix ``0``: the most populous
#: numbering plans that use one, English-speaking first (GB, AU, IN), then the EU's largest
#: economies, Brazil, Japan, China and Israel, then the rest of Europe's trunk-0 plans and the
#: world's other populous ones (Hungary's trunk is ``06``). Order matters only for speed (first
#: valid wins); a national form is checked without parsing, so each region costs microseconds.
TRUNK_REGIONS: tuple[str, ...] = (
    "GB", "DE", "FR", "IT", "NL", "AU", "IN", "BR", "JP", "CN", "IL", "ES",
    "SE", "FI", "AT", "CH", "BE", "IE", "UA", "TR", "RO", "HR", "BG", "SI", "SK", "HU", "LT",
    "RS", "BA", "MK", "AL", "ME", "MD", "GE", "AM", "AZ",
    "NZ", "ZA", "KR", "TW", "PH", "TH", "VN", "ID", "MY", "PK", "BD", "LK", "NP", "IR", "IQ",
    "SA", "AE", "EG", "MA", "DZ", "NG", "GH", "KE", "TZ", "UG", "ET",
    "AR", "CO", "PE", "VE", "EC", "UY",
)  # fmt: skip
#: Regions whose numbers are written without a trunk prefix ``0``: North America (NANP, so US
#: covers Canada and the Caribbean), India's and China's mobiles, Spain, Italy, Mexico, Brazil
#: (area code in parentheses), Europe's plans without one (Denmark, Norway, Portugal, Poland,
#: Czechia, Greece, the Baltics, Luxembourg, Cyprus, Malta, Iceland), Chile, Tunisia and West
#: Africa's closed plans, and the plans whose trunk is ``8`` (Russia, Kazakhstan, Belarus: the
#: region's own prefix is taken off before the check). A plan that writes numbers this way is
#: where a bare group is a number.
PLAIN_REGIONS: tuple[str, ...] = (
    "US", "IN", "CN", "ES", "IT", "MX", "BR",
    "DK", "NO", "PT", "PL", "CZ", "GR", "EE", "LV", "LU", "CY", "MT", "IS",
    "CL", "TN", "SN", "CI", "CM", "UZ", "RU", "KZ", "BY",
)  # fmt: skip

# Digits joined by up to three separators ('+44 (0) 20', '020 / 7946'), at most 20 digits (E.164
# allows 15, plus an extension), then an optional extension.
_EXT = r"(?:[ ,]{0,2}(?:[xX]|[eE][xX][tT]\.?|[eE]xtension|#)[ .:]{0,2}\d{1,6})?"
_CANDIDATE = r"(?:\(?\+[ ]?|\+?\()?\d(?:[ .\-/()]{0,3}\d){6,19}" + _EXT
_SEPARATORS = b" .-/()"
_NON_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)
_EXT_RE = re.compile(rb"(?:[xX]|[eE][xX][tT]\.?|[eE]xtension|#)[ .:]{0,2}(\d{1,6})$")
# Shapes owned by other detectors (linear: anchored, bounded repetitions).
_DATE_SHAPE = re.compile(
    rb"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./](?:\d{4}|\d{2})|\d{8}(?=$)"
)
_IPV4_SHAPE = re.compile(rb"\d{1,3}(?:\.\d{1,3}){3}")
_SSN_SHAPE = re.compile(rb"\d{3}-\d{2}-\d{4}")
_YEAR_RANGE = re.compile(rb"(1[6-9]\d\d|20\d\d) ?[\-/] ?(1[6-9]\d\d|20\d\d)")
_NANP_SHAPE = re.compile(rb"(?:\+?1[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}")
_AFTER_RUN = re.compile(rb"(?:[ .\-/()]{0,3}\d)+")  # single pass over what follows a capped match

#: The score of a phone-shaped number next to a phone word that no numbering plan tried holds.
UNPLANNED_CUED = 0.55
PHONE_CUES = Cues(
    "phone*, tel*, mobile*, mob, cell*, call*, fax*, contact*, my number, your number, his number,"
    " her number, reach, whatsapp*, text me, sms, ring, dial*, landline, ph, hotline, helpline,"
    " switchboard, direct line, extension, móvil, movil, celular, cellulare, handy, portable, natel,"
    " tlf, tél*, mobil, kontakt*, gsm, puhelin*, fono",
    before=48,
    after=16,
)
NOT_PHONE_CUES = Cues(
    "order*, invoice*, account*, acct, ref, reference, isbn, issn, tracking, serial, sku, ticket*,"
    " case, id, transaction*, receipt*, policy, patent, batch, lot, part, model, version,"
    # Numbers in sport, tallies and statistics: '21 14 35 28' after 'scores' is no phone.
    " score*, beat, won, lost, defeat*, points, pts, goals, quarter*, innings, runs, wickets,"
    " sets, round, result*, attendance, population, total*, votes",
    before=32,
)


@lru_cache(maxsize=1)
def _phonenumbers() -> ModuleType:
    import phonenumbers

    return phonenumbers


def warm() -> None:
    """Import ``phonenumbers`` and load the default regions' metadata now (cold start)."""
    pn = _phonenumbers()
    for region in dict.fromkeys(TRUNK_REGIONS + PLAIN_REGIONS):
        pn.PhoneMetadata.metadata_for_region(region)


@lru_cache(maxsize=64)
def _lengths(region: str) -> frozenset[int]:
    """National number lengths the region's plan allows (local-only forms included)."""
    desc = _phonenumbers().PhoneMetadata.metadata_for_region(region).general_desc
    return frozenset(desc.possible_length or ()) | frozenset(desc.possible_length_local_only or ())


class PhoneFinder:
    """Finds and scores phone numbers in a normalised view's bytes."""

    def __init__(self) -> None:
        self._candidate = Pattern(_CANDIDATE)

    def spans(self, data: bytes) -> list[tuple[int, int, float]]:
        """``(start, end, score)`` of each candidate that ``phonenumbers`` accepts."""
        out: list[tuple[int, int, float]] = []
        pos = 0
        while (hit := self._candidate.search(data, pos)) is not None:
            s, e = hit[0]
            pos = e
            glued = s > 0 and (data[s - 1] in b"-./_+" or chr(data[s - 1]).isalnum())
            if glued and not _after_phone_label(data, s):
                pos = _skip_run(data, e)
                continue  # the tail of a longer token (a version, an id, an IBAN)
            run_end = _skip_run(data, e)
            if run_end > e:  # more than 20 digits: a blob of numbers, not one phone
                pos = run_end
                continue
            if e < len(data) and chr(data[e]).isalpha():
                continue
            if data[s] == 0x28 and data.count(b"(", s, e) > data.count(b")", s, e):
                s += 1  # '(020 7946 0958)': the bracket around the number is not part of it
            score = score_candidate(data, s, e)
            if score > 0:
                out.append((s, e, score))
            elif (left := _first_of_two(data, s, e)) is not None:
                out.append(left)
                pos = left[1] + 1  # the rest is searched as a candidate of its own
        return out


_MAX_SPLITS = 3
# Labels written against the number in signatures and forms: 'Tel.0171 ...', 'Mob.+44 ...',
# 'Fax/020 ...', 'T+44 ...'.
_PHONE_LABELS = frozenset(
    w.encode()
    for w in "t m f p ph tel tél tlf tfn telf phone mob mobile mobil cell fax fon".split()  # noqa: SIM905
)
_LABEL_BEFORE = re.compile(rb"(?:^|[^A-Za-z\x80-\xff])([A-Za-z\x80-\xff]{1,6})[./:]?$")


def _after_phone_label(data: bytes, s: int) -> bool:
    """The number is glued to a phone label ('Tel.', 'Mob.', 'Fax/', 'T'), not to a longer token."""
    m = _LABEL_BEFORE.search(data, max(0, s - 8), s)
    return m is not None and m[1].lower() in _PHONE_LABELS


def _first_of_two(data: bytes, s: int, e: int) -> tuple[int, int, float] | None:
    """Two numbers written one after the other ('555-123-4567 555-987-6543') form one run: try a
    few space gaps (bounded, so a long run costs a fixed number of validations) for a first number."""
    tries = 0
    gap = data.find(b" ", s, e)
    while gap != -1 and tries < _MAX_SPLITS:
        left = data[s:gap].translate(None, _NON_DIGITS)
        right = data[gap:e].translate(None, _NON_DIGITS)
        if len(left) > 15 or len(right) < 7:
            return None
        if len(left) >= 10:
            tries += 1
            score = score_candidate(data, s, gap)
            if score >= 0.5:
                return (s, gap, score)
        gap = data.find(b" ", gap + 1, e)
    return None


def _skip_run(data: bytes, e: int) -> int:
    m = _AFTER_RUN.match(data, e)
    return m.end() if m else e


def score_candidate(data: bytes, s: int, e: int) -> float:
    """The score of one candidate span (0.0: not a phone number)."""
    raw = data[s:e]
    ext_match = _EXT_RE.search(raw)
    core = raw[: ext_match.start()].rstrip(b" ,") if ext_match else raw
    digits = core.translate(None, _NON_DIGITS)
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 2:
        return 0.0
    stripped = core.lstrip(b"(+ ")
    if _DATE_SHAPE.fullmatch(stripped) or _IPV4_SHAPE.fullmatch(stripped) or _SSN_SHAPE.fullmatch(core):
        return 0.0
    if (yr := _YEAR_RANGE.fullmatch(stripped)) and int(yr[1]) <= int(yr[2]):
        return 0.0
    international = core.lstrip(b"( ").startswith(b"+") or (
        digits.startswith(b"00") and len(digits) >= 10 and core.startswith(b"00")
    )
    text = raw.decode("ascii")
    if international and not text.lstrip("( ").startswith("+"):
        text = "+" + text.lstrip("( ")[2:]  # 00 is the international prefix almost everywhere
    grouped = any(ch in _SEPARATORS for ch in core.strip(b"()+ "))
    trunk = digits.startswith(b"0") and not international
    nanp = bool(_NANP_SHAPE.fullmatch(core))
    shaped = international or trunk or nanp or ext_match is not None or b"(" in core
    valid = _validate(text, digits, international, trunk)
    if valid is None:
        # No plan tried holds it (mistyped, made up, or a plan not tried), but a number written
        # as a phone and called one is one: 'call (087) 123-4567'.
        return UNPLANNED_CUED if shaped and grouped and PHONE_CUES.near(data, s, e) else 0.0
    n = len(digits)
    if valid:
        if international:
            base = 0.9
        elif grouped and (trunk or nanp or ext_match is not None or b"(" in core):
            base = 0.85 if n >= 10 else (0.6 if n >= 8 else 0.3)  # short ones: local forms
        elif grouped and n >= 10:
            base = 0.7
        elif n >= 10:
            # A bare run of digits: an account or order number looks the same; one that starts
            # with a trunk 0 is more often a phone ('07911123456') than an order number.
            base = 0.5 if trunk else 0.45
        else:
            base = 0.3  # a 7-9 digit local form
    else:
        base = 0.6 if shaped and grouped and n >= 10 else 0.3
    if PHONE_CUES.near(data, s, e):
        return round(min(0.95, base + 0.4), 2)
    if NOT_PHONE_CUES.near(data, s, e):
        return round(max(0.05, base - 0.3), 2)
    return base


def _validate(text: str, digits: bytes, international: bool, trunk: bool) -> bool | None:
    """True: a valid number; False: only a possible one (its length fits a plan); None: neither.

    A ``+`` number is parsed once. A national one is checked region by region without parsing:
    its national significant number is the digits less the region's trunk prefix (parsing it
    again per region costs ~4x more: the same normalisation every time).
    """
    pn = _phonenumbers()
    if international:
        try:
            number = pn.parse(text, None)
        except pn.NumberParseException:
            return None
        if pn.is_valid_number(number):
            return True
        return False if pn.is_possible_number(number) else None
    national = digits.decode("ascii")
    possible = False
    for region in TRUNK_REGIONS if trunk else PLAIN_REGIONS:
        number = _national_number(pn, region, national)
        if number is None:
            continue
        if pn.is_valid_number_for_region(number, region):
            return True
        possible = True
    return False if possible else None


def _national_number(pn: ModuleType, region: str, national: str) -> PhoneNumber | None:
    """``national`` as a number of ``region`` when its length fits the plan, else None."""
    prefix = _trunk_prefix(region)
    nsn = national
    if prefix and national.startswith(prefix):
        nsn = national[len(prefix) :]
    if len(nsn) not in _lengths(region) or (nsn.startswith("0") and prefix):
        return None
    zeros = len(nsn) - len(nsn.lstrip("0"))  # Italy keeps its leading 0 in the number
    number: PhoneNumber = pn.PhoneNumber(
        country_code=_country_code(region),
        national_number=int(nsn),
        italian_leading_zero=zeros > 0 or None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )
    return number


@lru_cache(maxsize=64)
def _trunk_prefix(region: str) -> str:
    return str(_phonenumbers().PhoneMetadata.metadata_for_region(region).national_prefix or "")


@lru_cache(maxsize=64)
def _country_code(region: str) -> int:
    return int(_phonenumbers().country_code_for_region(region))
