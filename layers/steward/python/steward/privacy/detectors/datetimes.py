"""DATE_TIME: calendar dates (ISO, numeric, written) and clock times, validated as real dates."""

from __future__ import annotations

import re

from steward.privacy._regex import Alternation
from steward.privacy.detectors.base import finding
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import date_ok, time_ok

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"  # noqa: E501
_WEEKDAY = r"(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Wed|Thu|Fri|Sat|Sun),? )?"
_ORD = r"(?:st|nd|rd|th)?"
_TIME = r"(?:,? (?:at )?\d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp]\.?[Mm]\.?)?)?"
_ISO = (
    r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+\-]\d{2}:?\d{2})?)?\b"
)
_NUMERIC = r"\b(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{4}|\d{2})\b" + _TIME
_DMY = r"\b" + _WEEKDAY + r"(\d{1,2})" + _ORD + r" (?:of )?" + _MONTH + r",? (\d{4})\b" + _TIME
_MDY = r"\b" + _WEEKDAY + _MONTH + r" (\d{1,2})" + _ORD + r",? (\d{4})\b" + _TIME
_MY = r"\b" + _MONTH + r",? (\d{4})\b"
_MD = r"\b" + _MONTH + r" (\d{1,2})" + _ORD + r"\b"
_CLOCK = r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp])\.?[Mm]\.?)?\b|\b(\d{1,2}) ?([AaPp])\.?[Mm]\b\.?"


# A single character class: linear, used to jump over a long run of digits and separators.
_NUMERIC_RUN = re.compile(rb"[0-9./\-]*")


class DateTimeDetector:
    name = "datetime"
    entity_types = frozenset({"DATE_TIME"})

    def __init__(self) -> None:
        self._all = Alternation([_ISO, _DMY, _MDY, _NUMERIC, _MY, _MD, _CLOCK])

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        out: list[Finding] = []
        if view.digit_count == 0:
            return out

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
            if kind == 0:  # ISO 8601
                if date_ok(num(g[1]), num(g[2]), num(g[3])):
                    add(s, e, 0.95)
            elif kind == 1:  # 5 March 2023
                if date_ok(num(g[3]), month(g[2]), num(g[1])):
                    add(s, e, 0.95)
            elif kind == 2:  # March 5, 2023
                if date_ok(num(g[3]), month(g[1]), num(g[2])):
                    add(s, e, 0.95)
            elif kind == 3:  # 03/05/2023, 05.03.23
                if (s > 0 and data[s - 1] in b"0123456789./-") or (
                    e < len(data) and data[e] in b"0123456789/-"
                ):
                    # Part of a longer numeric run (a version, an id, a dump): skip the whole run.
                    pos = _NUMERIC_RUN.match(data, e).end()  # type: ignore[union-attr]
                    continue
                a, b, y = num(g[1]), num(g[3]), num(g[4])
                year = y if y >= 100 else (2000 + y if y < 50 else 1900 + y)
                if date_ok(year, a, b) or date_ok(year, b, a):
                    add(s, e, 0.85 if g[4][1] - g[4][0] == 4 else 0.6)
            elif kind == 4:  # March 2023
                if 1000 <= num(g[2]) <= 2999:
                    add(s, e, 0.8)
            elif kind == 5:  # March 5th
                if 1 <= num(g[2]) <= 31 and data[g[1][0] : g[1][1]] != b"May":
                    add(s, e, 0.7)
            elif g[1][0] != -1:  # 14:30, 2:30 pm
                sec = num(g[3]) if g[3][0] != -1 else 0
                if not time_ok(num(g[1]), num(g[2]), sec) or (s > 0 and data[s - 1] in b":."):
                    continue
                if e < len(data) and data[e] in b":":
                    continue
                add(s, e, 0.8 if g[4][0] != -1 or g[3][0] != -1 else 0.65)
            elif 1 <= num(g[5]) <= 12:  # 5pm
                add(s, e, 0.75)
        return out
