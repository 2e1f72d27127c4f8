"""De-obfuscation that keeps a map back to the caller's offsets.

People hide personal data from filters: look-alike letters from other scripts (``jane`` written
with a Cyrillic ``a``, U+0430), mathematical or fullwidth letters and digits, invisible characters inside an
e-mail address, ``%40`` or ``&#64;`` for ``@``. Detection runs on a normalised *view*:

1. ``&#NN;``/``&#xHH;``/``&name;`` and ``%HH`` are decoded when the result is a character that
   personal data is written with (ASCII letters, digits, ``@ . - _ +`` and space; ``%20`` stays,
   so a URL is not cut in two).
2. Invisible characters (zero-width, bidi controls, variation selectors, tag characters) are
   removed.
3. Every other non-ASCII character gets its NFKC compatibility form (fullwidth, mathematical
   alphanumerics, ligatures, circled and superscript digits), other scripts' decimal digits
   become ASCII digits, and look-alike dashes, spaces, dots and at-signs become ASCII.
4. Inside a token (a run without white space) that also holds an ASCII letter, digit or ``@``,
   look-alike letters of other scripts become the ASCII letter they imitate and stray combining
   marks are dropped. A whole word in Cyrillic or Greek is left as written: folding real Russian
   text into Latin would only feed the detectors (and the deep-path model) nonsense.

Every span found in the view is mapped back to the original text, so redaction cuts the caller's
own characters: a finding that touches ``&#64;`` covers all five characters, one that spans an
invisible character keeps it. ASCII text without ``%`` or ``&`` (the common case) is used as is:
no copy, no map. The map is sparse: only edits that change the length are recorded (a 1:1 fold
keeps offsets), and a lookup is a binary search.

Why a hand-kept look-alike table: Unicode's confusables data (UTS #39 ``confusables.txt``) is not
in the standard library and no installed package ships it. Its skeleton mapping is also not what
detection needs (it maps ``I`` to ``l`` and ``m`` to ``rn``, so patterns written for ASCII would
stop matching), so the table below takes the UTS #39 entries for letters of the scripts that
imitate Latin (Cyrillic, Greek, Armenian, a few IPA letters) that look like one ASCII letter or
digit, and maps each to the character it imitates (Cyrillic ``I``-like U+0406 to ``I``, not ``l``).
It is 84 entries, small enough to review; fullwidth and mathematical forms need no
table, since NFKC folds them. Turkish dotless i is left out on purpose: it is a letter of real
words, and folding it would cost recall on Turkish names and places.

Spelled-out obfuscations (``name [at] domain [dot] com``, spaced digits) are handled by the
detector patterns themselves. Everything here is linear in the input: single-class or bounded
regular expressions, one pass over each region that changes.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

# Invisible format characters, removed before detection.
_REMOVABLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
# Combining marks left over after NFKC (underlines, strokes): dropped inside mixed tokens.
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"

# UTS #39 confusables whose prototype is one ASCII character (see the module docstring).
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "\u0430": "a", "\u0431": "6", "\u0433": "r", "\u0435": "e", "\u043e": "o", "\u0440": "p",
    "\u0441": "c", "\u0443": "y", "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0458": "j",
    "\u0461": "w", "\u0475": "v", "\u04af": "y", "\u04bb": "h", "\u04cf": "l", "\u0501": "d",
    "\u051b": "q", "\u051d": "w",
    "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u0410": "A", "\u0412": "B", "\u0415": "E",
    "\u0417": "3", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P",
    "\u0421": "C", "\u0422": "T", "\u0423": "Y", "\u0425": "X", "\u0474": "V", "\u04ae": "Y",
    "\u04c0": "I", "\u051a": "Q", "\u051c": "W",
    # Greek
    "\u03b1": "a", "\u03b3": "y", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o",
    "\u03c1": "p", "\u03c3": "o", "\u03c5": "u", "\u03c7": "x", "\u03c9": "w", "\u03f2": "c",
    "\u03f3": "j",
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
    "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X", "\u03f9": "C", "\u037f": "J",
    # Armenian
    "\u0566": "q", "\u0570": "h", "\u0578": "n", "\u057d": "u", "\u0581": "g", "\u0585": "o",
    "\u054d": "U", "\u0555": "O",
    # Latin letters outside ASCII that NFKC keeps (not Turkish dotless i: a letter of real words)
    "\u0237": "j", "\u0251": "a", "\u0261": "g", "\u0269": "i", "\u026a": "i",
    "\u01c0": "l",
}  # fmt: skip

# Script-independent 1:1 folds NFKC does not make (or makes to another non-ASCII character).
_PUNCT: dict[str, str] = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u02d7\u2043\ufe58\ufe63\uff0d", "-"),
    **dict.fromkeys("\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                    "\u202f\u205f\u3000", " "),
    **dict.fromkeys("\u0085\u2028\u2029", "\n"),
    **dict.fromkeys("\u2024\ufe52\u3002\uff0e\uff61\u0701\u0702\ua4f8", "."),
    **dict.fromkeys("\ufe6b\uff20", "@"),
}  # fmt: skip

# Characters a decoded '&...;' or '%HH' may become (personal data is written with these).
_DECODED_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-_+ ")

# Encoded sequences (bounded alternatives), and chunks from a non-ASCII character to the end of
# its token (folded with one ``str.translate`` call each): one linear scan.
_HOT = re.compile(
    r"&#[xX]([0-9a-fA-F]{1,6});?|&#([0-9]{1,7});?|&([A-Za-z][A-Za-z0-9]{1,31});|%([0-9a-fA-F]{2})"
    r"|[^\x00-\x7f][^\s&%]*"
)
_ENCODED = re.compile(r"&#[xX][0-9a-fA-F]|&#[0-9]|&[A-Za-z][A-Za-z0-9]{1,31};|%[0-9a-fA-F]{2}")
_REMOVABLE_RE = re.compile(f"[{_REMOVABLE}]")
_TOKEN_SENSITIVE = re.compile("[" + "".join(_CONFUSABLES) + _COMBINING + "]")
_LAST_SPACE = re.compile(r"(?s:.*)\s")
_TOKEN_REST = re.compile(r"\S*")
_ANCHOR = re.compile(r"[A-Za-z0-9@]")
_COMBINING_RE = re.compile(f"[{_COMBINING}]")


@lru_cache(maxsize=4096)
def _fold(ch: str, mixed: bool) -> str:
    """The view's form of one non-ASCII character (``mixed``: its token also holds ASCII)."""
    if _REMOVABLE_RE.match(ch):
        return ""
    folded = _PUNCT.get(ch)
    if folded is None:
        folded = unicodedata.normalize("NFKC", ch)
    out = []
    for c in folded:
        if c.isascii():
            out.append(c)
        elif c in _PUNCT:
            out.append(_PUNCT[c])
        elif c.isdecimal():
            out.append(str(unicodedata.decimal(c)))
        elif mixed and c in _CONFUSABLES:
            out.append(_CONFUSABLES[c])
        elif mixed and _COMBINING_RE.match(c):
            continue
        else:
            out.append(c)
    return "".join(out)


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table that computes each character's fold on first use (bounded)."""

    def __init__(self, mixed: bool, resizing_only: bool = False) -> None:
        super().__init__()
        self._mixed = mixed
        self._resizing_only = resizing_only

    def __missing__(self, code: int) -> str:
        if len(self) >= 1 << 16:
            self.clear()
        ch = chr(code)
        value = _fold(ch, self._mixed)
        if self._resizing_only:
            value = "" if len(value) == 1 else ch
        self[code] = value
        return value


