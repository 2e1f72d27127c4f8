"""What a detector is, and small helpers shared by the pattern families."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView

_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = frozenset(b"0123456789")


@runtime_checkable
class Detector(Protocol):
    """Finds entities in a normalised view; spans it returns are in the caller's original text."""

    name: str
    entity_types: frozenset[str]

    def detect(self, view: TextView) -> list[Finding]: ...


def finding(
    view: TextView, entity_type: str, b_start: int, b_end: int, score: float, detector: str
) -> Finding:
    if view.is_identity:
        return Finding(entity_type, b_start, b_end, min(score, 1.0), detector)
    start, end = view.span(b_start, b_end)
    return Finding(entity_type, start, end, min(score, 1.0), detector)


def before(data: bytes, b_start: int, window: int = 48) -> bytes:
    """Lower-cased bytes just before a match: where context cues ('ssn', 'passport') live."""
    return data[max(0, b_start - window) : b_start].lower()


def has_cue(data: bytes, b_start: int, cues: tuple[bytes, ...], window: int = 48) -> bool:
    ctx = before(data, b_start, window)
    return any(cue in ctx for cue in cues)


def bounded(data: bytes, b_start: int, b_end: int, chars: frozenset[int] = _ALNUM) -> bool:
    """True when the span is not glued to more characters of the given class on either side."""
    if b_start > 0 and data[b_start - 1] in chars:
        return False
    return not (b_end < len(data) and data[b_end] in chars)


_NON_DIGITS = bytes(b for b in range(256) if b not in _DIGITS)


def edges_ok(data: bytes, b_start: int, b_end: int, chars: frozenset[int]) -> bool:
    """Like :func:`bounded`, but a sentence-final '.' (not followed by a word character) is fine."""
    if b_start > 0 and data[b_start - 1] in chars:
        return False
    if b_end < len(data) and data[b_end] in chars:
        nxt = data[b_end + 1] if b_end + 1 < len(data) else None
        return data[b_end] == 0x2E and (nxt is None or nxt not in _WORD)
    return True


def digits_of(raw: bytes) -> str:
    return raw.translate(None, _NON_DIGITS).decode("ascii")
