"""DATE_TIME: calendar dates, ranges, relative dates and clock times, validated as real dates.

Written forms (``March 3rd, 2021``, ``Tuesday, 5 March 2023``, ``3-Mar-2021``), ISO and numeric
forms, ranges (``1999-2003``, ``Jan-Mar 2020``, ``March 3-5, 2021``), relative forms
(``last Tuesday``, ``3 days ago``, ``yesterday``), weekdays, months, decades and clock times.
Every form with a day is checked through :func:`~steward.privacy.validators.date_ok` (the
calendar: no 31 April, 29 February only in leap years).

Shapes that are often something else need a context word: a bare year (``In 1971``, ``born
1984``) only after a temporal word, never a number in prose on its own ('2000 patients', a
score '3-1'); ``May``/``March``/``August`` alone only after a word such as ``since`` or ``early``.

Why hand-written patterns and not a date parser: ``dateparser.search`` finds dates in text but
takes ~300-500 ms to import and ~140 ms/KB (slower than Presidio), and returns strings without
offsets; ``dateutil.parser`` parses one string it is given (~67 µs each), it does not find
dates in text, and its fuzzy mode accepts most numbers. One RE2 pass finds the candidates here,
``datetime``'s calendar validates them.
"""

from __future__ import annotations

import re

from steward.privacy._regex import Alternation
from steward.privacy.detectors.base import finding
from steward.privacy.detectors.context import Cues
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import date_ok, time_ok

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"  # noqa: E501
_MONTH_NC = _MONTH.replace("(", "(?:", 1)
_FULL_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_WEEKDAY_NAME = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_WEEKDAY = r"(?:(?:" + _WEEKDAY_NAME + r"|Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\.?,? (?:the )?)?"
_ORD = r"(?:st|nd|rd|th)?"
_TO = r"(?: ?- ?| to | until | through | till )"
_TIME = r"(?:,? (?:at )?\d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp]\.?[Mm]\.?)?)?"
_YEAR = r"(1[6-9]\d\d|20\d\d)"
_ISO = (
    r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+\-]\d{2}:?\d{2})?)?\b"
)
_YMD = r"\b(\d{4})([/.])(\d{1,2})[/.](\d{1,2})\b"
_NUMERIC = r"\b(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{4}|\d{2})\b" + _TIME
# '5 March 2023', '3rd of March, 2021', '3-5 March 2021', 'Tuesday, 5 March 2023'
_DMY = (
    r"\b" + _WEEKDAY + r"(\d{1,2})" + _ORD + r"(?:" + _TO + r"\d{1,2}" + _ORD + r")? (?:of )?"
    + _MONTH + r",? (\d{4})\b" + _TIME
)  # fmt: skip
# 'March 5, 2023', 'March 3rd, 2021', 'March 3-5, 2021', 'Tuesday, March 5, 2023'
_MDY = (
    r"\b" + _WEEKDAY + _MONTH + r" (\d{1,2})" + _ORD + r"(?:" + _TO + r"\d{1,2}" + _ORD + r")?,? (\d{4})\b"
    + _TIME
)  # fmt: skip
_DMY_DASHED = r"\b(\d{1,2})[\-/]" + _MONTH + r"[\-/](\d{4}|\d{2})\b"  # 03-Mar-2021, 3/Mar/21
_MONTH_RANGE = r"\b" + _MONTH + _TO + _MONTH_NC + r",? " + _YEAR + r"\b"  # Jan-Mar 2020
_MY = r"\b" + _MONTH + r",? (\d{4})\b"
_MD = r"\b" + _MONTH + r" (\d{1,2})" + _ORD + r"(?:" + _TO + r"\d{1,2}" + _ORD + r")?\b"
_DM = r"\b(\d{1,2})" + _ORD + r" (?:of )?" + _MONTH + r"\b"
_YEAR_RANGE = r"\b(?:between )?" + _YEAR + r"(?: ?- ?| to | until | through | and )" + _YEAR + r"\b"
_DECADE = r"\b(1[6-9]\d0|20\d0)'?s\b"
_NUMBER_WORD = (
    r"(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
    r"|a few|few|several|a couple of|couple of)"
)
_UNIT = r"(?:second|minute|hour|day|week|fortnight|month|year|decade)s?"
_PERIOD = (
    r"(?:week|weekend|month|year|quarter|season|spring|summer|autumn|fall|winter|morning|afternoon"
    r"|evening|night|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)
_RELATIVE = (
    r"(?i:\b(?:(?:the )?(?:last|next|this|past|coming|previous|following) " + _PERIOD
    + r"|" + _NUMBER_WORD + r" " + _UNIT + r" (?:ago|earlier|later|from now)"
    + r"|(?:in|within|for the (?:past|last|next)|over the (?:past|last|next)) " + _NUMBER_WORD + r" " + _UNIT
    + r"|the day (?:before yesterday|after tomorrow)|yesterday|tomorrow|today|tonight)\b)"
)  # fmt: skip
_WEEKDAY_ALONE = r"\b(" + _WEEKDAY_NAME + r")s?\b"
_MONTH_ALONE = r"\b" + _FULL_MONTH + r"\b"
_CLOCK = r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp])\.?[Mm]\.?)?\b|\b(\d{1,2}) ?([AaPp])\.?[Mm]\b\.?"
_BARE_YEAR = r"\b" + _YEAR + r"\b"