# Folds outside / inside mixed tokens; and tables that keep only the characters whose fold
# changes the length (the others translate to nothing), to tell 1:1 chunks apart cheaply.
_FOLDS = (_FoldTable(mixed=False), _FoldTable(mixed=True))
_RESIZING = (_FoldTable(mixed=False, resizing_only=True), _FoldTable(mixed=True, resizing_only=True))


@lru_cache(maxsize=1024)
def _decode(seq: str) -> str | None:
    """What an encoded sequence stands for, folded; None when it is not worth decoding."""
    m = _HOT.fullmatch(seq)
    if m is None:
        return None
    hex_code, dec_code, name, pct = m.groups()
    value: str | None
    if pct is not None:
        value = chr(int(pct, 16))
        return value if value in _DECODED_OK and value != " " else None
    if name is not None:
        from html.entities import html5  # large table: loaded only when an entity shows up

        value = html5.get(name + ";")
        if value is None:
            return None
    else:
        code = int(hex_code, 16) if hex_code is not None else int(dec_code)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        value = chr(code)
    folded = "".join(c if c.isascii() else _fold(c, True) for c in value)
    return folded if folded and all(c in _DECODED_OK for c in folded) else None


def _mixed_tokens(text: str) -> list[tuple[int, int]]:
    """Tokens holding a look-alike letter or combining mark *and* an ASCII letter, digit or '@'."""
    out: list[tuple[int, int]] = []
    pos = 0
    while (m := _TOKEN_SENSITIVE.search(text, pos)) is not None:
        i = m.start()
        before = _LAST_SPACE.match(text, pos, i)
        start = before.end() if before is not None else pos
        rest = _TOKEN_REST.match(text, i)
        end = rest.end() if rest is not None else i + 1
        token = text[start:end]
        if _ANCHOR.search(token) or _ANCHOR.search(unicodedata.normalize("NFKC", token)):
            out.append((start, end))
        pos = end
    return out


