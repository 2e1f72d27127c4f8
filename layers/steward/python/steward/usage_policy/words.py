"""Word lists that see through case, accents and the usual obfuscations, on word boundaries.

A text and every listed word or phrase go through the same :func:`canonical_tokens`, and a rule
matches when one of its entries equals a run of whole tokens: ``ass`` never matches inside
``class`` or ``assessment`` (the Scunthorpe problem), ``kill`` never inside ``skills``.

What is seen through, in order:

1. `steward.privacy.normalize`: invisible characters, ``&#NN;``/``%HH`` encodings, fullwidth and
   mathematical letters (NFKC), look-alikes inside mixed-script tokens.
2. Look-alike letters of other scripts everywhere (a word written all in Cyrillic
   look-alikes is folded too: here the point is to catch evasion, and a real Russian word that folds to a
   listed Latin word is rare), then accents (NFKD, combining marks dropped) and case (casefold).
3. Leetspeak inside a token that holds a letter (``a55``, ``h4te``, ``sh!t``, ``$hit``): digits
   and symbols become the letter they stand for. A token of digits only stays as it is (``455``
   is a number), and a trailing ``!`` is punctuation (``hello!``).
4. ``l``, ``1``, ``|``, ``!`` and ``i`` are one letter (``k1ll``, ``ki11`` and ``kiII`` all read
   ``kill``); the same fold applies to the list, so only those spellings collide.
5. Letters spaced out (``k i l l``, ``k.i.l.l``, ``k-i-l-l``): three or more one-character
   tokens, each one to three separator characters apart on one line, are also read joined.

Everything is linear in the text: one normalisation, one tokenising scan, set lookups.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from steward.privacy.normalize import _CONFUSABLES, normalize

#: Every look-alike letter of another script folded to the ASCII one it imitates.
_LOOKALIKES = str.maketrans(_CONFUSABLES)
#: Leetspeak, applied to tokens that hold a letter; ``l`` joins ``i`` (see the module docstring).
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "l": "i"}
)  # fmt: skip
_I_FOLD = str.maketrans({"l": "i", "1": "i", "|": "i", "!": "i"})
_L_FOLD = str.maketrans({"l": "i"})
#: Whether a text has anything for step 3 (else every token is taken as it is: the fast path).
_LEETISH = re.compile(r"[0-9]|[@$!|+][^\W_]")
_WORD = re.compile(r"[^\W_]+")
#: A token: letters and digits of any script, with the leet symbols inside it.
_TOKEN = re.compile(r"(?:[^\W_]|[@$!|+])+")
_EDGE_PUNCT = "!|+"
_SPACED_GAP = re.compile(r"(?:[^\w\n]|_){1,3}")
_MIN_SPACED = 3
#: Whether a text may hold a spaced-out word (three one-character tokens in a row).
_SPACED_RUN = re.compile(r"(?:^|[\W_])(?:[^\W_](?:[^\w\n]|_){1,3}){2,}[^\W_](?![^\W_])")


def fold(text: str) -> str:
    """Steps 1 and 2: the text with look-alikes, accents and case folded (lengths may change)."""
    view = normalize(text).text
    if not view.isascii():
        view = unicodedata.normalize("NFKD", view.translate(_LOOKALIKES))
        view = "".join(c for c in view if not unicodedata.combining(c))
    return view.casefold()


def _token(raw: str) -> str:
    """Steps 3 and 4 on one token."""
    if raw.isalpha():
        return raw.translate(_L_FOLD)
    if any(c.isalpha() for c in raw):
        return raw.translate(_LEET)
    return raw.translate(_I_FOLD)


def _raw_tokens(folded: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _TOKEN.finditer(folded):
        raw = m.group().strip(_EDGE_PUNCT)
        if raw:
            start = m.start() + m.group().index(raw[0])
            out.append((start, start + len(raw), raw))
    return out


def canonical_tokens(text: str) -> tuple[list[str], list[str] | None]:
    """The text's canonical tokens, and (when letters were spaced out) the same sequence with
    each spaced run read as one token; None when there is no spaced run."""
    folded = fold(text)
    if _LEETISH.search(folded) is None:  # common case: one C-level fold, no per-token work
        tokens = _WORD.findall(folded.translate(_L_FOLD))
        if _SPACED_RUN.search(folded) is None:
            return tokens, None
    raw = _raw_tokens(folded)
    tokens = [_token(r) for _, _, r in raw]
    if _SPACED_RUN.search(folded) is None:
        return tokens, None
    joined: list[str] = []
    run: list[str] = []
    spaced = False

    def close() -> None:
        nonlocal spaced
        if len(run) >= _MIN_SPACED:
            joined.append(_token("".join(run)))
            spaced = True
        else:
            joined.extend(_token(r) for r in run)
        run.clear()

    previous_end = -1
    for start, end, r in raw:
        single = end - start == 1
        adjacent = bool(run) and _SPACED_GAP.fullmatch(folded, previous_end, start) is not None
        if single and (adjacent or not run):
            run.append(r)
        else:
            close()
            if single:
                run.append(r)
            else:
                joined.append(_token(r))
        previous_end = end
    close()
    return tokens, (joined if spaced else None)


def entry_tokens(entry: str) -> tuple[str, ...]:
    """A listed word or phrase as canonical tokens (empty when it holds no letter or digit)."""
    return tuple(_token(r) for _, _, r in _raw_tokens(fold(entry)))


class WordMatcher:
    """Which word-list rules a text hits. ``rules``: one entry list per rule, by rule index."""

    __slots__ = ("_phrases", "_singles")

    def __init__(self, rules: Sequence[Iterable[str]]) -> None:
        self._singles: dict[str, set[int]] = {}
        self._phrases: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for index, entries in enumerate(rules):
            for entry in entries:
                tokens = entry_tokens(entry)
                if len(tokens) == 1:
                    self._singles.setdefault(tokens[0], set()).add(index)
                elif tokens:
                    self._phrases.setdefault(tokens[0], []).append((tokens[1:], index))

    def __bool__(self) -> bool:
        return bool(self._singles or self._phrases)

    def matches(self, text: str) -> set[int]:
        """Indexes of the rules with an entry in ``text``."""
        tokens, joined = canonical_tokens(text)
        hits = self._hits(tokens)
        if joined is not None:
            hits |= self._hits(joined)
        return hits

    def _hits(self, tokens: list[str]) -> set[int]:
        hits: set[int] = set()
        singles, phrases = self._singles, self._phrases
        for token in singles.keys() & set(tokens) if singles else ():
            hits |= singles[token]
        if phrases:
            n = len(tokens)
            for i, token in enumerate(tokens):
                for tail, index in phrases.get(token, ()):
                    if tuple(tokens[i + 1 : i + 1 + len(tail)]) == tail and i + len(tail) < n:
                        hits.add(index)
        return hits
