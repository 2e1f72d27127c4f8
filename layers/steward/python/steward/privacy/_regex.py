"""Linear-time patterns: every detector pattern is compiled with RE2 (no backtracking).

Patterns run over the UTF-8 bytes of the text so that RE2 does not re-encode it on every call;
:class:`~steward.privacy.normalize.TextView` maps byte offsets back to characters.
"""

from __future__ import annotations

from collections.abc import Iterator

import re2

Spans = tuple[tuple[int, int], ...]

_UNANCHORED = re2._Anchor.UNANCHORED
_MAX_MEM = 64 << 20


class Pattern:
    """An RE2 pattern over UTF-8 bytes, yielding the raw group spans of each match."""

    __slots__ = ("_raw", "source")

    def __init__(self, source: str, *, ignore_case: bool = False) -> None:
        options = re2.Options()
        options.case_sensitive = not ignore_case
        options.max_mem = _MAX_MEM
        options.log_errors = False
        self.source = source
        self._raw = re2.compile(source.encode(), options)._regexp

    def finditer(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Iterator[Spans]:
        end = len(data) if endpos is None else endpos
        raw = self._raw
        while pos <= end:
            spans: Spans = raw.Match(_UNANCHORED, data, pos, end)
            first = spans[0]
            if first[0] == -1:
                return
            yield spans
            pos = first[1] if first[1] > pos else pos + 1

    def search(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Spans | None:
        end = len(data) if endpos is None else endpos
        spans: Spans = self._raw.Match(_UNANCHORED, data, pos, end)
        return None if spans[0][0] == -1 else spans

    def fullmatch(self, data: bytes) -> bool:
        spans: Spans = self._raw.Match(re2._Anchor.ANCHOR_BOTH, data, 0, len(data))
        return spans[0][0] != -1


class Alternation:
    """Several patterns scanned in one pass (one RE2 call per match instead of one per pattern).

    Yields ``(index, spans)`` where ``spans[0]`` is the alternative's match and ``spans[1:]`` its
    own groups, numbered as if the alternative had been compiled alone. Alternatives are tried
    leftmost-first, so list longer forms before their prefixes.
    """

    __slots__ = ("_bases", "_pattern")

    def __init__(self, sources: list[str], *, ignore_case: bool = False) -> None:
        self._bases: list[tuple[int, int]] = []
        base = 1
        for src in sources:
            count = re2.compile(src.encode())._regexp.NumberOfCapturingGroups()
            self._bases.append((base, count))
            base += count + 1
        self._pattern = Pattern("|".join(f"({src})" for src in sources), ignore_case=ignore_case)

    def finditer(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Iterator[tuple[int, Spans]]:
        bases = self._bases
        for spans in self._pattern.finditer(data, pos, endpos):
            for index, (base, count) in enumerate(bases):
                if spans[base][0] != -1:
                    yield index, spans[base : base + count + 1]
                    break

    def search(self, data: bytes, pos: int = 0) -> tuple[int, Spans] | None:
        spans = self._pattern.search(data, pos)
        if spans is None:
            return None
        for index, (base, count) in enumerate(self._bases):
            if spans[base][0] != -1:
                return index, spans[base : base + count + 1]
        return None