@dataclass(slots=True)
class TextView:
    """The normalised text, its UTF-8 bytes, and maps from byte offsets to original offsets."""

    original: str
    text: str
    data: bytes
    # Length-changing edits, in order: text[n_start:n_end] came from original[o_start:o_end].
    _edits: list[tuple[int, int, int, int]] = field(default_factory=list)
    _edit_starts: list[int] = field(default_factory=list)
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
        """Byte offsets in ``data`` are the caller's character offsets."""
        return self._cont is None and not self._edits

    def char_offset(self, byte_offset: int) -> int:
        """Character offset in the normalised text of a byte offset in ``data``."""
        if self._cont is None:
            return byte_offset
        block = byte_offset >> 8
        before = self._cont_prefix[block] + self._cont.count(1, block << 8, byte_offset)
        return byte_offset - before

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised character span to the original text.

        The start is where the first character's source begins (removed characters just before
        it are skipped), the end is where the last character's source ends, so a span never
        cuts an encoded sequence in two and keeps invisible characters that sit inside it.
        """
        if not self._edits:
            return start, end
        return self._source_start(start), self._source_end(end - 1)

    def _source_start(self, pos: int) -> int:
        i = bisect.bisect_right(self._edit_starts, pos) - 1
        if i < 0:
            return pos
        _, n_end, o_start, o_end = self._edits[i]
        return o_start if pos < n_end else o_end + (pos - n_end)

    def _source_end(self, pos: int) -> int:
        i = bisect.bisect_right(self._edit_starts, pos) - 1
        if i < 0:
            return pos + 1
        _, n_end, _, o_end = self._edits[i]
        return o_end if pos < n_end else o_end + (pos - n_end) + 1

    def span(self, byte_start: int, byte_end: int) -> tuple[int, int]:
        """Original character span of a byte span of ``data``."""
        return self.to_original(self.char_offset(byte_start), self.char_offset(byte_end))


_CONT_TABLE = bytes(1 if 0x80 <= b <= 0xBF else 0 for b in range(256))


def normalize(text: str) -> TextView:
    """Build the detection view of ``text``: O(n), no copy for ASCII without '%' or '&'."""
    if text.isascii() and (("%" not in text and "&" not in text) or not _ENCODED.search(text)):
        return TextView(original=text, text=text, data=text.encode("ascii"))
    pieces, edits = _rewrite(text)
    folded = "".join(pieces) if pieces else text
    data = folded.encode("utf-8", "surrogatepass")
    view = TextView(original=text, text=folded, data=data, _edits=edits, _edit_starts=[e[0] for e in edits])
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


def _rewrite(text: str) -> tuple[list[str], list[tuple[int, int, int, int]]]:
    """The view's pieces (empty when nothing changes) and its length-changing edits."""
    mixed = _mixed_tokens(text) if not text.isascii() else []
    if not mixed and not (("%" in text or "&" in text) and _ENCODED.search(text)):
        # Only script-independent folds: one C-level pass, and a second one to see whether
        # every fold is 1:1 (then offsets are unchanged and no map is needed).
        folded = text.translate(_FOLDS[False])
        if folded == text:
            return [], []
        if len(folded) == len(text) and not text.translate(_RESIZING[False]):
            return [folded], []
    n_mixed = len(mixed)
    m_index = 0
    pieces: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    last = 0  # original offset copied up to
    shift = 0  # view offset minus original offset at ``last``
    for m in _HOT.finditer(text):
        start, end = m.span()
        chunk = m.group()
        if chunk[0] in "&%":
            decoded = _decode(chunk)
            if decoded is None:
                continue
            pieces.append(text[last:start])
            pieces.append(decoded)
            edits.append((start + shift, start + shift + len(decoded), start, end))
            shift += len(decoded) - (end - start)
            last = end
            continue
        # A chunk lies inside one token (it stops at white space), so it is mixed or not as a whole.
        while m_index < n_mixed and mixed[m_index][1] <= start:
            m_index += 1
        in_mixed = m_index < n_mixed and mixed[m_index][0] <= start
        folded = chunk.translate(_FOLDS[in_mixed])
        if folded == chunk:
            continue
        pieces.append(text[last:start])
        pieces.append(folded)
        last = end
        if len(folded) == len(chunk) and not chunk.translate(_RESIZING[in_mixed]):
            continue  # 1:1 folds keep every offset
        table = _FOLDS[in_mixed]
        n = start + shift
        for k, ch in enumerate(chunk, start):
            rep = table[ord(ch)]
            if len(rep) != 1:
                edits.append((n, n + len(rep), k, k + 1))
            n += len(rep)
        shift = n - end
    if not pieces:
        return [], []
    pieces.append(text[last:])
    return pieces, edits
