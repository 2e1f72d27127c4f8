"""Merging the token classifier's spans with a second NER's spans into one non-overlapping answer.

The two models err differently: the classifier (uncased encoder, template-trained on many
cultures' names, geonames places and street addresses) knows unfamiliar names and places; spaCy's
NER (cased, trained on annotated news and web text, OntoNotes 5) knows how names and places sit
in real prose and finds what the classifier misses there. The rules pick spans greedily, never
two that overlap, in this order:

1. the classifier's street addresses that look like one (a digit and at least three words: a
   house number or a postcode, and a street): a city or a street name inside an address is part
   of the address;
2. then the longer span first ("John Smith" over "Smith", whichever model found it);
3. on equal length the classifier's: when the two disagree on the type of one span (spaCy reads
   many non-English place names as people), the model that was trained on those names decides;
   except a classifier "address" without that shape ("Kabul" as STREET_ADDRESS), which yields
   to the second NER's reading;
4. last, the classifier's unsure spans (probability under 0.5, which the default threshold drops
   anyway): they never push out a span of the second NER.

A span found by one model only is kept as it is, with two exceptions that follow from what each
model can see:

- in cased text (both upper- and lower-case letters) the classifier's names and places lose
  their leading and trailing words without a capital letter, and a span left empty is dropped:
  names in cased English prose are capitalised, and the uncased encoder reaches into common words
  there ("southern Laos", "Hingis 6") or tags them alone ("beaches"); in all-lower-case chat
  casing says nothing, and its spans are kept as they are;
- in text without a lower-case letter (a headline in capitals) the cased second NER is not used:
  it was never trained on such text and tags words at random there.

Each kept span also carries the *readings* of both models: the type each gave to the text there
(its span that overlaps most; for spaCy also the labels that are never answered, such as ORG or
NORP), so the gateway can weigh them against a third reader of its own
(``steward.privacy.detectors.deep_readings``).

These rules were chosen on the tuning corpus and Steward's development prose
(``scripts/privacy_dev_prose.py``), never on the evaluation sources. A kept span takes the highest
score among the spans of its type that it overlaps (two models agreeing is stronger evidence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Span:
    entity_type: str
    start: int
    end: int
    score: float


Merged = tuple[str, int, int, float]
_WORD = re.compile(r"\S+")
CLASSIFIER, SECOND, WEAK_CLASSIFIER = 0, 1, 2
ADDRESS_MIN_WORDS = 3
UNSURE = 0.5


def _overlaps(a: SpanLike, b: SpanLike) -> bool:
    return a.start < b.end and b.start < a.end


def _has_capital(chunk: str) -> bool:
    return any(c.isupper() for c in chunk)


def _has_lower(chunk: str) -> bool:
    return any(c.islower() for c in chunk)


def trim_to_capitals(span: SpanLike, text: str) -> Span | None:
    """The span without its leading and trailing words that hold no capital letter (None: none left)."""
    words = [
        (m.start() + span.start, m.end() + span.start) for m in _WORD.finditer(text[span.start : span.end])
    ]
    while words and not _has_capital(text[words[0][0] : words[0][1]]):
        words.pop(0)
    while words and not _has_capital(text[words[-1][0] : words[-1][1]]):
        words.pop()
    if not words:
        return None
    return Span(span.entity_type, words[0][0], words[-1][1], span.score)


def looks_like_address(chunk: str) -> bool:
    """A house number or postcode (a digit) and a street: at least three words."""
    return any(c.isdigit() for c in chunk) and len(chunk.split()) >= ADDRESS_MIN_WORDS


#: Names of the two readers in an answer's ``readings``.
CLASSIFIER_READER, SECOND_READER = "classifier", "spacy"
Readings = tuple[tuple[str, str], ...]


def merge(
    classifier: Sequence[SpanLike], second: Sequence[SpanLike], classifier_wins: frozenset[str], text: str
) -> list[Merged]:
    """``(type, start, end, score)`` sorted by start; see the module docstring for the rules."""
    return [m for m, _ in merge_with_readings(classifier, second, classifier_wins, text)]


def _reading(span: SpanLike, spans: Sequence[SpanLike]) -> str | None:
    """The type of the span in ``spans`` that overlaps ``span`` most (None: none overlaps)."""
    best, most = None, 0
    for other in spans:
        shared = min(span.end, other.end) - max(span.start, other.start)
        if shared > most:
            best, most = other.entity_type, shared
    return best


def merge_with_readings(
    classifier: Sequence[SpanLike],
    second: Sequence[SpanLike],
    classifier_wins: frozenset[str],
    text: str,
    second_others: Sequence[SpanLike] = (),
) -> list[tuple[Merged, Readings]]:
    """:func:`merge`'s spans, each with ``((reader, type), ...)``: what each model read there.

    ``second_others`` are the second NER's spans of types that are never answered (an
    organisation, a nationality, a date): they are readings only."""
    second_read: Sequence[SpanLike] = [*second, *second_others] if _has_lower(text) else []
    if not _has_lower(text):
        second = []
    ours: list[SpanLike] = list(classifier)
    if _has_capital(text) and _has_lower(text):
        trimmed = (s if s.entity_type in classifier_wins else trim_to_capitals(s, text) for s in classifier)
        ours = [s for s in trimmed if s is not None]

    def rank(source: int, span: SpanLike) -> tuple[int, int]:
        """(rule 1 class, tie-break class) of one candidate."""
        if source == CLASSIFIER and span.score < UNSURE:
            return 2, CLASSIFIER
        if source == CLASSIFIER and span.entity_type in classifier_wins:
            if looks_like_address(text[span.start : span.end]):
                return 0, CLASSIFIER
            return 1, WEAK_CLASSIFIER
        return 1, source

    candidates = [(CLASSIFIER, s) for s in ours] + [(SECOND, s) for s in second]

    def priority(item: tuple[int, SpanLike]) -> tuple[int, int, int, int]:
        source, span = item
        first, tie = rank(source, span)
        return (first, span.start - span.end, tie, span.start)

    kept: list[SpanLike] = []
    for _, span in sorted(candidates, key=priority):
        if not any(_overlaps(span, other) for other in kept):
            kept.append(span)
    merged: list[tuple[Merged, Readings]] = []
    for span in kept:
        agreeing = [
            s.score for _, s in candidates if s.entity_type == span.entity_type and _overlaps(s, span)
        ]
        readings = tuple(
            (reader, kind)
            for reader, spans in ((CLASSIFIER_READER, ours), (SECOND_READER, second_read))
            if (kind := _reading(span, spans)) is not None
        )
        merged.append(((span.entity_type, span.start, span.end, max(agreeing)), readings))
    return sorted(merged, key=lambda m: (m[0][1], m[0][2]))
