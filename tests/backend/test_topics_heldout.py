"""Denied topics with the real MiniLM: the shipped threshold is the tuning set's choice, and on the
held-out set (never tuned on) precision and recall stay above the documented floors."""

from __future__ import annotations

from pathlib import Path

import pytest
from steward.usage_policy.topics import DEFAULT_SCORING, DEFAULT_THRESHOLD

from scripts.calibrate_topics import TUNING, LocalEmbedder, calibrate, heldout_metrics, load

pytestmark = pytest.mark.slow

#: Floors documented in docs/usage_policy.md (measured: precision 0.676, recall 0.958).
MIN_PRECISION = 0.62
MIN_RECALL = 0.90
#: Unrelated benign texts (no shared subject with any topic) must essentially never match.
MAX_UNRELATED_FP_RATE = 0.1


@pytest.fixture(scope="module")
def embedder(model_repository: Path) -> LocalEmbedder:
    return LocalEmbedder(model_repository)


def test_the_shipped_rule_and_threshold_are_what_the_tuning_set_chooses(embedder: LocalEmbedder) -> None:
    # Given the tuning file only
    topics, tuning = load(TUNING)
    # When the calibration picks the scoring rule and threshold
    scoring, tuned, _ = calibrate(embedder, topics, tuning)
    # Then topics.py ships exactly that choice
    assert (scoring, tuned.threshold) == (DEFAULT_SCORING, DEFAULT_THRESHOLD)


def test_heldout_precision_and_recall_stay_above_the_floors(embedder: LocalEmbedder) -> None:
    # When the shipped defaults run on the held-out paraphrases and near-misses
    metrics = heldout_metrics(embedder)
    # Then both stay above the documented floors, and unrelated texts are left alone
    assert metrics.n_positive >= 6 * 12 and metrics.n_negative >= 6 * 10
    assert metrics.precision >= MIN_PRECISION, metrics
    assert metrics.recall >= MIN_RECALL, metrics
    assert metrics.fp_rate_unrelated <= MAX_UNRELATED_FP_RATE, metrics
