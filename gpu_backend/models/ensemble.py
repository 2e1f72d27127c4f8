"""Merging the token classifier's spans with a second NER's spans into one non-overlapping answer.

The two models err differently: the classifier (uncased encoder, template-trained on many
cultures' names, geonames places and street addresses) knows unfamiliar names and places; spaCy's
NER (cased, trained on annotated news and web text, OntoNotes 5) knows how names and places sit
in real prose and finds what the classifier misses there. The rules pick spans greedily, never
two that overlap, in this order:

1. the classifier's spans of a type in ``classifier_wins`` (STREET_ADDRESS): a city or a street
   name inside an address is part of the address;
2. then the longer span first ("John Smith" over "Smith", whichever model found it);
3. on equal length the classifier's: when the two disagree on the type of one span (spaCy reads
   many non-English place names as people), the model that was trained on those names decides.

A span found by one model only is kept as it is, with one exception: in cased text (it holds
both upper- and lower-case letters) a classifier span with no capital letter that the second NER
does not overlap is dropped (addresses aside). Names in cased English prose are capitalised; the
uncased encoder's lower-case hits there are common nouns ("beaches"). In all-lower-case chat or an
all-caps headline casing says nothing, and such spans are kept. (Chosen on the tuning corpus and
Steward's development prose, ``scripts/privacy_dev_prose.py``: it raised F2 on both.)

A kept span takes the highest score among the spans of its type that it overlaps (both models
agreeing is stronger evidence than one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SpanLike(Protocol):
    @property
    def entity_type(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...


Merged = tuple[str, int, int, float]
CLASSIFIER, SECOND = 0, 1


def _overlaps(a: SpanLike, b: SpanLike) -> bool:
    return a.start < b.end and b.start < a.end


def _has_capital(chunk: str) -> bool:
    return any(c.isupper() for c in chunk)


def _is_cased(text: str) -> bool:
    return _has_capital(text) and any(c.islower() for c in text)


def merge(
    classifier: Sequence[SpanLike], second: Sequence[SpanLike], classifier_wins: frozenset[str], text: str
) -> list[Merged]:
    """``(type, start, end, score)`` sorted by start; see the module docstring for the rules."""
    cased = _is_cased(text)
    ours = [
        s for s in classifier
        if not cased
        or s.entity_type in classifier_wins
        or _has_capital(text[s.start : s.end])
        or any(_overlaps(s, other) for other in second)
    ]  # fmt: skip
    candidates = [(CLASSIFIER, s) for s in ours] + [(SECOND, s) for s in second]

    def priority(item: tuple[int, SpanLike]) -> tuple[int, int, int, int]:
        source, span = item
        first = 0 if source == CLASSIFIER and span.entity_type in classifier_wins else 1
        return (first, span.start - span.end, source, span.start)

    kept: list[SpanLike] = []
    for _, span in sorted(candidates, key=priority):
        if not any(_overlaps(span, other) for other in kept):
            kept.append(span)
    merged: list[Merged] = []
    for span in kept:
        agreeing = [
            s.score for _, s in candidates if s.entity_type == span.entity_type and _overlaps(s, span)
        ]
        merged.append((span.entity_type, span.start, span.end, max(agreeing)))
    return sorted(merged, key=lambda m: (m[1], m[2]))
