"""The privacy evaluation: independent sources that are reproducible and share nothing with the
tuning or training templates, and the bench's span-matching score."""

from __future__ import annotations

import ast
import itertools
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gpu_backend.build import pii_synth
from scripts import privacy_bench, privacy_eval, privacy_eval_news, privacy_eval_sources, privacy_eval_synth

REPO_ROOT = Path(__file__).resolve().parents[2]
SLOT = re.compile(r"\{[a-z_]+\}")


def _tuning_templates() -> list[str]:
    # Read from the script's source: the tuning corpus is Steward's, so it is compared, not run.
    tree = ast.parse((REPO_ROOT / "scripts" / "privacy_corpus.py").read_text(encoding="utf-8"))
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == "TEMPLATES"
    )
    return [ast.literal_eval(elt) for elt in node.value.elts]  # type: ignore[union-attr]


def _skeleton(template: str) -> str:
    return " ".join(SLOT.sub("{}", template).lower().split())


# --- the evaluation-only generator -------------------------------------------------------------


def test_the_same_seed_gives_the_same_digest_in_fresh_interpreters() -> None:
    # Given two interpreters with different string-hash seeds (set order differs between them)
    code = "from scripts import privacy_eval_synth as g; print(g.digest(g.generate(11, 40)))"
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    # Then seed 11 gives one digest, and another seed a different one
    assert len(digests) == 1
    assert privacy_eval_synth.digest(privacy_eval_synth.generate(11, 40)) in digests
    assert privacy_eval_synth.digest(privacy_eval_synth.generate(12, 40)) not in digests


def test_every_span_cuts_its_own_text_once() -> None:
    # Given generated records
    for rec in privacy_eval_synth.generate(5, 150):
        text = str(rec["text"])
        spans = sorted((int(s["start"]), int(s["end"])) for s in rec["spans"])  # type: ignore[attr-defined]
        # Then every span is inside the text, not blank, trimmed, and spans never overlap
        for start, end in spans:
            assert 0 <= start < end <= len(text)
            assert text[start:end].strip() == text[start:end]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_the_generator_covers_many_locales_brands_and_negatives() -> None:
    # Given the generator's value sources, then they are broader than the tuning corpus' seven locales
    assert len(privacy_eval_synth.NAME_LOCALES) >= 30
    assert {"jcb15", "maestro", "diners", "unionpay"} <= set(privacy_eval_synth.CARD_BRANDS)
    # And a UnionPay number built here passes Luhn, and a bad IBAN is refused
    number = privacy_eval_synth.luhn_complete("622126", 19, random.Random(3))
    digits = [int(d) for d in reversed(number)]
    assert sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0
    assert privacy_eval_synth.iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert not privacy_eval_synth.iban_is_valid("GB82 WEST 1234 5698 7654 33")


def test_evaluation_templates_share_no_sentence_with_tuning_or_training_templates() -> None:
    # Given the tuning corpus' templates and the deep model's training templates
    others = _tuning_templates() + list(pii_synth.TEMPLATES)
    assert len(others) > 100
    skeletons = {_skeleton(t) for t in others}
    joined = " || ".join(skeletons)
    for template in privacy_eval_synth.EVAL_TEMPLATES:
        # Then no evaluation template is one of theirs, slots aside
        assert _skeleton(template) not in skeletons, template
        # And no literal stretch of four words or more between slots is copied from theirs
        for fragment in SLOT.split(template):
            words = fragment.lower().split()
            if len(words) >= 4:
                assert " ".join(words) not in joined, (fragment, template)


# --- the annotated news ------------------------------------------------------------------------


def test_the_news_annotations_fit_the_corpus_shipped_in_gensim() -> None:
    # Given the hand annotations and the text read from the installed package
    records = privacy_eval_news.records()
    kinds = [s["type"] for r in records for s in r["spans"]]  # type: ignore[attr-defined]
    # Then every annotated sentence is found, repeats dropped, with a few hundred names and places
    assert len(records) >= 300
    assert kinds.count("PERSON") >= 100
    assert kinds.count("LOCATION") >= 200
    assert len({r["text"] for r in records}) == len(records)


def test_a_name_inside_an_excluded_phrase_is_not_labelled() -> None:
    # Given a sentence naming a place alone and inside an organisation's name
    text = "The New South Wales Rural Fire Service says New South Wales is dry; Mr Lee agrees with Brett Lee."
    ann = privacy_eval_news.Annotation(
        0, 0, (("New South Wales", "LOCATION"), ("Lee", "PERSON"), ("Brett Lee", "PERSON")),
        ("New South Wales Rural Fire Service",),
    )  # fmt: skip
    labelled = privacy_eval_news.label(text, ann)
    spans = [(text[int(str(s["start"])) : int(str(s["end"]))], s["type"]) for s in labelled]
    # Then only the free occurrence is a place, and the longer name wins over the shorter
    assert spans == [("New South Wales", "LOCATION"), ("Lee", "PERSON"), ("Brett Lee", "PERSON")]
    assert labelled[0]["start"] == text.index("says") + 5


