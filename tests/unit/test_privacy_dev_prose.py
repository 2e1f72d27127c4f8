"""Steward's development prose (for the ensemble and for the fast path's name and place rules):
every mark parses to a span that cuts its own text, and no sentence is taken from the evaluation
sources (it is tuning data, they are not)."""

from __future__ import annotations

from scripts import privacy_dev_prose, privacy_dev_prose_names, privacy_eval_news

MARKED = privacy_dev_prose.SENTENCES + privacy_dev_prose_names.SENTENCES


def test_every_marked_span_cuts_its_own_text() -> None:
    # Given the marked-up sentences of both development sets
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
    for text, _ in privacy_dev_prose.records() + privacy_dev_prose_names.records():
        words = text.split()
        for i in range(max(1, len(words) - 5)):
            assert " ".join(words[i : i + 6]) not in news, text