# Kinds, in the order of the alternation (leftmost-first: longer forms before their prefixes).
(
    _K_ISO, _K_YMD, _K_DMY, _K_MDY, _K_MONTH_RANGE, _K_NUMERIC, _K_DMY_DASHED, _K_MY, _K_MD, _K_DM,
    _K_YEAR_RANGE, _K_DECADE, _K_RELATIVE, _K_WEEKDAY, _K_MONTH, _K_CLOCK, _K_YEAR,
) = range(17)  # fmt: skip
_SOURCES = [
    _ISO, _YMD, _DMY, _MDY, _MONTH_RANGE, _NUMERIC, _DMY_DASHED, _MY, _MD, _DM, _YEAR_RANGE, _DECADE,
    _RELATIVE, _WEEKDAY_ALONE, _MONTH_ALONE, _CLOCK, _BARE_YEAR,
]  # fmt: skip

#: Words that make a number or a word a date: birth and other life events, deadlines.
DATE_CUES = Cues(
    "dob, d.o.b, date of birth, birth*, born, died, deceased, date*, due, expire*, expiry, exp,"
    " married, graduated, admitted, discharged, hired, joined, since, until, till, circa, c.,"
    " anniversary, birthday, class of, founded, established, year, years"
)
# A year after one of these words is a year ('During 1971', 'in 2003'); 'of' and 'to' are not
# enough ('of 2000 patients').
_YEAR_WORDS = frozenset(
    b"in during since until till by from before after around circa c. early late mid spring summer "
    b"autumn fall winter year born died married graduated founded established between and or "
    b"throughout through".split()
)
# Words after which 'May', 'March' or 'August' alone is a month.
_MONTH_WORDS = frozenset(
    b"since until till early late mid last next this every each throughout during through "
    b"beginning end".split()
)
_WEEKDAY_WORDS = frozenset(b"on every each this next last by until since from till".split())
_AMBIGUOUS_MONTHS = frozenset(b"May March August".split())
_PLURAL_NOUN_EXCEPTIONS = frozenset(b"was has this its his is as does goes us thus".split())
_LOW_RELATIVE = (b"today", b"tonight")

# A single character class: linear, used to jump over a long run of digits and separators.
_NUMERIC_RUN = re.compile(rb"[0-9./\-]*")
_TO_SPACE = bytes.maketrans(b'\n\r\t,;:()"', b"         ")


def _prev_word(data: bytes, b_start: int) -> bytes:
    words = data[max(0, b_start - 24) : b_start].translate(_TO_SPACE).split()
    return words[-1].lower() if words else b""


def _next_word(data: bytes, b_end: int) -> bytes:
    words = data[b_end : b_end + 24].translate(_TO_SPACE).split()
    return words[0] if words else b""