def test_an_annotation_that_does_not_fit_the_text_is_refused() -> None:
    ann = privacy_eval_news.Annotation(0, 0, (("Canberra", "LOCATION"),), ())
    with pytest.raises(privacy_eval_news.AnnotationError):
        privacy_eval_news.label("Nothing about the capital here.", ann)


def test_sentences_are_not_cut_after_titles_or_initials() -> None:
    doc = "Mr. Smith met George W. Bush in Texas. They spoke for an hour! Then they left."
    assert privacy_eval_news.split_sentences(doc) == [
        "Mr. Smith met George W. Bush in Texas.",
        "They spoke for an hour!",
        "Then they left.",
    ]


# --- the bench's sources and scoring -----------------------------------------------------------


def test_the_tuning_corpus_is_never_a_headline_source() -> None:
    assert set(privacy_eval_sources.HEADLINE) == {"synth", "news"}
    tuning = privacy_eval_sources.SOURCES["tuning"]
    assert not tuning.headline
    assert tuning.label == "tuning (not independent)"


def _record(spans: list[tuple[int, int, str]]) -> dict[str, object]:
    return {"id": 0, "text": "x" * 60, "spans": [{"start": a, "end": b, "type": t} for a, b, t in spans]}


def test_a_match_needs_the_type_and_half_of_the_longer_span() -> None:
    # Given gold PERSON 0-10 and LOCATION 20-30, and predictions:
    #   PERSON 0-6 (6 of 10 overlap: a match), LOCATION 20-24 (4 of 10: no match),
    #   PERSON 40-45 (nothing there), LOCATION 50-58 over a gold PERSON 50-58 (wrong type)
    gold = [(0, 10, "PERSON"), (20, 30, "LOCATION"), (50, 58, "PERSON")]
    preds = [(0, 6, "PERSON"), (20, 24, "LOCATION"), (40, 45, "PERSON"), (50, 58, "LOCATION")]
    report = privacy_eval.evaluate([_record(gold)], lambda _text: preds)
    person, location = report.per_type["PERSON"], report.per_type["LOCATION"]
    # Then the counts follow the rule
    assert (person.tp, person.fp, person.fn) == (1, 1, 1)
    assert (location.tp, location.fp, location.fn) == (0, 2, 1)
    # And F2 weighs recall twice: P = R = 0.5 gives 0.5; P = 0.5, R = 1 gives 5/6
    assert person.f2 == pytest.approx(0.5)
    assert privacy_eval.Tally(tp=1, fp=1, fn=0).f2 == pytest.approx(5 / 6)


def test_a_gold_span_matches_once_and_unscored_types_are_ignored() -> None:
    gold = [(0, 10, "PERSON"), (20, 30, "DATE_TIME")]
    preds = [(0, 10, "PERSON"), (1, 9, "PERSON"), (40, 50, "PHONE_NUMBER")]
    report = privacy_eval.evaluate([_record(gold)], lambda _text: preds, ("PERSON",))
    assert (report.per_type["PERSON"].tp, report.per_type["PERSON"].fp) == (1, 1)
    assert "DATE_TIME" not in report.per_type
    assert "PHONE_NUMBER" not in report.per_type


def test_the_bench_prints_each_source_with_its_provenance(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a small run of the fast path on both headline sources
    assert privacy_bench.main(["--limit", "8", "--systems", "fast"]) == 0
    out = capsys.readouterr().out
    # Then each source is shown with its provenance, per-type rows and a speed
    assert "=== synth [independent]" in out and "=== news [independent]" in out
    assert out.count("provenance: ") == 2
    assert "evaluation-only generator" in out and "annotated by hand" in out
    assert "| synth | overall |" in out and "| news | PERSON |" in out
    assert "tuning" not in out.lower()


def test_a_type_with_nothing_to_score_prints_no_figure() -> None:
    report = privacy_eval.evaluate([_record([(0, 10, "PERSON")])], lambda _text: [(0, 10, "PERSON")])
    assert privacy_bench.f2(report, ("PERSON",)) == "1.000"
    assert privacy_bench.f2(report, ("LOCATION",)) == "-"
    assert privacy_bench.f2(None, ("PERSON",)) == "-"


def test_no_detector_or_model_build_reads_the_evaluation_data() -> None:
    # Given the code that ships or trains (the steward library, the backend and its model builds)
    markers = (
        "privacy_eval_synth",
        "privacy_eval_news",
        "lee_news_annotations",
        "lee_background",
        "EVAL_TEMPLATES",
    )
    roots = [REPO_ROOT / "layers" / "steward" / "python" / "steward", REPO_ROOT / "gpu_backend"]
    files = [path for root in roots for path in root.rglob("*.py")]
    assert len(files) > 50
    # Then none of it names the evaluation sources
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert not [m for m in markers if m in source], path
