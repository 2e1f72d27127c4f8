"""De-obfuscation that keeps a map back to the caller's offsets.

People hide personal data from filters with look-alike characters (fullwidth digits, non-ASCII
dashes and spaces, zero-width joiners inside an e-mail address). Detection runs on a normalised
copy where such characters are folded 1:1 or removed; every span found there is mapped back to
the original text, so redaction always cuts the caller's own characters. ASCII text (the common
case) is used as is, with no copy and no map.

Spelled-out obfuscations (``name [at] domain [dot] com``, spaced digits) are handled by the
detector patterns themselves, which keeps the offsets exact.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

# Characters removed before detection (invisible format characters).
_REMOVABLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
# A single character class: linear in the input with Python's engine.
_REMOVABLE_RE = re.compile("[" + _REMOVABLE + "]")
_DIGIT_BLOCKS = (
    0x0660,
    0x06F0,
    0x07C0,
    0x0966,
    0x09E6,
    0x0A66,
    0x0AE6,
    0x0B66,
    0x0BE6,
    0x0C66,
    0x0CE6,
    0x0D66,
    0x0E50,
    0x0ED0,
    0x0F20,
    0x1040,
    0x17E0,
    0x1810,
    0xFF10,
)


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, int]:
    """1:1 folds: fullwidth ASCII, other decimal digits, dashes, spaces, '@' and '.' look-alikes."""
    table: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
    for base in _DIGIT_BLOCKS:
        for d in range(10):
            table[base + d] = ord("0") + d
    for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63):
        table[cp] = ord("-")
    for cp in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[cp] = ord(" ")
    table[0xFE6B] = ord("@")
    for cp in (0x2024, 0xFE52, 0x3002, 0xFF0E):
        table[cp] = ord(".")
    return table


@dataclass(slots=True)
class TextView:
    """The normalised text, its UTF-8 bytes, and maps from byte offsets to original offsets."""

    original: str
    text: str
    data: bytes
    # Normalised positions at which a removed character used to sit (sorted).
    _removed_at: list[int] = field(default_factory=list)
    # Continuation-byte counts: per 256-byte block prefix sums, plus a marker string.
    _cont: bytes | None = None
    _cont_prefix: list[int] = field(default_factory=list)
    _lower: bytes | None = None
    _digits: int = -1

    @property
    def lower(self) -> bytes:
        """ASCII-lower-cased bytes, for cheap keyword pre-checks (computed once)."""
        if self._lower is None:
            self._lower = self.data.lower()
        return self._lower

    @property
    def digit_count(self) -> int:
        """How many ASCII digits the text has: detectors that need N digits skip shorter texts."""
        if self._digits < 0:
            self._digits = len(self.data) - len(self.data.translate(None, b"0123456789"))
        return self._digits

    @property
    def is_identity(self) -> bool:
        return self._cont is None and not self._removed_at

    def char_offset(self, byte_offset: int) -> int:
        """Character offset in the normalised text of a byte offset in ``data``."""
        if self._cont is None:
            return byte_offset
        block = byte_offset >> 8
        before = self._cont_prefix[block] + self._cont.count(1, block << 8, byte_offset)
        return byte_offset - before

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised character span to the original text (removed characters skipped)."""
        if not self._removed_at:
            return start, end
        o_start = start + bisect.bisect_right(self._removed_at, start)
        o_end = (end - 1) + bisect.bisect_right(self._removed_at, end - 1) + 1
        return o_start, o_end

    def span(self, byte_start: int, byte_end: int) -> tuple[int, int]:
        """Original character span of a byte span of ``data``."""
        return self.to_original(self.char_offset(byte_start), self.char_offset(byte_end))


_CONT_TABLE = bytes(1 if 0x80 <= b <= 0xBF else 0 for b in range(256))


def normalize(text: str) -> TextView:
    """Build the detection view of ``text``: O(n), no copy for plain ASCII."""
    if text.isascii():
        return TextView(original=text, text=text, data=text.encode("ascii"))
    removed_at: list[int] = []
    if _REMOVABLE_RE.search(text):
        parts: list[str] = []
        last = 0
        kept = 0
        for m in _REMOVABLE_RE.finditer(text):
            parts.append(text[last : m.start()])
            kept += m.start() - last
            removed_at.append(kept)
            last = m.end()
        parts.append(text[last:])
        folded_src = "".join(parts)
    else:
        folded_src = text
    folded = folded_src.translate(_fold_table())
    data = folded.encode("utf-8", "surrogatepass")
    view = TextView(original=text, text=folded, data=data, _removed_at=removed_at)
    if len(data) != len(folded):
        cont = data.translate(_CONT_TABLE)
        prefix = [0]
        total = 0
        for block_start in range(0, len(cont), 256):
            total += cont.count(1, block_start, block_start + 256)
            prefix.append(total)
        view._cont = cont
        view._cont_prefix = prefix
    return view
