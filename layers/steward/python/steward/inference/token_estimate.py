"""Input tokens of a text, estimated without a tokenizer (the Lambda path ships none).

Quotas in units are decided before the backend call, so the count must come from the text alone
and be hard to game. "About four characters per token" undercharged real prose by ~20 % and
single letters, digits and CJK text by 2-4x (one character each is a word piece). The estimate
follows how a WordPiece tokenizer splits instead: runs of ASCII letters cost one piece per six
characters (at least one), digit runs one per two, accented Latin runs one per three, letters of
any other script (CJK, Cyrillic, Arabic, Devanagari, ...) one each, every other visible character
(punctuation, symbols, emoji, ``_``) one, plus the two special tokens. Measured against the
MiniLM tokenizer on text nobody here wrote (``scripts/measure_token_estimate.py``; figures in
docs/usage_policy.md).

It runs on every text of every call, so nothing loops in Python per word: ASCII text (the common
case) is mapped to character classes with ``bytes.translate`` and split into runs (~20 µs per
KB); other text takes one regex scan per class (~75 µs per KB). Both count alike on ASCII.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
ASCII_CHARS_PER_PIECE = 6
DIGITS_PER_PIECE = 2
LATIN_CHARS_PER_PIECE = 3

_ASCII_RUNS = re.compile(r"[A-Za-z]+")
_DIGIT_RUNS = re.compile(r"[0-9]+")
_OTHER_LETTER_RUNS = re.compile(r"[^\W\d_A-Za-z]+")
_NON_LATIN = re.compile(r"[^\u0000-\u024f]")  # beyond Latin Extended-B
_SYMBOLS = re.compile(r"[^\w\s]|_")


def _ascii_classes() -> bytes:
    """``bytes.translate`` table: letter ``a``, digit ``0``, whitespace (as ``str.isspace``)
    space, anything else ``.``."""
    table = bytearray(b"." * 256)
    for char in range(128):
        if chr(char) in string.ascii_letters:
            table[char] = ord("a")
        elif chr(char).isdigit():
            table[char] = ord("0")
        elif chr(char).isspace():
            table[char] = ord(" ")
    return bytes(table)


_CLASSES = _ascii_classes()


def _pieces(chars_per_piece: int) -> Callable[[Sequence[str | bytes]], int]:
    """Sum of ``ceil(len(run) / chars_per_piece)`` over runs, through a lookup table."""
    table = [-(-n // chars_per_piece) for n in range(256)]
    lookup = table.__getitem__

    def count(runs: Sequence[str | bytes]) -> int:
        lengths = list(map(len, runs))
        if lengths and max(lengths) >= len(table):
            return sum(-(-n // chars_per_piece) for n in lengths)
        return sum(map(lookup, lengths))

    return count


_ascii_pieces = _pieces(ASCII_CHARS_PER_PIECE)
_digit_pieces = _pieces(DIGITS_PER_PIECE)
_latin_pieces = _pieces(LATIN_CHARS_PER_PIECE)


def estimate_tokens(text: str) -> int:
    """Word pieces ``text`` costs, special tokens included (see the module docstring)."""
    if text.isascii():
        classes = text.encode("ascii").translate(_CLASSES)
        letters = classes.replace(b"0", b" ").replace(b".", b" ").split()
        digits = classes.replace(b"a", b" ").replace(b".", b" ").split()
        return SPECIAL_TOKENS + _ascii_pieces(letters) + _digit_pieces(digits) + classes.count(b".")
    return _estimate_unicode(text)


def _estimate_unicode(text: str) -> int:
    count = SPECIAL_TOKENS + _ascii_pieces(_ASCII_RUNS.findall(text))
    count += _digit_pieces(_DIGIT_RUNS.findall(text)) + len(_SYMBOLS.findall(text))
    others = _OTHER_LETTER_RUNS.findall(text)
    latin = [run for run in others if not _NON_LATIN.search(run)]
    return count + _latin_pieces(latin) + sum(len(run) for run in others if _NON_LATIN.search(run))
