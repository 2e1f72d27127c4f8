"""US_SSN (SSA area/group/serial rules), US_DRIVER_LICENSE and US_PASSPORT (context-gated)."""

from __future__ import annotations

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import digits_of, finding, has_cue
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import ssn_ok

# 3-2-4 with '-' or '.', tolerating spaces between digits ('1 2 3 - 4 5 - 6 7 8 9').
_SSN_DASHED = r"\b\d(?: ?\d){2} ?[\-.] ?\d ?\d ?[\-.] ?\d(?: ?\d){3}\b"
_SSN_SPACED = r"\b\d{3} \d{2} \d{4}\b"
_SSN_PLAIN = r"\b\d{9}\b"
_SSN_CUES = (b"ssn", b"social security", b"social sec", b"ss#", b"ss #", b"taxpayer", b"tin")
# State formats: letter(s)+digits (CA A1234567, NY 9 digits, FL/WI A123-4567-8901...), digits only.
_DL = (
    r"\b(?:[A-Z]{1,2}\d{4,14}|\d{7,12}|[A-Z]\d{3}-\d{4}-\d{4}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d"
    r"|[A-Z]\d{2}-\d{2}-\d{4}|\d{3}-\d{3}-\d{3}|[A-Z]\d{3}-\d{3}-\d{3}-\d{3})\b"
)
_DL_CUES = (b"driver", b"driving", b"licen", b"dl#", b"dl #", b"dl:", b"dl no", b"dl number", b"dln")
_PASSPORT = r"\b(?:[A-Z]\d{8}|\d{9})\b"
_PASSPORT_CUES = (b"passport",)


class GovernmentIdDetector:
    name = "government_ids"
    entity_types = frozenset({"US_SSN", "US_DRIVER_LICENSE", "US_PASSPORT"})

    def __init__(self) -> None:
        self._dashed = Pattern(_SSN_DASHED)
        self._spaced = Pattern(_SSN_SPACED)
        self._plain = Pattern(_SSN_PLAIN)
        self._dl = Pattern(_DL)
        self._passport = Pattern(_PASSPORT)

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        out: list[Finding] = []
        for pattern, base, cued in ((self._dashed, 0.85, 1.0), (self._spaced, 0.6, 0.95), (self._plain, 0.0, 0.9)):
            for spans in pattern.finditer(data):
                s, e = spans[0]
                if s > 0 and data[s - 1] in b"-.+/":
                    continue
                if not ssn_ok(digits_of(data[s:e])):
                    continue
                score = cued if has_cue(data, s, _SSN_CUES) else base
                if score > 0:
                    out.append(finding(view, "US_SSN", s, e, score, self.name))
        for spans in self._dl.finditer(data):
            s, e = spans[0]
            if has_cue(data, s, _DL_CUES) and not has_cue(data, s, _PASSPORT_CUES, 24):
                out.append(finding(view, "US_DRIVER_LICENSE", s, e, 0.9, self.name))
        for spans in self._passport.finditer(data):
            s, e = spans[0]
            if has_cue(data, s, _PASSPORT_CUES):
                out.append(finding(view, "US_PASSPORT", s, e, 0.92, self.name))
        return out
