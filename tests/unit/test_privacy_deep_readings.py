"""The deep path's third reader (``steward.privacy.detectors.deep_readings``): the type by majority,
a lone reader's unknown sentence-initial word dropped, the rules' own names added; addresses kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from steward.privacy.detectors.deep_readings import ModelSpan, settle
from steward.privacy.detectors.names_places import NamesPlacesDetector
from steward.privacy.findings import Finding
from steward.privacy.normalize import normalize

from tests.unit.test_privacy_deep_detector import answer, detector_answering


def model(text: str, value: str, kind: str, **readings: str) -> ModelSpan:
    start = text.index(value)
    return ModelSpan(kind, start, start + len(value), 0.9, readings)


def rule(text: str, value: str, kind: str, score: float = 0.8) -> Finding:
    start = text.index(value)
    return Finding(kind, start, start + len(value), score, "names_places")


def settled(spans: list[ModelSpan], rules: list[Finding], text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in settle(spans, rules, text, "deep_pii")]


def test_two_readers_that_agree_on_a_type_outvote_the_answer() -> None:
    # Given a sentence-initial country the classifier read as a person and spaCy as a place
    text = "Argentina led Uruguay 1-0."
    span = model(text, "Argentina", "PERSON", classifier="PERSON", spacy="LOCATION")
    # When the rules read it as a place too
    # Then it is a LOCATION
    assert settled([span], [rule(text, "Argentina", "LOCATION")], text) == [("LOCATION", "Argentina")]
    # And without the rules' vote, on a word no list holds, the answer's type stands
    other = "Fans saw Zorbania lead Uruguay 1-0."
    assert settled(
        [model(other, "Zorbania", "PERSON", classifier="PERSON", spacy="LOCATION")], [], other
    ) == [("PERSON", "Zorbania")]


def test_a_lone_readers_unknown_word_at_a_sentence_start_is_dropped() -> None:
    # Given capitalised common words at sentence starts that only the classifier read as names
    text = 'Rescuers pulled her out. "Cholera is spreading," she said.'
    spans = [
        model(text, "Rescuers", "PERSON", classifier="PERSON"),
        model(text, "Cholera", "PERSON", classifier="PERSON"),
    ]
    # Then both are dropped: after a full stop (and an opening quote), a capital says nothing
    assert settled(spans, [], text) == []


@pytest.mark.parametrize(
    ("text", "value", "why"),
    [
        ("Spaulding scored twice.", "Spaulding", "a surname the lists know"),
        ("Gisborne was flooded.", "Gisborne", "a place the lists know"),
        ("Spaulding's goal won it.", "Spaulding's", "a known name with its possessive"),
        ("Then Rescuers arrived.", "Rescuers", "not at a sentence start"),
        ("Aroha Ngata chairs it.", "Aroha Ngata", "two words"),
    ],
)
def test_a_lone_reading_is_kept_when_it_is_known_or_not_at_a_sentence_start(
    text: str, value: str, why: str
) -> None:
    # Given a span only the classifier found
    span = model(text, value, "PERSON", classifier="PERSON")
    # Then it is kept
    assert settled([span], [], text) == [("PERSON", value)], why


def test_a_word_two_readers_agree_on_is_kept_even_when_unknown() -> None:
    text = "Zorblax said no."
    span = model(text, "Zorblax", "PERSON", classifier="PERSON", spacy="PERSON")
    assert settled([span], [], text) == [("PERSON", "Zorblax")]


def test_names_only_the_rules_found_are_added_and_weak_rule_findings_are_not() -> None:
    # Given a model answer with one name, and rules that found another name and a weak guess
    text = "Maria Garcia met Tevita Fifita in Apia."
    spans = [model(text, "Maria Garcia", "PERSON", classifier="PERSON", spacy="PERSON")]
    rules = [
        rule(text, "Maria Garcia", "PERSON"),
        rule(text, "Tevita Fifita", "PERSON"),
        rule(text, "Apia", "LOCATION", score=0.3),
    ]
    # Then the rules' name joins the answer; the guess under the threshold does not
    assert settled(spans, rules, text) == [("PERSON", "Maria Garcia"), ("PERSON", "Tevita Fifita")]


def test_an_address_without_an_addresss_shape_gives_way_to_the_other_readings() -> None:
    # Given a sport score the classifier alone read as an address, and a bare number
    text = "Fiji beat Samoa 38-10 in Suva, at gate 245."
    score = model(text, "Samoa 38-10", "STREET_ADDRESS", classifier="STREET_ADDRESS", spacy="ORG")
    number = model(text, "245", "STREET_ADDRESS", classifier="STREET_ADDRESS", spacy="FAC")
    # When the rules read the team's country as a place
    # Then the place stands instead of the "address", and the number is nothing
    assert settled([score, number], [rule(text, "Samoa", "LOCATION")], text) == [("LOCATION", "Samoa")]


@pytest.mark.parametrize(
    "value", ["221 Baker Street, London", "Herma-Schüler-Ring 18", "Kaiserring 5", "Studio 98v Bird Isle"]
)
def test_address_shaped_spans_stand_on_the_classifiers_reading_alone(value: str) -> None:
    text = f"Send it to {value} please."
    span = model(text, value, "STREET_ADDRESS", classifier="STREET_ADDRESS")
    assert settled([span], [], text) == [("STREET_ADDRESS", value)]


def test_street_addresses_stand_as_the_backend_answered_them() -> None:
    text = "Send it to 221 Baker Street, London."
    span = model(
        text, "221 Baker Street, London", "STREET_ADDRESS", classifier="STREET_ADDRESS", spacy="LOCATION"
    )
    rules = [rule(text, "London", "LOCATION")]
    assert settled([span], rules, text) == [("STREET_ADDRESS", "221 Baker Street, London")]


def test_the_detector_settles_the_backends_readings_with_its_rules() -> None:
    # Given a backend that reads a sentence-initial country as a person (spaCy disagreeing)
    text = "Argentina led Uruguay, said coach Maria Lopez."
    argentina: dict[str, Any] = {"entity_type": "PERSON", "start": 0, "end": 9, "score": 0.84,
                                 "readings": {"classifier": "PERSON", "spacy": "LOCATION"}}  # fmt: skip
    detector, _ = detector_answering(lambda _t, _r: answer([argentina]))
    detector._rules = NamesPlacesDetector()
    # When the detector runs with the fast path's name rules as its third reader
    found = [(f.entity_type, text[f.start : f.end], f.detector) for f in detector.detect(normalize(text))]
    # Then the country is a place, and the names the rules know join the answer as deep findings
    assert ("LOCATION", "Argentina", "deep_pii") in found
    assert ("PERSON", "Maria Lopez", "deep_pii") in found
    assert ("PERSON", "Argentina", "deep_pii") not in found


@pytest.mark.parametrize("readings", [["PERSON"], {"classifier": 1}, "PERSON", {"spacy": None}])
def test_malformed_readings_are_a_response_error(readings: Any) -> None:
    from steward.privacy.detectors.deep import DeepPiiResponseError, parse_entities

    item = {"entity_type": "PERSON", "start": 0, "end": 4, "score": 0.9, "readings": readings}
    payload = {
        "outputs": [{"name": "entities", "datatype": "BYTES", "shape": [1], "data": [json.dumps([item])]}]
    }
    with pytest.raises(DeepPiiResponseError):
        parse_entities(payload)


def test_an_even_split_between_person_and_place_goes_to_the_list_that_holds_the_word() -> None:
    # Given sentence-initial words the classifier read as people and spaCy as places, rules silent
    text = "Morocco recalled its envoy. Sydney won. Spaulding lost."
    morocco = model(text, "Morocco", "PERSON", classifier="PERSON", spacy="LOCATION")
    sydney = model(text, "Sydney", "PERSON", classifier="PERSON", spacy="LOCATION")
    spaulding = model(text, "Spaulding", "LOCATION", classifier="LOCATION", spacy="PERSON")
    # Then a country is a place, a word only the name lists hold is a person, and a city that is
    # also a first name stays as answered
    assert settled([morocco, sydney, spaulding], [], text) == [
        ("LOCATION", "Morocco"),
        ("PERSON", "Sydney"),
        ("PERSON", "Spaulding"),
    ]


def test_a_lone_name_or_place_that_spacy_reads_as_a_nationality_is_dropped() -> None:
    # Given a demonym the classifier alone read as a place, spaCy reading it as NORP
    text = "Palestinian officials met in Ramallah."
    demonym = model(text, "Palestinian", "LOCATION", classifier="LOCATION", spacy="NORP")
    ramallah = model(text, "Ramallah", "LOCATION", classifier="LOCATION", spacy="LOCATION")
    # Then only the city is kept
    assert settled([demonym, ramallah], [], text) == [("LOCATION", "Ramallah")]
    # And two readers agreeing outweigh spaCy's reading
    assert settled([demonym], [rule(text, "Palestinian", "LOCATION")], text) == [("LOCATION", "Palestinian")]


def test_titles_and_offices_are_not_part_of_a_name() -> None:
    # Given person spans that start with titles, and one that is only an office
    text = "Prime Minister Junichiro Koizumi and Dr. Ebele Nwosu thanked the Governor."
    spans = [
        model(text, "Prime Minister Junichiro Koizumi", "PERSON", classifier="PERSON", spacy="PERSON"),
        model(text, "Dr. Ebele Nwosu", "PERSON", classifier="PERSON", spacy="PERSON"),
        model(text, "Governor", "PERSON", classifier="PERSON", spacy="PERSON"),
    ]
    # Then the names start after their titles, and the office alone is no name
    assert settled(spans, [], text) == [("PERSON", "Junichiro Koizumi"), ("PERSON", "Ebele Nwosu")]
