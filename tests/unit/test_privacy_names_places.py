"""The fast path's PERSON / LOCATION cues for report-style prose: offices before names, speech
verbs after them, given names of many cultures, name particles, surname lists, place cues,
headlines in capitals; and the look-alikes each cue must leave alone (organisations, demonyms,
offices without a name)."""

from __future__ import annotations

import pytest
from steward.privacy import detect, lexicons


def found(text: str, entity_type: str) -> list[str]:
    return [text[f.start : f.end] for f in detect(text) if f.entity_type == entity_type]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Prime Minister Wiremu Tautahi will meet the unions.", "Wiremu Tautahi"),  # office in the run
        ("The treasurer, Ngozi Adeyemi, says growth will slow.", "Ngozi Adeyemi"),  # office before
        ("Coach Zoltan Kertesz dropped three players.", "Zoltan Kertesz"),
        ("Later Oyelaran Babatunde told the meeting it was over.", "Oyelaran Babatunde"),  # speech verb
        ("Talks with Dmitri Volkov ended early.", "Dmitri Volkov"),  # a given name from Faker's lists
        ("Reports say Osama bin Laden left the city.", "Osama bin Laden"),  # a particle inside
        ("He finished ahead of Grant Hackett in the final.", "Grant Hackett"),  # common given name
        ("Squad: Smith, Gilchrist, Langer and Hayden will play.", "Gilchrist"),  # a surname list
    ],
)
def test_person_cues(text: str, name: str) -> None:
    # Given report prose with a person cue  When scanned  Then the name is a PERSON
    assert name in found(text, "PERSON")


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Supplies reached Bangalore on Monday.", "Bangalore"),  # another spelling (Bengaluru)
        ("Officials in Gdansk said the port was closed.", "Gdansk"),  # folded to ASCII
        ("Customers in Adelaide and Darwin lost power.", "Darwin"),  # joined to a place by 'and'
        ("Floods along the Mekong have forced thousands out.", "Mekong"),  # a natural feature
        ("The talks moved to Sydney after the vote.", "Sydney"),  # a big city, also a given name
        ("FLOODS HIT MOZAMBIQUE AS AID ARRIVES", "MOZAMBIQUE"),  # a headline in capitals
        ("A Nairobi-based charity sent food.", "Nairobi"),  # '<place>-based'
        ("Fighting continued near Qalat-e-Ghilzay overnight.", "Qalat-e-Ghilzay"),  # unknown, cued
    ],
)
def test_place_cues(text: str, place: str) -> None:
    # Given prose with a place  When scanned  Then it is a LOCATION
    assert place in found(text, "LOCATION")


@pytest.mark.parametrize(
    "text",
    [
        "The Prime Minister will visit the region next week.",  # an office with no name
        "Professors at Kyoto University disputed the findings.",  # an organisation, not a place
        "The Sydney Morning Herald ran the story.",  # an organisation, not a person
        "Many Afghans crossed the border during the winter.",  # a demonym
        "On Tuesday the Victorian Government announced a review.",
        "PM TO MEET UNIONS OVER JOB CUTS",  # a headline with no place or name
        "The parser is written in Python and runs in Docker.",  # tools after 'in'
    ],
)
def test_look_alikes_are_not_names(text: str) -> None:
    # Given prose whose capitalised words are offices, organisations or demonyms
    # When scanned  Then no PERSON is reported, nor a place inside an organisation's name
    assert found(text, "PERSON") == []
    assert not {"Kyoto", "Python", "Docker"} & set(found(text, "LOCATION"))


def test_a_professor_keeps_his_name_before_an_organisation() -> None:
    # Given a person, a connector and an organisation in one capitalised run
    text = "Professor Kenji Watanabe of Osaka University said the data were sound."
    # Then the person is found and the organisation's place is not
    assert found(text, "PERSON") == ["Kenji Watanabe"]
    assert found(text, "LOCATION") == []


def test_world_name_lists_hold_names_of_many_cultures() -> None:
    # Given the lexicons built from the census and Faker's locales
    first, last = lexicons.first_names(), lexicons.last_names()
    # Then given names and surnames from outside the US census are known, in ASCII spelling too
    assert {"tomasz", "yusuf", "rahul", "kofi", "dmitri"} <= first
    assert {"kowalski", "nakamura", "okafor"} & last
    assert "Gdansk" in lexicons.places().kinds and "Mekong" in lexicons.places().kinds
