"""US_SSN (SSA area/group/serial rules), US_DRIVER_LICENSE and US_PASSPORT (context-gated)."""

from __future__ import annotations

from steward.privacy._regex import Alternation, Pattern
from steward.privacy.detectors.base import digits_of, finding, has_cue
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import ssn_ok

# 3-2-4 with '-' or '.', tolerating spaces between digits ('1 2 3 - 4 5 - 6 7 8 9').
_SSN_DASHED = r"\b\d(?: ?\d){2} ?[\-.] ?\d ?\d ?[\-.] ?\d(?: ?\d){3}\b"
_SSN_SPACED = r"\b\d{3} \d{2} \d{4}\b"
_SSN_PLAIN = r"\b\d{9}\b"
_SSN_CUES = (
    b"ssn",
    b"social security",
    b"social sec",
    b"ss#",
    b"ss #",
    b"taxpayer",
    b" tin ",
    b" tin:",
    b" tin#",
)
# State formats: letter(s)+digits (CA A1234567, NY 9 digits, FL/WI A123-4567-8901...), digits only.
_DL = (
    r"\b(?:[A-Z]{1,2}\d{4,14}|\d{7,12}|[A-Z]\d{3}-\d{4}-\d{4}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d"
    r"|[A-Z]\d{2}-\d{2}-\d{4}|\d{3}-\d{3}-\d{3}|[A-Z]\d{3}-\d{3}-\d{3}-\d{3})\b"
)
_DL_CUES = (b"driver", b"driving", b"licen", b"dl#", b"dl #", b"dl:", b"dl no", b"dl number", b"dln")
_PASSPORT = r"\b(?:[A-Z]\d{8}|\d{9})\b"
_PASSPORT_CUES = (b"passport",)
_PASSPORT_SHAPE = Pattern(_PASSPORT)


class GovernmentIdDetector:
    name = "government_ids"
    entity_types = frozenset({"US_SSN", "US_DRIVER_LICENSE", "US_PASSPORT"})

    def __init__(self) -> None:
        self._all = Alternation([_SSN_DASHED, _SSN_SPACED, _SSN_PLAIN, _DL, _PASSPORT])

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        low = view.lower
        out: list[Finding] = []
        if view.digit_count < 5:
            return out
        dl_cue = any(c in low for c in _DL_CUES)
        passport_cue = b"passport" in low
        ssn_cue = any(c in low for c in _SSN_CUES)
        for kind, g in self._all.finditer(data):
            s, e = g[0]
            if kind <= 2:
                if (s > 0 and data[s - 1] in b"-.+/") or not ssn_ok(digits_of(data[s:e])):
                    # A 9-digit run that is no SSN may still be a passport or licence number.
                    if kind == 2:
                        self._ids(view, s, e, dl_cue, passport_cue, out)
                    continue
                base, cued = ((0.85, 1.0), (0.6, 0.95), (0.0, 0.9))[kind]
                score = cued if ssn_cue and has_cue(data, s, _SSN_CUES) else base
                if score > 0:
                    out.append(finding(view, "US_SSN", s, e, score, self.name))
                elif kind == 2:
                    self._ids(view, s, e, dl_cue, passport_cue, out)
            else:
                self._ids(view, s, e, dl_cue, passport_cue, out)
        return out

    def _ids(
        self, view: TextView, s: int, e: int, dl_cue: bool, passport_cue: bool, out: list[Finding]
    ) -> None:
        data = view.data
        raw = data[s:e]
        if passport_cue and has_cue(data, s, _PASSPORT_CUES) and _PASSPORT_SHAPE.fullmatch(raw):
            out.append(finding(view, "US_PASSPORT", s, e, 0.92, self.name))
        elif dl_cue and has_cue(data, s, _DL_CUES) and not has_cue(data, s, _PASSPORT_CUES, 24):
            out.append(finding(view, "US_DRIVER_LICENSE", s, e, 0.9, self.name))
