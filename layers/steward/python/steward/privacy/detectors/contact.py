"""EMAIL_ADDRESS (incl. ``name [at] domain [dot] com``), PHONE_NUMBER, URL."""

from __future__ import annotations

import re

from steward.privacy._regex import Alternation, Pattern
from steward.privacy.detectors.base import bounded, digits_of, finding, has_cue
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView

# Frequent generic TLDs; any two-letter label is accepted as a country-code TLD.
COMMON_TLDS = frozenset(
    """
    com org net edu gov mil int info biz name pro mobi app dev io ai co me tv cloud online site tech
    store shop blog xyz top club live email digital media agency global world solutions services
    company group network systems today news health bank law museum aero coop jobs travel
    """.split()  # noqa: SIM905
)
_SPELLED_DOT_TLDS = frozenset("com org net edu gov io co uk de fr us ca au info biz me".split())  # noqa: SIM905

_LOCAL = r"[a-z0-9][a-z0-9._%+\-]*"
_AT = (
    r"(?:[ \t]{0,3}@[ \t]{0,3}"
    r"|[ \t]{0,3}[\[\(\{<][ \t]{0,2}(?:at|@)[ \t]{0,2}[\]\)\}>][ \t]{0,3}"
    r"|[ \t]{1,3}at[ \t]{1,3})"
)
_DOT = (
    r"(?:\."
    r"|[ \t]{0,3}[\[\(\{<][ \t]{0,2}(?:dot|\.)[ \t]{0,2}[\]\)\}>][ \t]{0,3}"
    r"|[ \t]{1,3}dot[ \t]{1,3})"
)
_LABEL = r"[a-z0-9][a-z0-9\-]*"
# Group 1 is the separator (a rejected candidate's domain may be the next one's local part),
# group 2 the top-level domain.
_EMAIL_PLAIN = _LOCAL + r"([ \t]{0,3}@[ \t]{0,3})" + _LABEL + r"(?:\." + _LABEL + r"){0,4}\.([a-z]{2,24})"
_EMAIL_OBFUSCATED = (
    _LOCAL + "(" + _AT + ")" + _LABEL + "(?:" + _DOT + _LABEL + "){0,4}" + _DOT + r"([a-z]{2,24})"
)

# E.164 country calling codes (ITU-T), as strings, to validate '+CC ...' numbers.
_CC = frozenset(
    """
    1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64
    65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 228
    229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 248 249 250 251 252 253
    254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 350 351 352 353
    354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 380 381 382 383 385 386 387 389 420
    421 423 500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599 670 672
    673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 850 852 853 855 856
    880 886 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 993 994 995 996
    998
    """.split()  # noqa: SIM905
)
_SEP = r"[ .\-]"
_EXT = r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,5})?"
_INTL = r"(?:\+|\b00[ ]?)(\d{1,3})(?:[ .\-]?\(0\))?(?:[ .\-/]{0,2}\(?\d{1,5}\)?){2,7}" + _EXT
_NANP = (
    r"(?:\b(?:001|1)" + _SEP + r"?)?(?:\(\d{3}\)[ .\-]?|\b\d{3}" + _SEP + r")\d{3}" + _SEP + r"\d{4}\b" + _EXT
)
_NANP_PLAIN = r"\b\d{10}\b"
_NATIONAL = r"\b0\d{1,4}(?:[ .\-/]\d{2,8}){1,4}\b"
_PHONE_CUES = (
    b"phone",
    b"tel",
    b"call",
    b"mobile",
    b"cell",
    b"fax",
    b"contact",
    b"number",
    b"reach",
    b"whatsapp",
    b"text me",
    b"ring",
    b"ph.",
    b"ph:",
    b"landline",
    b"sms",
    b"dial",
)

_URL_SCHEME = r"(?:https?|ftp)://[^\s<>\"'`]+"
_URL_WWW = r"\bwww\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+(?:[/?#][^\s<>\"'`]*)?"
_URL_BARE = (
    r"\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*){0,3}"
    r"\.(?:com|org|net|edu|gov|io|ai|dev|app|info|biz|co\.uk|org\.uk|de|fr|nl|eu|us|ca|au)\b"
    r"(?:/[^\s<>\"'`]*)?"
)
_TRAIL = b".,;:!?'\")]}>"
_BARE_TLD_HINTS = (
    b".com",
    b".org",
    b".net",
    b".edu",
    b".gov",
    b".io",
    b".ai",
    b".dev",
    b".app",
    b".info",
    b".biz",
    b".uk",
    b".de",
    b".fr",
    b".nl",
    b".eu",
    b".us",
    b".ca",
    b".au",
)
_AFTER_AT = re.compile(rb"[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]|\sat\s|@")  # single alternation, no nesting
_OBFUSCATED_AT = (b"at]", b"at)", b"at}", b"at>", b"@]", b"@)")


def _trim_url(data: bytes, s: int, e: int) -> int:
    while e > s and data[e - 1] in _TRAIL:
        ch = data[e - 1]
        if ch == ord(")") and data[s:e].count(b"(") >= data[s:e].count(b")"):
            break
        e -= 1
    return e


