"""Denied topics: is a text close enough, in the MiniLM embedding space, to a topic's description?

A topic is a name, a definition and a few example phrases. Each of them is embedded once per process
(cached by a hash of the text and the model version: topics change only with a new policy version);
the request text is cut into overlapping word windows (MiniLM reads 256 word pieces at most, and a
short denied request hidden in a long prompt must still be seen), embedded in the same backend call
as any topic text not cached yet, and scored against every topic.

Pure Python on purpose (plain lists of floats, no numpy): this runs on the Lambda's light import
path, and 384-d dot products over a handful of vectors cost microseconds. The threshold and the
scoring rule are calibrated by ``scripts/calibrate_topics.py`` on ``tests/fixtures/topics/tuning.jsonl``
and measured on the held-out set; the figures are in ``docs/usage_policy.md``.

Fail closed: an embedder failure or an answer of the wrong shape raises (``TopicCheckError`` or the
embedder's own error); the caller refuses the request rather than passing it unchecked.
"""

from __future__ import annotations

import hashlib
import math
import operator
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: Calibrated on tuning.jsonl (scripts/calibrate_topics.py): the best request-level F1 there, with
#: the nearest-example rule below; held-out figures in docs/usage_policy.md.
DEFAULT_THRESHOLD = 0.343
#: Words per window and the step between windows (windows overlap by WINDOW_WORDS - WINDOW_STRIDE).
WINDOW_WORDS = 48
WINDOW_STRIDE = 32
#: Most windows one text is cut into (~2,000 words); longer texts are refused, not half-checked.
MAX_WINDOWS = 64
#: Topic vector sets kept per process (each ~ (1 + examples) x 384 floats).
CACHE_SIZE = 512

Vector = list[float]


class TopicCheckError(ValueError):
    """The topic check could not be completed (bad embeddings, text too long): refuse the request."""


class TopicText(Protocol):
    """What a denied-topic rule must offer (the usage-policy document's ``denied_topics`` items)."""

    @property
    def name(self) -> str: ...
    @property
    def definition(self) -> str: ...
    @property
    def examples(self) -> Sequence[str]: ...


class TopicEmbedder(Protocol):
    """Port: sentence embeddings of texts, in order, from one model version."""

    def model_id(self) -> str:
        """The model version the vectors come from (``name@version``): part of the cache key."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text; raises on any failure (the check fails closed)."""
        ...


@dataclass(frozen=True)
class Scoring:
    """How a text's similarity to a topic is read off its vectors.

    ``definition_weight`` None: the highest cosine over the definition and every example. Otherwise
    ``w * cos(definition) + (1 - w) * max cos(examples)`` (the definition alone when there are no
    examples). Calibration compares these; the default is the winner on the tuning set.
    """

    definition_weight: float | None = None


#: The calibration's winner: the nearest example (the definition, phrased as a category, sits far
#: from how requests are written; max and blends scored lower F1 on the tuning set).
DEFAULT_SCORING = Scoring(definition_weight=0.0)


@dataclass(frozen=True)
class TopicVectors:
    """One topic's unit vectors: its definition and each example."""

    name: str
    definition: Vector
    examples: tuple[Vector, ...]


@dataclass(frozen=True)
class TopicScore:
    """How close a text came to a topic (the best window), and whether that is over the threshold."""

    name: str
    score: float
    matched: bool


def normalise(vector: Sequence[float]) -> Vector:
    """The unit vector (MiniLM's are already unit length; this guards other models and rounding)."""
    values = [float(v) for v in vector]
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not math.isfinite(norm) or norm == 0.0:
        raise TopicCheckError("embedding is zero or not finite")
    return [v / norm for v in values]


def cosine(a: Vector, b: Vector) -> float:
    """Cosine of two unit vectors (their dot product)."""
    return float(sum(map(operator.mul, a, b)))


