"""Tenant regular expressions: RE2 only, checked for cost when saved, matched in linear time.

RE2 never backtracks, so a ReDoS-shaped pattern (``(a+)+$``) costs what any other does: time
linear in the text. What a pattern can still cost is memory and per-byte work, which grow with
its compiled program: a pattern is refused when saved (422) if RE2 can't compile it or its
program is larger than :data:`MAX_PROGRAM_SIZE` (``[a-z]{1000}`` is about 1,000 instructions;
``(.{100}){10}`` is over 8,000 and refused). Texts are bounded by the request limits before
they get here, and patterns run on the normalised view (`steward.privacy.normalize`), so an
invisible character or a look-alike letter does not break a match.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2

from steward.privacy._regex import Pattern
from steward.privacy.normalize import normalize

#: Largest compiled program a pattern may have (RE2 instructions).
MAX_PROGRAM_SIZE = 5_000
#: Longest pattern source accepted, in characters.
MAX_PATTERN_CHARS = 1_000
_COMPILE_MEM = 8 << 20


class PatternRefused(ValueError):
    """The pattern is invalid or too costly; the message says which, never echoing it."""


def check_pattern(source: str) -> None:
    """Compile ``source`` as RE2 would at run time; raise :class:`PatternRefused` if it can't
    or if its program is too large."""
    if len(source) > MAX_PATTERN_CHARS:
        raise PatternRefused(f"is longer than {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.max_mem = _COMPILE_MEM
    options.log_errors = False
    try:
        compiled = re2.compile(source.encode(), options)
    except (re2.error, UnicodeEncodeError):
        raise PatternRefused("is not a valid RE2 regular expression") from None
    size = compiled._regexp.ProgramSize()
    if size > MAX_PROGRAM_SIZE:
        raise PatternRefused(f"is too costly ({size} RE2 instructions; at most {MAX_PROGRAM_SIZE})")


class PatternMatcher:
    """Which pattern rules a text hits. ``sources``: one pattern per rule, by rule index."""

    __slots__ = ("_patterns",)

    def __init__(self, sources: Sequence[str]) -> None:
        for source in sources:
            check_pattern(source)
        self._patterns = [Pattern(source) for source in sources]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, text: str) -> set[int]:
        data = normalize(text).data
        return {i for i, pattern in enumerate(self._patterns) if pattern.search(data) is not None}
