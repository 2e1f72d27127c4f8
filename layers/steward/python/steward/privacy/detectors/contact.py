"""EMAIL_ADDRESS (incl. ``name [at] domain [dot] com``), PHONE_NUMBER (see :mod:`.phones`), URL."""

from __future__ import annotations

import re

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import bounded, finding
from steward.privacy.detectors.phones import PhoneFinder
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
        self._phones = PhoneFinder()
        self._url = Pattern("(?:" + "|".join((_URL_SCHEME, _URL_WWW, _URL_BARE)) + ")", ignore_case=True)

    def detect(self, view: TextView) -> list[Finding]:
        out: list[Finding] = []
        low = view.lower
        if b"@" in view.data:
            self._emails(view, out, self._email)
        if any(k in low for k in _OBFUSCATED_AT) or (b" at " in low and b" dot " in low):
            self._emails(view, out, self._email_obfuscated)
        if view.digit_count >= 7:
            for s, e, score in self._phones.spans(view.data):
                out.append(finding(view, "PHONE_NUMBER", s, e, score, self.name))
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