class ContactDetector:
    name = "contact"
    entity_types = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "URL"})

    def __init__(self) -> None:
        self._email = Pattern(_EMAIL_PLAIN, ignore_case=True)
        self._email_obfuscated = Pattern(_EMAIL_OBFUSCATED, ignore_case=True)
        self._phone = Alternation([_INTL, _NANP, _NANP_PLAIN, _NATIONAL])
        self._url = Pattern("(?:" + "|".join((_URL_SCHEME, _URL_WWW, _URL_BARE)) + ")", ignore_case=True)

    def detect(self, view: TextView) -> list[Finding]:
        out: list[Finding] = []
        low = view.lower
        if b"@" in view.data:
            self._emails(view, out, self._email)
        if any(k in low for k in _OBFUSCATED_AT) or (b" at " in low and b" dot " in low):
            self._emails(view, out, self._email_obfuscated)
        if view.digit_count >= 7:
            self._phones(view, out)
        if b"://" in view.data or b"www." in low or any(t in low for t in _BARE_TLD_HINTS):
            self._urls(view, out)
        return out

    def _emails(self, view: TextView, out: list[Finding], pattern: Pattern) -> None:
        data = view.data
        pos = 0
        while (spans := pattern.search(data, pos)) is not None:
            s, e = spans[0]
            # A rejected candidate ('me at jane.doe' before 'jane.doe [at] example [dot] com')
            # must not swallow the address after it: retry from its separator's end.
            pos = spans[1][1]
            if (s > 0 and data[s - 1] in b"._%+-/") or not bounded(data, s, e):
                continue
            if b"://" in data[max(0, s - 160) : s].rsplit(b" ", 1)[-1]:
                continue  # user:password@host inside a URL or connection string
            if any(len(label) > 63 for label in data[s:e].split(b".")) or e - s > 254:
                continue
            raw = data[s:e].lower()
            tld = data[spans[2][0] : spans[2][1]].lower().decode()
            known_tld = tld in COMMON_TLDS or len(tld) == 2
            if b"@" in raw and pattern is self._email:
                score = 1.0 if known_tld else 0.75
            else:
                domain = _AFTER_AT.split(raw, 1)[-1] if _AFTER_AT.search(raw) else raw
                spelled_dot = b"dot" in domain and b"." not in domain
                bracketed = any(ch in raw for ch in b"[({<")
                if bracketed:
                    score = 0.85 if known_tld else 0.5
                elif spelled_dot and tld in _SPELLED_DOT_TLDS:
                    score = 0.7  # 'bob at example dot com'
                else:
                    continue
            out.append(finding(view, "EMAIL_ADDRESS", s, e, score, self.name))
            pos = e

    def _phones(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        for kind, g in self._phone.finditer(data):
            s, e = g[0]
            if kind == 0:  # +CC ... / 00 CC ...
                e = _strip_right(data, s, e)
                raw = data[s:e]
                digits = digits_of(raw.replace(b"(0)", b""))
                if raw.startswith(b"00"):
                    digits = digits[2:]
                n = len(digits) - _ext_digits(raw)
                if not 8 <= n <= 15 or not _valid_cc(digits):
                    continue
                score = 0.95 if has_cue(data, s, _PHONE_CUES) else 0.85
            elif kind == 1:  # NANP with separators
                digits = digits_of(data[s:e])
                ext = _ext_digits(data[s:e])
                core = digits[: len(digits) - ext] if ext else digits
                if not _nanp_ok(core[-10:]):
                    continue
                score = 0.9 if has_cue(data, s, _PHONE_CUES) else 0.75
            elif kind == 2:  # ten bare digits: only next to a phone cue
                if not (_nanp_ok(data[s:e].decode()) and has_cue(data, s, _PHONE_CUES, 32)):
                    continue
                score = 0.7
            else:  # national format with a trunk '0'
                if (s > 0 and data[s - 1] in b"+-./") or data[s : s + 2] == b"00":
                    continue
                if (s >= 2 and data[s - 1] == 32 and data[s - 2 : s - 1].isdigit()) or (
                    data[e : e + 1] == b" " and data[e + 1 : e + 2].isdigit()
                ):
                    continue  # a slice of a longer number (card, account), not a phone
                if not 9 <= len(digits_of(data[s:e])) <= 12:
                    continue
                score = 0.85 if has_cue(data, s, _PHONE_CUES) else 0.55
            out.append(finding(view, "PHONE_NUMBER", s, e, score, self.name))

    def _urls(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        for spans in self._url.finditer(data):
            s, e = spans[0]
            e = _trim_url(data, s, e)
            if e - s < 4 or (s > 0 and data[s - 1] in b"@.-"):
                continue
            raw = data[s:e].lower()
            score = 0.95 if b"://" in raw or raw.startswith(b"www.") else 0.6
            out.append(finding(view, "URL", s, e, score, self.name))


def _strip_right(data: bytes, s: int, e: int) -> int:
    while e > s and data[e - 1] in b" .-/(":
        e -= 1
    return e


def _ext_digits(raw: bytes) -> int:
    for marker in (b"extension", b"ext", b"x"):
        i = raw.rfind(marker)
        if i > 0:
            return len(digits_of(raw[i:]))
    return 0


def _valid_cc(digits: str) -> bool:
    return any(digits[:k] in _CC for k in (1, 2, 3))


def _nanp_ok(ten: str) -> bool:
    """NANP: area code and exchange start 2-9, area code not N11, not all one digit."""
    if len(ten) != 10 or ten[0] in "01" or ten[3] in "01" or ten[1:3] == "11":
        return False
    return len(set(ten)) > 2
