"""Settling the deep path's spans with a third reader: Steward's own name and place rules.

The backend answers each span with the *readings* of its two models (the token classifier and
spaCy's NER: the type each gave to the text there). The fast path's name and place rules
(:class:`~steward.privacy.detectors.names_places.NamesPlacesDetector`, about 1 ms/KB in the
gateway) are a third reader whose mistakes differ from both models'. The rules:

1. **Type by majority.** When two readers call a span LOCATION and the answer says PERSON (or the
   reverse), the majority's type wins: the classifier reads a country at the start of a sentence
   as a person ("Argentina led ..."), and on equal spans the backend lets it decide.
2. **An even split goes to the lists**: a country, region or continent is a place; a word only
   the name lists hold is a person; anything else stays as answered.
3. **A lone reading is dropped** (only one reader calls it this type) when spaCy reads it as a
   nationality or group (NORP: "Palestinian"), or when it is one word at the start of a sentence
   (where every word has a capital) that no name or place list holds ("Rescuers pulled ...").
4. **Titles and offices are not names**: "Prime Minister Junichiro Koizumi" is answered from
   "Junichiro", and "Governor" alone is dropped (Steward's annotation guidelines).
5. **An address needs an address's shape or a second reader**: a digit and three words, or a
   German compound street ("Herma-Schüler-Ring 18"); else the classifier's "address" ("Samoa
   38-10", a score) is dropped and the other readers' names and places stand.
6. **Names and places only the rules found are added** where no kept span is: the lists know
   names the models miss.

These rules were chosen on Steward's development prose (``scripts/privacy_dev_prose*.py``) and
the tuning corpus, never on the evaluation sources; ``scripts/privacy_dev_names_eval.py --path
deep`` and ``scripts/privacy_eval.py --path deep`` print their effect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from steward.privacy import lexicons
from steward.privacy.detectors.names_places import is_title
from steward.privacy.findings import Finding

#: A rule finding counts as a reading from this score (the default per-type threshold).
RULES_MIN_SCORE = 0.5
_VOTED_TYPES = ("PERSON", "LOCATION")
_ADDRESS = "STREET_ADDRESS"
#: spaCy's label (OntoNotes) for nationalities and religious or political groups.
_GROUP = "NORP"
_ADDRESS_MIN_WORDS = 3
# A capitalised compound of 5+ letters before a German street word ('Kaiserring', not 'During').
_COMPOUND_STREET = re.compile(
    r"\b[A-ZÄÖÜ][\w\-]{4,}(?i:straße|strasse|gasse|platz|allee|ring|damm|ufer|weg)\b"
)
_AREAS = frozenset({"country", "region", "continent"})
_BEFORE_WORD = " \t\"'(\u201c\u2018"
_SENTENCE_END = ".!?:;\n\r"


@dataclass(frozen=True)
class ModelSpan:
    """One span of the backend's answer in the caller's text, with what each model read there."""

    entity_type: str
    start: int
    end: int
    score: float
    readings: Mapping[str, str]


def settle(model: Sequence[ModelSpan], rules: Sequence[Finding], text: str, detector: str) -> list[Finding]:
    """The deep path's findings: ``model`` spans settled with the ``rules`` reader (see module doc)."""
    rule_spans = [f for f in rules if f.score >= RULES_MIN_SCORE]
    out: list[Finding] = []
    for span in model:
        votes = list(span.readings.values()) or [span.entity_type]
        votes.append(_reading(span.start, span.end, rule_spans) or "")
        kind, start = span.entity_type, span.start
        if (
            kind == _ADDRESS
            and votes.count(_ADDRESS) < 2
            and not _address_shaped(text[span.start : span.end])
        ):
            continue
        if kind != _ADDRESS:
            kind = next((t for t in _VOTED_TYPES if t != kind and votes.count(t) >= 2), kind)
            if votes.count("PERSON") == votes.count("LOCATION"):
                kind = _listed_as(text[span.start : span.end]) or kind
            lone = votes.count(kind) <= 1
            if lone and (_GROUP in votes or _unknown_opening_word(text, span.start, span.end)):
                continue
            if kind == "PERSON":
                after = _after_titles(text, span.start, span.end)
                if after is None:
                    continue
                start = after
        out.append(Finding(kind, start, span.end, span.score, detector))
    kept = list(out)
    for f in rule_spans:
        if not any(f.start < k.end and k.start < f.end for k in kept):
            out.append(Finding(f.entity_type, f.start, f.end, f.score, detector))
    return sorted(out, key=lambda f: (f.start, f.end))


def _address_shaped(value: str) -> bool:
    """A house number or postcode (a digit) and a street: at least three words, or a German
    compound street name ('Herma-Schüler-Ring 18'); 'Samoa 38-10' is a score, '245' a number."""
    if not any(c.isdigit() for c in value):
        return False
    return len(value.split()) >= _ADDRESS_MIN_WORDS or _COMPOUND_STREET.search(value) is not None


def _listed_as(value: str) -> str | None:
    """How the lists settle a PERSON/LOCATION split: a country, region or continent is a place
    (some are surnames somewhere, 'Morocco', but rarely written alone); a word only the name
    lists hold is a person; anything else (a city that is also a first name: 'Sydney') is open."""
    kind = lexicons.places().kinds.get(value)
    if kind in _AREAS:
        return "LOCATION"
    if kind is None and _listed_name(value):
        return "PERSON"
    return None


def _after_titles(text: str, start: int, end: int) -> int | None:
    """Where the name starts after its leading titles ('Judge', 'Prime Minister'); None: all titles."""
    pos = start
    for word in text[start:end].split(" "):
        if not is_title(word.rstrip(".")):
            return pos
        pos += len(word) + 1
    return None


def _reading(start: int, end: int, spans: Sequence[Finding]) -> str | None:
    """The type of the span that overlaps ``[start, end)`` most (None: none does)."""
    best, most = None, 0
    for f in spans:
        shared = min(end, f.end) - max(start, f.start)
        if shared > most:
            best, most = f.entity_type, shared
    return best


def _unknown_opening_word(text: str, start: int, end: int) -> bool:
    """One word at the start of a sentence that no name or place list holds."""
    word = text[start:end]
    if any(c.isspace() for c in word):
        return False
    j = start - 1
    while j >= 0 and text[j] in _BEFORE_WORD:
        j -= 1
    if j >= 0 and text[j] not in _SENTENCE_END:
        return False
    for possessive in ("'s", "\u2019s"):
        word = word.removesuffix(possessive)
    return not _listed_name(word) and word not in lexicons.places().kinds


def _listed_name(word: str) -> bool:
    """A first or last name list holds ``word`` (the lists are lower-case)."""
    lower = word.lower()
    return lower in lexicons.first_names() or lower in lexicons.last_names()
