"""Calibrate the denied-topic check on the tuning set, then measure it on the held-out set.

The real model runs in-process: ``gpu_backend``'s own ``EmbeddingModel`` (the served tokenizer,
truncation and pooling) over ``models/all-minilm-l6-v2/1`` on the CPU provider, behind the same
``TopicEmbedder`` port the gateway uses, and every score comes from ``steward.usage_policy.topics``.

1. Tuning (``tests/fixtures/topics/tuning.jsonl``: the topics, and labelled texts): for each
   scoring rule (max over definition + examples, definition only, nearest example only, blends),
   sweep the threshold over the midpoints between observed scores and keep the one with the best
   request-level F1 (ties: higher precision, then the higher threshold). The best rule wins.
2. Held-out (``tests/fixtures/topics/heldout.jsonl``): on-topic paraphrases and benign near-misses
   written apart from the tuning texts. It is read ONLY here, after the choice is made, to report
   precision and recall; nothing it holds feeds back into the threshold or the rule.

Request level: a text is positive when it is on some denied topic, predicted positive when any
topic matches (what decides a block). Rule level: the best-scoring matched topic (the one a
400 ``policy.denied_topic`` names) counts as right only when it is the text's own topic.

Usage: .venv/bin/python scripts/calibrate_topics.py [--models models] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from steward.usage_policy.topics import (
    DEFAULT_SCORING,
    DEFAULT_THRESHOLD,
    Scoring,
    TopicChecker,
    TopicVectorCache,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "topics"
TUNING = FIXTURES / "tuning.jsonl"
HELDOUT = FIXTURES / "heldout.jsonl"
MODEL = ("all-minilm-l6-v2", "1")
CANDIDATES = (
    Scoring(None),
    Scoring(1.0),
    Scoring(0.0),
    Scoring(0.25),
    Scoring(0.5),
    Scoring(0.75),
)


@dataclass(frozen=True)
class Topic:
    name: str
    definition: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Labelled:
    text: str
    topic: str | None
    near: str | None


@dataclass(frozen=True)
class Metrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    rule_precision: float
    rule_recall: float
    n_positive: int
    n_negative: int
    #: Share of benign texts wrongly matched: near-misses of a topic, and unrelated texts.
    fp_rate_near_miss: float
    fp_rate_unrelated: float
    false_positives: tuple[str, ...]
    false_negatives: tuple[str, ...]


class LocalEmbedder:
    """``TopicEmbedder`` over gpu_backend's served model class, in-process on the CPU."""

    def __init__(self, repository: Path) -> None:
        from gpu_backend.manifest import ModelSource, read_manifest
        from gpu_backend.models import model_for
        from gpu_backend.settings import Settings

        name, version = MODEL
        source = ModelSource(name, version, repository / name / version)
        manifest = read_manifest(source)
        self._model = model_for(manifest, source.path, Settings(model_repository=repository, use_gpu=False))
        self._model.load()
        self._input = manifest.inputs[0].name
        self._output = manifest.outputs[0].name
        self.calls = 0

    def model_id(self) -> str:
        return "@".join(MODEL)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        self.calls += 1
        batch = {self._input: np.array(list(texts), dtype=object)}
        out = self._model.predict(batch)[self._output]
        return [[float(x) for x in row] for row in out]


def load(path: Path) -> tuple[list[Topic], list[Labelled]]:
    topics: list[Topic] = []
    texts: list[Labelled] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["kind"] == "topic":
            topics.append(Topic(row["name"], row["definition"], tuple(row["examples"])))
        elif row["kind"] == "text":
            texts.append(Labelled(row["text"], row.get("topic"), row.get("near")))
    return topics, texts


def score_texts(
    embedder: Any, topics: Sequence[Topic], texts: Sequence[Labelled], scoring: Scoring
) -> list[list[float]]:
    """Each text's score on each topic, through ``TopicChecker`` (the code the gateway runs)."""
    checker = TopicChecker(embedder, scoring=scoring, cache=TopicVectorCache())
    return [[s.score for s in checker.scores(t.text, topics)] for t in texts]


def evaluate(
    topics: Sequence[Topic], texts: Sequence[Labelled], scores: Sequence[Sequence[float]], threshold: float
) -> Metrics:
    tp = fp = fn = 0
    rule_hits = rule_right = rule_found = 0
    false_pos: list[str] = []
    false_neg: list[str] = []
    for text, row in zip(texts, scores, strict=True):
        matched = {topic.name for topic, s in zip(topics, row, strict=True) if s >= threshold}
        # The rule a refusal names: the best-scoring topic over the threshold.
        named = max(zip(row, (t.name for t in topics), strict=True))[1] if matched else None
        rule_hits += named is not None
        if text.topic is not None:
            rule_right += named == text.topic
            rule_found += named == text.topic
            if matched:
                tp += 1
            else:
                fn += 1
                false_neg.append(text.text)
        elif matched:
            fp += 1
            false_pos.append(text.text)
    positives = sum(t.topic is not None for t in texts)
    wrongly = set(false_pos)
    near = [t.text for t in texts if t.topic is None and t.near is not None]
    unrelated = [t.text for t in texts if t.topic is None and t.near is None]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives if positives else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(
        threshold=threshold,
        precision=precision,
        recall=recall,
        f1=f1,
        rule_precision=rule_right / rule_hits if rule_hits else 1.0,
        rule_recall=rule_found / positives if positives else 1.0,
        n_positive=positives,
        n_negative=len(texts) - positives,
        fp_rate_near_miss=sum(t in wrongly for t in near) / len(near) if near else 0.0,
        fp_rate_unrelated=sum(t in wrongly for t in unrelated) / len(unrelated) if unrelated else 0.0,
        false_positives=tuple(false_pos),
        false_negatives=tuple(false_neg),
    )


