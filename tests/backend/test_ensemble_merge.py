"""The ensemble's merge rules (``gpu_backend.models.ensemble``): addresses from the classifier win,
then the longer span, then the classifier on a tie; never two overlapping spans."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from gpu_backend.models.ensemble import merge, merge_with_readings

WINS = frozenset({"STREET_ADDRESS"})
#: Cased text in which every span of two or more characters holds a capital letter, so the
#: casing rules stay out of the tests of the other rules.
CAPS = "Ab" * 40


@dataclass(frozen=True)
class S:
    entity_type: str
    start: int
    end: int
    score: float = 0.9


def test_spans_found_by_one_model_only_are_kept() -> None:
    # Given a name found by the classifier and a place found by the second NER only
    ours, theirs = [S("PERSON", 0, 10, 0.7)], [S("LOCATION", 20, 26, 0.85)]
    # When they are merged
    # Then both are kept as they are, in text order
    assert merge(ours, theirs, WINS, CAPS) == [("PERSON", 0, 10, 0.7), ("LOCATION", 20, 26, 0.85)]


def test_the_longer_span_of_one_type_wins_and_takes_the_higher_score() -> None:
    # Given "John Smith" from the second NER and "Smith" from the classifier
    ours, theirs = [S("PERSON", 5, 10, 0.95)], [S("PERSON", 0, 10, 0.85)]
    # When merged
    # Then the longer span is kept once, with the higher of the two scores
    assert merge(ours, theirs, WINS, CAPS) == [("PERSON", 0, 10, 0.95)]
    # And the same holds the other way round
    assert merge([S("PERSON", 0, 10, 0.6)], [S("PERSON", 5, 10, 0.85)], WINS, CAPS) == [
        ("PERSON", 0, 10, 0.85)
    ]


def test_a_type_conflict_on_one_span_goes_to_the_classifier() -> None:
    # Given a place name the classifier reads as LOCATION and spaCy as PERSON, same span
    ours, theirs = [S("LOCATION", 3, 7, 0.8)], [S("PERSON", 3, 7, 0.85)]
    # When merged
    # Then the classifier's type is kept, with its own score (the other type does not agree)
    assert merge(ours, theirs, WINS, CAPS) == [("LOCATION", 3, 7, 0.8)]


def test_a_longer_span_of_another_type_wins_over_a_shorter_one() -> None:
    # Given "Paris Hilton" as PERSON (second NER) and "Paris" as LOCATION (classifier)
    ours, theirs = [S("LOCATION", 0, 5, 0.9)], [S("PERSON", 0, 12, 0.85)]
    # Then the longer reading wins
    assert merge(ours, theirs, WINS, CAPS) == [("PERSON", 0, 12, 0.85)]


def test_a_street_address_from_the_classifier_swallows_places_inside_it() -> None:
    # Given an address from the classifier, a longer place overlapping it and a separate place
    text = "Send it to 12 Baker Street, London NW1 6XE, not to Leeds."
    address = S("STREET_ADDRESS", 11, 42, 0.8)
    theirs = [S("LOCATION", 28, 42, 0.85), S("LOCATION", 51, 56, 0.85)]
    # When merged
    # Then the address stays whole, the overlapping place is dropped, the separate one is kept
    assert merge([address], theirs, WINS, text) == [
        ("STREET_ADDRESS", 11, 42, 0.8),
        ("LOCATION", 51, 56, 0.85),
    ]


def test_an_address_without_an_address_shape_yields_to_the_second_ner() -> None:
    # Given a lone place name the classifier calls a street address, and spaCy a place
    text = "Aid arrived in Kabul late yesterday."
    ours, theirs = [S("STREET_ADDRESS", 15, 20, 0.8)], [S("LOCATION", 15, 20, 0.85)]
    # When merged, then the place reading wins (no digit, not three words: not an address)
    assert merge(ours, theirs, WINS, text) == [("LOCATION", 15, 20, 0.85)]
    # But alone it is kept as the classifier said
    assert merge(ours, [], WINS, text) == [("STREET_ADDRESS", 15, 20, 0.8)]


def test_in_text_without_lower_case_the_second_ner_is_not_used() -> None:
    # Given a headline in capitals where spaCy tags words at random
    text = "QANTAS CUTS JOBS AFTER COLLAPSE"
    theirs = [S("PERSON", 0, 16, 0.85)]
    # When merged, then nothing of the second NER is kept
    assert merge([], theirs, WINS, text) == []
    # And the classifier's spans are (casing says nothing in capitals)
    assert merge([S("LOCATION", 0, 6, 0.7)], theirs, WINS, text) == [("LOCATION", 0, 6, 0.7)]


def test_the_answer_never_holds_overlapping_spans() -> None:
    # Given a chain of overlaps across both models
    ours = [S("PERSON", 0, 4), S("LOCATION", 6, 12), S("PERSON", 14, 20)]
    theirs = [S("PERSON", 2, 8), S("LOCATION", 10, 16), S("PERSON", 30, 31)]
    # When merged
    merged = merge(ours, theirs, WINS, CAPS)
    # Then no two kept spans overlap and each kept span is one of the inputs
    for (_, _a0, a1, _), (_, b0, _b1, _) in itertools.pairwise(merged):
        assert a1 <= b0
    inputs = {(s.entity_type, s.start, s.end) for s in [*ours, *theirs]}
    assert {(t, a, b) for t, a, b, _ in merged} <= inputs
    assert ("PERSON", 30, 31) in {(t, a, b) for t, a, b, _ in merged}


def test_nothing_in_nothing_out() -> None:
    assert merge([], [], WINS, CAPS) == []


def test_in_cased_text_a_lower_case_classifier_span_needs_the_second_ner() -> None:
    # Given cased prose where the classifier tags a common noun and a name, spaCy only the name
    text = "Volunteers cleaned the beaches with Anna Berg."
    beaches, anna = S("LOCATION", 23, 30, 0.7), S("PERSON", 36, 45, 0.9)
    # When merged
    merged = merge([beaches, anna], [], WINS, text)
    # Then the lower-case hit is dropped and the capitalised name kept
    assert merged == [("PERSON", 36, 45, 0.9)]
    # But in all-lower-case chat the same hits are kept (casing says nothing there)
    chat = text.lower()
    assert [m[0] for m in merge([beaches, anna], [], WINS, chat)] == ["LOCATION", "PERSON"]
    # And a lower-case street address is never dropped by this rule
    address = S("STREET_ADDRESS", 23, 30, 0.7)
    assert merge([address], [], WINS, text) == [("STREET_ADDRESS", 23, 30, 0.7)]


def test_in_cased_text_classifier_spans_lose_edge_words_without_a_capital() -> None:
    # Given cased prose where the classifier reaches into common words and a score
    text = "Floods in southern Laos; Martina Hingis 6-3 today."
    laos, hingis = S("LOCATION", 10, 23, 0.9), S("PERSON", 25, 41, 0.7)
    # When merged
    merged = merge([laos, hingis], [], WINS, text)
    # Then the spans are cut back to their capitalised words
    assert [text[a:b] for _, a, b, _ in merged] == ["Laos", "Martina Hingis"]
    # And in all-lower-case text they are kept whole
    assert [b - a for _, a, b, _ in merge([laos], [], WINS, text.lower())] == [13]


def test_an_unsure_classifier_span_never_pushes_out_the_second_ner() -> None:
    # Given a country the classifier calls PERSON at 0.47 and spaCy a place, and a longer unsure span
    ours = [S("PERSON", 0, 5, 0.47), S("LOCATION", 10, 30, 0.4)]
    theirs = [S("LOCATION", 0, 5, 0.85), S("PERSON", 12, 20, 0.85)]
    # When merged, then the second NER's spans are kept
    assert merge(ours, theirs, WINS, CAPS) == [("LOCATION", 0, 5, 0.85), ("PERSON", 12, 20, 0.85)]
    # And an unsure span alone is still answered (the policy's threshold decides)
    assert merge(ours[:1], [], WINS, CAPS) == [("PERSON", 0, 5, 0.47)]


def test_each_kept_span_carries_what_each_model_read_there() -> None:
    # Given a span both models found with different types, and one only the second NER found
    text = "Argentina led Uruguay in Montevideo."
    ours = [S("PERSON", 0, 9, 0.84)]
    theirs = [S("LOCATION", 0, 9, 0.85), S("LOCATION", 25, 35, 0.85)]
    # When merged with readings
    merged = merge_with_readings(ours, theirs, WINS, text)
    # Then the classifier's type wins the tie, and each span says what each model read there
    assert merged == [
        (("PERSON", 0, 9, 0.84), (("classifier", "PERSON"), ("spacy", "LOCATION"))),
        (("LOCATION", 25, 35, 0.85), (("spacy", "LOCATION"),)),
    ]
    # And merge() answers the same spans without them
    assert merge(ours, theirs, WINS, text) == [m for m, _ in merged]


def test_a_reading_is_the_type_of_the_span_that_overlaps_most() -> None:
    # Given a long classifier span over two second-NER spans of different types
    text = "Ab" * 20
    ours = [S("PERSON", 0, 20, 0.9)]
    theirs = [S("LOCATION", 0, 4, 0.85), S("PERSON", 6, 20, 0.85)]
    # When merged
    ((_, readings),) = merge_with_readings(ours, theirs, WINS, text)
    # Then the second NER's reading is the type of its larger overlapping span
    assert readings == (("classifier", "PERSON"), ("spacy", "PERSON"))
