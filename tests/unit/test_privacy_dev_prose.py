"""Steward's development prose (for the ensemble and for the fast path's name and place rules):
every mark parses to a span that cuts its own text, and no sentence is taken from the evaluation
sources (it is tuning data, they are not)."""

from __future__ import annotations

from itertools import pairwise

from scripts import (
    privacy_dev_prose,
    privacy_dev_prose_ensemble,
    privacy_dev_prose_names,
    privacy_eval_news,
)

MARKED = (
    privacy_dev_prose.SENTENCES + privacy_dev_prose_names.SENTENCES + privacy_dev_prose_ensemble.SENTENCES
)
RECORDS = [privacy_dev_prose.parse(marked) for marked in MARKED]


def test_every_marked_span_cuts_its_own_text() -> None:
    # Given the marked-up sentences of the three development sets
    for marked in MARKED:
        # When parsed
        text, spans = privacy_dev_prose.parse(marked)
        # Then no markup is left and each span is the marked text with a known type
        assert "](" not in text and "[" not in text
        names = [m.group(1) for m in privacy_dev_prose._MARK.finditer(marked)]
        assert [text[a:b] for a, b, _ in spans] == names
        assert {kind for _, _, kind in spans} <= {"PERSON", "LOCATION"}


def test_no_sentence_comes_from_the_news_evaluation_source() -> None:
    # Given the news source's sentences and the development sentences
    news = "\n".join(str(r["text"]) for r in privacy_eval_news.records())
    # Then no development sentence, nor any 6-word stretch of one, appears in the news text
    for text, _ in RECORDS:
        words = text.split()
        for i in range(max(1, len(words) - 5)):
            assert " ".join(words[i : i + 6]) not in news, text


def test_every_span_is_trimmed_and_no_two_spans_cross() -> None:
    # Given the parsed development sentences
    for text, spans in RECORDS:
        # Then each span starts and ends on a visible character, and spans follow one another
        for start, end, _ in spans:
            assert start < end and text[start:end] == text[start:end].strip(), text
        ordered = sorted(spans)
        assert all(a[1] <= b[0] for a, b in pairwise(ordered)), text


def test_the_ensemble_set_has_its_planned_size_and_both_types() -> None:
    # Given the third set, written after the fast path's rules were chosen
    records = privacy_dev_prose_ensemble.records()
    kinds = [kind for _, spans in records for _, _, kind in spans]
    # Then it holds 200 distinct sentences, some without any entity, and both types
    assert len(records) == 200 == len({text for text, _ in records})
    assert any(not spans for _, spans in records)
    assert kinds.count("PERSON") > 100 and kinds.count("LOCATION") > 150
