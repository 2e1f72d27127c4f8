"""Denied topics: scores, decisions, windows, the per-process cache and failing closed (fake embedder)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from steward.catalog.registry import Registry
from steward.errors import BackendError, ModelNotFound
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.usage_policy.topic_embedder import RouterTopicEmbedder, topic_model_resolver
from steward.usage_policy.topics import (
    Scoring,
    TopicChecker,
    TopicCheckError,
    TopicVectors,
    topic_score,
    windows,
)

from tests.fakes import FakeTransport, InMemoryRegistryStore, demo_model

# Axes of a toy 3-d embedding space: a text's vector is the sum of the axes its keywords name.
AXES = {
    "bomb": (1.0, 0.0, 0.0),
    "explosive": (0.8, 0.6, 0.0),
    "history": (0.0, 1.0, 0.0),
    "cake": (0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class Rule:
    name: str
    definition: str
    examples: tuple[str, ...] = ()


@dataclass
class FakeEmbedder:
    model: str = "all-minilm-l6-v2@1"
    calls: list[list[str]] = field(default_factory=list)
    answer: list[list[float]] | None = None

    def model_id(self) -> str:
        return self.model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.answer is not None:
            return self.answer
        return [self._vector(t) for t in texts]

    @staticmethod
    def _vector(text: str) -> list[float]:
        total = [0.0, 0.0, 0.0]
        for word, axis in AXES.items():
            if word in text.lower():
                total = [a + b for a, b in zip(total, axis, strict=True)]
        return total if any(total) else [0.1, 0.1, 0.1]


WEAPONS = Rule("weapons", "making a bomb", ("build a bomb", "mix an explosive"))
BAKING = Rule("baking", "cake recipes")


def test_a_text_close_to_a_topic_example_is_on_that_topic() -> None:
    # Given the weapons topic and a checker at threshold 0.9
    checker = TopicChecker(FakeEmbedder(), threshold=0.9)
    # When a bomb request and a cake request are scored
    bomb = checker.scores("please, a bomb", [WEAPONS, BAKING])
    cake = checker.scores("a cake for sunday", [WEAPONS, BAKING])
    # Then the bomb text matches weapons (cosine 1) and not baking; the cake text the reverse
    assert [(s.name, round(s.score, 3), s.matched) for s in bomb] == [
        ("weapons", 1.0, True),
        ("baking", 0.0, False),
    ]
    assert [s.matched for s in cake] == [False, True]


def test_matches_lists_only_topics_over_the_threshold_best_first() -> None:
    # Given a text on both topics, more on weapons
    checker = TopicChecker(FakeEmbedder(), threshold=0.3)
    # When the matches are asked for
    hits = checker.matches("explosive bomb cake", [BAKING, WEAPONS, Rule("other", "history")])
    # Then weapons comes first, baking second, and history is not there
    assert [h.name for h in hits] == ["weapons", "baking"]
    assert hits[0].score > hits[1].score >= 0.3


def test_threshold_is_inclusive_and_a_score_below_it_does_not_match() -> None:
    # Given the history text, whose cosine to the "explosive" example is exactly 0.6
    text = "history"
    at = TopicChecker(FakeEmbedder(), threshold=0.6, scoring=Scoring(0.0)).scores(text, [WEAPONS])[0]
    above = TopicChecker(FakeEmbedder(), threshold=0.6001, scoring=Scoring(0.0)).scores(text, [WEAPONS])[0]
    # Then the same score matches at 0.6 and not just above it
    assert math.isclose(at.score, 0.6) and at.matched
    assert not above.matched


def test_scoring_rules_read_the_definition_and_the_nearest_example_as_documented() -> None:
    # Given a topic with a definition on axis x and examples on y and (x+y)/sqrt2
    s = math.sqrt(0.5)
    topic = TopicVectors("t", [1.0, 0.0, 0.0], ([0.0, 1.0, 0.0], [s, s, 0.0]))
    text = [0.0, 1.0, 0.0]
    # Then max takes the best of all, 1.0 the definition only, 0.0 the nearest example, w blends
    assert topic_score(text, topic, Scoring(None)) == pytest.approx(1.0)
    assert topic_score(text, topic, Scoring(1.0)) == pytest.approx(0.0)
    assert topic_score(text, topic, Scoring(0.0)) == pytest.approx(1.0)
    assert topic_score(text, topic, Scoring(0.25)) == pytest.approx(0.75)
    # And a topic without examples is its definition under every rule
    bare = TopicVectors("b", [0.0, 1.0, 0.0], ())
    assert topic_score(text, bare, Scoring(0.0)) == pytest.approx(1.0)


def test_topic_vectors_are_embedded_once_per_process_with_the_text_in_one_call() -> None:
    # Given a checker that has already checked one text
    embedder = FakeEmbedder()
    checker = TopicChecker(embedder)
    checker.scores("first", [WEAPONS, BAKING])
    # Then that first call embedded the text and every topic text together
    assert embedder.calls == [["first", "making a bomb", "build a bomb", "mix an explosive", "cake recipes"]]
    # When more texts are checked against the same topics
    checker.scores("second", [WEAPONS, BAKING])
    checker.scores("third", [BAKING])
    # Then only the texts are embedded
    assert embedder.calls[1:] == [["second"], ["third"]]


def test_a_changed_topic_or_model_is_embedded_again_and_a_renamed_one_reuses_its_vectors() -> None:
    embedder = FakeEmbedder()
    checker = TopicChecker(embedder)
    checker.scores("x", [WEAPONS])
    # When the definition changes (a new policy version), the topic is embedded again
    checker.scores("x", [dataclasses.replace(WEAPONS, definition="making bombs")])
    assert embedder.calls[-1] == ["x", "making bombs", "build a bomb", "mix an explosive"]
    # When only the name changes, the vectors are reused and the new name is reported
    renamed = checker.scores("bomb", [dataclasses.replace(WEAPONS, name="arms")])
    assert embedder.calls[-1] == ["bomb"] and renamed[0].name == "arms"
    # When the model version changes, every topic is embedded again
    embedder.model = "all-minilm-l6-v2@2"
    checker.scores("x", [WEAPONS])
    assert len(embedder.calls[-1]) == 4


def test_a_denied_request_buried_at_the_end_of_a_long_text_is_still_seen() -> None:
    # Given 300 filler words (past MiniLM's 256 word pieces) and then a bomb request
    text = "la " * 300 + "now tell me how to build a bomb"
    embedder = FakeEmbedder()
    # When it is checked
    hits = TopicChecker(embedder, threshold=0.9).matches(text, [WEAPONS])
    # Then it was embedded as overlapping windows and the last one carries it over the threshold
    assert len(embedder.calls[0]) - 3 == len(windows(text)) > 1
    assert [h.name for h in hits] == ["weapons"]


def test_windows_cover_every_word_and_overlap() -> None:
    words = [f"w{i}" for i in range(100)]
    chunks = windows(" ".join(words), size=48, stride=32)
    assert chunks[0].split() == words[:48]
    assert chunks[-1].split()[-1] == "w99"
    assert set(" ".join(chunks).split()) == set(words)
    assert windows("short text") == ["short text"] and windows("   ") == []


def test_a_text_longer_than_the_window_budget_is_refused_not_half_checked() -> None:
    checker = TopicChecker(FakeEmbedder(), max_windows=3)
    with pytest.raises(TopicCheckError, match="too long"):
        checker.scores("word " * 500, [WEAPONS])


def test_an_empty_text_or_no_topics_costs_no_text_embedding_and_matches_nothing() -> None:
    embedder = FakeEmbedder()
    checker = TopicChecker(embedder)
    assert checker.scores("anything", []) == [] and embedder.calls == []
    empty = checker.scores("   ", [WEAPONS])
    assert [(s.score, s.matched) for s in empty] == [(0.0, False)]


@pytest.mark.parametrize(
    "answer,reason",
    [
        ([[1.0, 0.0, 0.0]], "wrong number"),
        ([[0.0, 0.0, 0.0]] * 4, "zero or not finite"),
        ([[math.nan, 1.0, 0.0]] * 4, "zero or not finite"),
        ([[1.0, 0.0, 0.0], [1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0]], "different sizes"),
    ],
)
def test_embeddings_of_the_wrong_shape_fail_closed(answer: list[list[float]], reason: str) -> None:
    checker = TopicChecker(FakeEmbedder(answer=answer))
    with pytest.raises(TopicCheckError, match=reason):
        checker.scores("bomb", [WEAPONS])


def test_a_text_vector_of_another_size_than_the_cached_topics_fails_closed() -> None:
    embedder = FakeEmbedder()
    checker = TopicChecker(embedder)
    checker.scores("bomb", [WEAPONS])
    embedder.answer = [[1.0, 0.0]]
    with pytest.raises(TopicCheckError, match="differ in size"):
        checker.scores("bomb", [WEAPONS])


def test_an_embedder_failure_propagates_and_nothing_is_cached() -> None:
    class Down(FakeEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise BackendError()

    checker = TopicChecker(Down())
    with pytest.raises(BackendError):
        checker.scores("bomb", [WEAPONS])
    # And a later check with a working embedder embeds the topic (nothing half-cached)
    embedder = FakeEmbedder()
    checker._embedder = embedder
    checker.scores("bomb", [WEAPONS])
    assert len(embedder.calls[0]) == 4


# --- the adapter: the backend's MiniLM through the router -------------------------------------


def _embedder(
    respond: object = None, *, approval: str = "approved", max_batch: int = 0
) -> tuple[RouterTopicEmbedder, FakeTransport]:
    store = InMemoryRegistryStore()
    entry, version = demo_model("all-minilm-l6-v2", "1", approval=approval)
    store.put_entry(entry)
    store.put_version(dataclasses.replace(version, max_batch_size=max_batch))
    transport = FakeTransport(respond=respond)  # type: ignore[arg-type]
    router = Router({"http": transport}, RouterPolicy(max_attempts=1), sleep=lambda _s: None)
    return RouterTopicEmbedder(router, topic_model_resolver(Registry(store))), transport


def test_the_adapter_sends_one_oip_text_batch_to_the_registered_model_version() -> None:
    embedder, transport = _embedder()
    vectors = embedder.embed(["a", "b"])
    assert embedder.model_id() == "all-minilm-l6-v2@1"
    assert len(vectors) == 2 and len(vectors[0]) == 384
    _target, request, _timeout = transport.calls[0]
    assert isinstance(request, BackendRequest)
    assert (request.model, request.version) == ("all-minilm-l6-v2", "1")
    assert request.payload["inputs"] == [
        {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}
    ]


def test_the_adapter_splits_texts_at_the_manifests_batch_limit() -> None:
    embedder, transport = _embedder(max_batch=2)
    assert len(embedder.embed(["a", "b", "c", "d", "e"])) == 5
    assert [c[1].payload["inputs"][0]["shape"] for c in transport.calls] == [[2], [2], [1]]


def test_the_adapter_fails_closed_on_an_unapproved_model_or_a_broken_backend() -> None:
    unapproved, _ = _embedder(approval="pending")
    with pytest.raises(ModelNotFound):
        unapproved.embed(["a"])
    broken, _ = _embedder(lambda _t, _r: BackendResponse(200, b'{"outputs": []}'))
    with pytest.raises(BackendError):
        broken.embed(["a"])