class DateTimeDetector:
    name = "datetime"
    entity_types = frozenset({"DATE_TIME"})

    def __init__(self) -> None:
        self._all = Alternation(_SOURCES)

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        out: list[Finding] = []

        def add(s: int, e: int, score: float) -> None:
            out.append(finding(view, "DATE_TIME", s, e, score, self.name))

        def num(span: tuple[int, int]) -> int:
            return int(data[span[0] : span[1]])

        def month(span: tuple[int, int]) -> int:
            return _MONTHS[data[span[0] : span[1]].decode().lower()]

        pos = 0
        while True:
            hit = self._all.search(data, pos)
            if hit is None:
                break
            kind, g = hit
            s, e = g[0]
            pos = e if e > s else s + 1
            if kind == _K_ISO:
                if date_ok(num(g[1]), num(g[2]), num(g[3])):
                    add(s, e, 0.95)
            elif kind == _K_YMD:  # 2021/04/05, 2021.04.05
                if data[g[2][0] : g[2][1]] in data[g[3][1] : g[4][0]] and date_ok(
                    num(g[1]), num(g[3]), num(g[4])
                ):
                    add(s, e, 0.9)
            elif kind == _K_DMY:  # 5 March 2023
                if date_ok(num(g[3]), month(g[2]), num(g[1])):
                    add(s, e, 0.95)
            elif kind == _K_MDY:  # March 5, 2023
                if date_ok(num(g[3]), month(g[1]), num(g[2])):
                    add(s, e, 0.95)
            elif kind == _K_MONTH_RANGE:  # Jan-Mar 2020
                add(s, e, 0.85)
            elif kind == _K_NUMERIC:  # 03/05/2023, 05.03.23
                if (s > 0 and data[s - 1] in b"0123456789./-") or (
                    e < len(data) and data[e] in b"0123456789/-"
                ):
                    # Part of a longer numeric run (a version, an id, a dump): skip the whole run.
                    pos = _NUMERIC_RUN.match(data, e).end()  # type: ignore[union-attr]
                    continue
                a, b, y = num(g[1]), num(g[3]), num(g[4])
                year = y if y >= 100 else (2000 + y if y < 50 else 1900 + y)
                if date_ok(year, a, b) or date_ok(year, b, a):
                    four = g[4][1] - g[4][0] == 4
                    add(s, e, 0.85 if four or DATE_CUES.near(data, s, e) else 0.6)
            elif kind == _K_DMY_DASHED:  # 03-Mar-2021
                y = num(g[3])
                year = y if y >= 100 else (2000 + y if y < 50 else 1900 + y)
                if date_ok(year, month(g[2]), num(g[1])):
                    add(s, e, 0.9)
            elif kind == _K_MY:  # March 2023
                if 1000 <= num(g[2]) <= 2999:
                    add(s, e, 0.8)
            elif kind == _K_MD:  # March 5th, March 3-5
                if 1 <= num(g[2]) <= 31 and (data[g[1][0] : g[1][1]] != b"May" or _cued_month(data, s)):
                    add(s, e, 0.7)
            elif kind == _K_DM:  # 5th of March, 3 March
                if 1 <= num(g[1]) <= 31:
                    add(s, e, 0.7)
            elif kind == _K_YEAR_RANGE:  # 1999-2003, between 1999 and 2003
                first, last = num(g[1]), num(g[2])
                joined_by_and = b" and " in data[g[1][1] : g[2][0]]
                if first < last <= first + 100 and (not joined_by_and or data[s : s + 8] == b"between "):
                    start = g[1][0]  # 'between' is context, not the date
                    add(start, e, 0.85 if DATE_CUES.near(data, s, e) else 0.75)
                else:  # two years, not a range ('in 1999 and 2003'): each on its own
                    if (score := _year_score(data, g[1][0], g[1][1])) > 0:
                        add(g[1][0], g[1][1], score)
                    pos = g[1][1]
            elif kind == _K_DECADE:  # the 1990s
                add(s, e, 0.6)
            elif kind == _K_RELATIVE:  # last Tuesday, 3 days ago, yesterday
                add(s, e, _relative_score(data[s:e].lower()))
            elif kind == _K_WEEKDAY:  # Tuesday
                add(s, e, 0.7 if _prev_word(data, s) in _WEEKDAY_WORDS else 0.6)
            elif kind == _K_MONTH:  # March
                add(s, e, _month_score(data, s, e))
            elif kind == _K_CLOCK:
                if g[1][0] != -1:  # 14:30, 2:30 pm
                    sec = num(g[3]) if g[3][0] != -1 else 0
                    if not time_ok(num(g[1]), num(g[2]), sec) or (s > 0 and data[s - 1] in b":."):
                        continue
                    if e < len(data) and data[e] in b":":
                        continue
                    add(s, e, 0.8 if g[4][0] != -1 or g[3][0] != -1 else 0.65)
                elif 1 <= num(g[5]) <= 12:  # 5pm
                    add(s, e, 0.75)
            else:  # a bare year: only with context
                score = _year_score(data, s, e)
                if score > 0:
                    add(s, e, score)
        return out


def _relative_score(low: bytes) -> float:
    if low in _LOW_RELATIVE:
        return 0.3  # 'today' in chat is rarely a date worth hiding; a policy may lower the bar
    if low in (b"yesterday", b"tomorrow"):
        return 0.6
    return 0.75


def _cued_month(data: bytes, s: int) -> bool:
    return _prev_word(data, s) in _MONTH_WORDS


def _month_score(data: bytes, s: int, e: int) -> float:
    prev = _prev_word(data, s)
    if data[s:e] in _AMBIGUOUS_MONTHS:  # a verb, a name or a modal as well
        end_of = prev == b"of" and _prev_word(data, s - 3) in _MONTH_WORDS  # 'end of May'
        return 0.7 if prev in _MONTH_WORDS or end_of else 0.2
    return 0.7 if prev in _MONTH_WORDS or prev in _YEAR_WORDS else 0.55


def _year_score(data: bytes, s: int, e: int) -> float:
    """A four-digit number is a year only after a temporal word or a date cue, and not when it
    counts something ('in 2000 patients') or is an amount ('$1999', '2000%')."""
    if s > 0 and data[s - 1] in b"$#.,-/+:\xa3\xac":
        return 0.0
    if e < len(data) and data[e] in b"%.,-/:" and _glued(data, e):
        return 0.0
    nxt = _next_word(data, e)
    if len(nxt) >= 3 and nxt[:1].islower() and nxt.endswith(b"s") and nxt not in _PLURAL_NOUN_EXCEPTIONS:
        return 0.0  # counts a plural noun
    if DATE_CUES.near(data, s, e):
        return 0.8
    prev = _prev_word(data, s)
    if prev in _YEAR_WORDS:
        return 0.6
    return 0.3


def _glued(data: bytes, e: int) -> bool:
    """True when the character after ``e`` joins the year to more digits ('2000.5', '1999-03')."""
    return data[e] == ord("%") or (e + 1 < len(data) and data[e + 1 : e + 2].isdigit())