def best_threshold(
    topics: Sequence[Topic], texts: Sequence[Labelled], scores: Sequence[Sequence[float]]
) -> Metrics:
    """The threshold with the best F1 (ties: precision, then the higher threshold), at score midpoints."""
    observed = sorted({round(max(row), 4) for row in scores})
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(observed)] or [DEFAULT_THRESHOLD]
    results = [evaluate(topics, texts, scores, round(c, 3)) for c in cuts]
    return max(results, key=lambda m: (round(m.f1, 6), round(m.precision, 6), m.threshold))


def calibrate(
    embedder: Any, repository_topics: Sequence[Topic], tuning: Sequence[Labelled]
) -> tuple[Scoring, Metrics, dict[str, Metrics]]:
    """The scoring rule and threshold chosen on the tuning texts only."""
    by_rule: dict[str, Metrics] = {}
    best: tuple[Scoring, Metrics] | None = None
    for scoring in CANDIDATES:
        metrics = best_threshold(
            repository_topics, tuning, score_texts(embedder, repository_topics, tuning, scoring)
        )
        by_rule[describe(scoring)] = metrics
        if best is None or (metrics.f1, metrics.precision) > (best[1].f1, best[1].precision):
            best = (scoring, metrics)
    assert best is not None
    return best[0], best[1], by_rule


def describe(scoring: Scoring) -> str:
    w = scoring.definition_weight
    if w is None:
        return "max(definition, examples)"
    if w == 1.0:
        return "definition only"
    if w == 0.0:
        return "nearest example only"
    return f"{w:g}*definition + {1 - w:g}*nearest example"


def heldout_metrics(
    embedder: Any, scoring: Scoring = DEFAULT_SCORING, threshold: float = DEFAULT_THRESHOLD
) -> Metrics:
    """Held-out precision/recall for a fixed rule and threshold (topics from the tuning file)."""
    topics, _ = load(TUNING)
    _, heldout = load(HELDOUT)
    return evaluate(topics, heldout, score_texts(embedder, topics, heldout, scoring), threshold)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="built model repository")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    embedder = LocalEmbedder(args.models)
    topics, tuning = load(TUNING)
    scoring, tuned, by_rule = calibrate(embedder, topics, tuning)
    # Only now, with the rule and threshold fixed, is the held-out file read.
    chosen = heldout_metrics(embedder, scoring, tuned.threshold)
    shipped = heldout_metrics(embedder)
    report = {
        "model": "@".join(MODEL),
        "tuning": {"rules": {k: _summary(v) for k, v in by_rule.items()}, "chosen_rule": describe(scoring),
                   "chosen": _summary(tuned)},
        "heldout_with_chosen": asdict(chosen),
        "shipped": {"rule": describe(DEFAULT_SCORING), "threshold": DEFAULT_THRESHOLD,
                    "heldout": _summary(shipped)},
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model {report['model']}; tuning: {len(tuning)} texts, {len(topics)} topics")
    for rule, m in by_rule.items():
        print(
            f"  {rule:<40} best threshold {m.threshold:.3f}  "
            f"P {m.precision:.3f}  R {m.recall:.3f}  F1 {m.f1:.3f}"
        )
    print(f"chosen: {describe(scoring)} at {tuned.threshold:.3f}")
    print(
        f"held-out ({chosen.n_positive} on-topic, {chosen.n_negative} benign): "
        f"precision {chosen.precision:.3f}  recall {chosen.recall:.3f}  F1 {chosen.f1:.3f}  "
        f"rule precision {chosen.rule_precision:.3f}  rule recall {chosen.rule_recall:.3f}"
    )
    print(
        f"  benign matched: near-misses {chosen.fp_rate_near_miss:.3f}, "
        f"unrelated {chosen.fp_rate_unrelated:.3f}"
    )
    for text in chosen.false_positives:
        print(f"  false positive: {text}")
    for text in chosen.false_negatives:
        print(f"  false negative: {text}")
    print(
        f"shipped defaults ({describe(DEFAULT_SCORING)} at {DEFAULT_THRESHOLD}): held-out {_summary(shipped)}"
    )
    return 0


def _summary(m: Metrics) -> dict[str, float]:
    return {k: round(v, 3) for k, v in asdict(m).items() if isinstance(v, float)}


if __name__ == "__main__":
    sys.exit(main())
