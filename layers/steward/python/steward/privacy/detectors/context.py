"""Context words near a match: what raises a shape's score ('call', 'DOB', 'card') and what lowers
it ('order', 'invoice', 'ISBN').

Cues are whole words ('id' is not 'idea', 'ring' is not 'during'); a cue written with a
trailing ``*`` is a word start (``tel*`` finds 'tel:', 'Tel.' and 'telephone' but not 'hotel').
Each lookup runs one RE2 search over a short window (tens of bytes) next to the match, so its
cost does not grow with the text.
"""

from __future__ import annotations

from collections.abc import Iterable

from steward.privacy._regex import Pattern


class Cues:
    """A set of context words, found in a window before (and optionally after) a span."""

    __slots__ = ("_after", "_before", "_pattern")

    def __init__(self, words: str | Iterable[str], *, before: int = 48, after: int = 0) -> None:
        """``words``: the cues, or one string of them separated by commas (a cue may hold spaces)."""
        listed = words.split(",") if isinstance(words, str) else words
        cues = {w.strip().lower() for w in listed if w.strip()}
        whole = sorted((w for w in cues if not w.endswith("*")), key=len, reverse=True)
        starts = sorted((w[:-1] for w in cues if w.endswith("*")), key=len, reverse=True)
        # The byte before a cue is not a letter (RE2 has no look-behind, so the boundary is
        # matched as a character, or as the text's start).
        alternatives = []
        if whole:
            alternatives.append("(?:" + "|".join(map(_escape, whole)) + r")(?:[^A-Za-z]|$)")
        if starts:
            alternatives.append("(?:" + "|".join(map(_escape, starts)) + ")")
        self._pattern = Pattern(r"(?:^|[^A-Za-z])(?:" + "|".join(alternatives) + ")", ignore_case=True)
        self._before = before
        self._after = after

    def near(self, data: bytes, start: int, end: int) -> bool:
        """True when a cue word sits within the window before ``start`` (or after ``end``)."""
        # One byte more than the window on each side: the character before a cue at its edge,
        # and the one after a whole-word cue that ends the window.
        lo = max(0, start - self._before - 1)
        if self._pattern.search(data, lo, min(len(data), start + 1)) is not None:
            return True
        if self._after:
            hi = min(len(data), end + self._after + 1)
            return self._pattern.search(data, max(0, end - 1), hi) is not None
        return False


def _escape(word: str) -> str:
    return "".join("\\" + ch if not ch.isalnum() and ch != " " else ch for ch in word)