def topic_score(text: Vector, topic: TopicVectors, scoring: Scoring = DEFAULT_SCORING) -> float:
    """Similarity of one unit text vector to a topic under ``scoring``."""
    on_definition = cosine(text, topic.definition)
    if not topic.examples:
        return on_definition
    on_example = max(cosine(text, e) for e in topic.examples)
    weight = scoring.definition_weight
    if weight is None:
        return max(on_definition, on_example)
    return weight * on_definition + (1.0 - weight) * on_example


def windows(text: str, size: int = WINDOW_WORDS, stride: int = WINDOW_STRIDE) -> list[str]:
    """Overlapping word windows covering the whole text (one window when it is short)."""
    words = text.split()
    if len(words) <= size:
        return [" ".join(words)] if words else []
    starts = range(0, len(words) - size + stride, stride)
    return [" ".join(words[start : start + size]) for start in starts]


def topic_key(model_id: str, topic: TopicText) -> str:
    """Cache key of a topic's vectors: the model version and the exact texts embedded (not the name)."""
    digest = hashlib.sha256()
    for part in (model_id, topic.definition, *topic.examples):
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


class TopicVectorCache:
    """Per-process LRU of topic vectors; thread-safe (the api app runs checks on worker threads)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, TopicVectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> TopicVectors | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, vectors: TopicVectors) -> None:
        with self._lock:
            self._items[key] = vectors
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class TopicChecker:
    """Scores texts against denied topics with one embedding call per check."""

    def __init__(
        self,
        embedder: TopicEmbedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        scoring: Scoring = DEFAULT_SCORING,
        cache: TopicVectorCache | None = None,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self.scoring = scoring
        self._cache = cache if cache is not None else TopicVectorCache()
        self._max_windows = max_windows

    def scores(self, text: str, topics: Sequence[TopicText]) -> list[TopicScore]:
        """Every topic's score for ``text``, in the topics' order (empty text: scores of 0)."""
        if not topics:
            return []
        chunks = windows(text)
        if len(chunks) > self._max_windows:
            raise TopicCheckError("text too long for the topic check")
        text_vectors, topic_vectors = self._embed(chunks, topics)
        results = []
        for topic in topic_vectors:
            best = max((topic_score(v, topic, self.scoring) for v in text_vectors), default=0.0)
            results.append(TopicScore(topic.name, best, best >= self.threshold))
        return results

    def matches(self, text: str, topics: Sequence[TopicText]) -> list[TopicScore]:
        """The topics ``text`` is on, highest score first."""
        hits = [s for s in self.scores(text, topics) if s.matched]
        return sorted(hits, key=lambda s: s.score, reverse=True)

    def _embed(
        self, chunks: list[str], topics: Sequence[TopicText]
    ) -> tuple[list[Vector], list[TopicVectors]]:
        """The text windows' vectors and every topic's, embedding what is not cached in one call."""
        model_id = self._embedder.model_id()
        keys = [topic_key(model_id, t) for t in topics]
        cached = [self._cache.get(k) for k in keys]
        missing = [i for i, c in enumerate(cached) if c is None]
        texts = list(chunks)
        for i in missing:
            texts.extend([topics[i].definition, *topics[i].examples])
        raw = self._embedder.embed(texts) if texts else []
        if len(raw) != len(texts):
            raise TopicCheckError("embedder returned the wrong number of vectors")
        unit = [normalise(v) for v in raw]
        if len({len(v) for v in unit}) > 1:
            raise TopicCheckError("embeddings of different sizes")
        at = len(chunks)
        for i in missing:
            n = 1 + len(topics[i].examples)
            fresh = TopicVectors(topics[i].name, unit[at], tuple(unit[at + 1 : at + n]))
            at += n
            self._cache.put(keys[i], fresh)
            cached[i] = fresh
        resolved = [c for c in cached if c is not None]
        dims = {len(v.definition) for v in resolved}
        if unit[: len(chunks)] and dims != {len(unit[0])}:
            raise TopicCheckError("text and topic embeddings differ in size")
        # The name comes from the current rule (the cache is keyed by the embedded texts only).
        named = [
            TopicVectors(t.name, c.definition, c.examples) for t, c in zip(topics, resolved, strict=True)
        ]
        return unit[: len(chunks)], named
