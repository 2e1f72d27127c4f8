"""Token classification (``task: token-classification``): BYTES text in, entity spans out.

The server tokenises with offsets, cuts texts longer than the model's ``max_length`` into
overlapping windows (each token is read from the window where it sits furthest from an edge),
runs every window of a batch through the graph grouped by sequence bucket, and decodes BIO tags
to character spans of the caller's text: word pieces are merged into words (the tag of a word is
the argmax of its pieces' mean probabilities), consecutive words of one type form an entity, and
its score is the mean probability of that type over its words. The output is one JSON string
per input: ``[{"entity_type", "start", "end", "score"}, ...]``; with an ensemble, each entity
also has ``"readings"``: ``{"classifier": TYPE, "spacy": TYPE}``, what each model read there.

When the manifest's ``postprocessing.ensemble`` names a spaCy pipeline (``spacy_ner``), its mapped
spans are merged with the classifier's (``ensemble.merge``) before the answer is written: one
model version, one call, one answer. spaCy reads on its own worker thread while the classifier
runs, so the ensemble costs about the slower of the two, not their sum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import ModelSource, read_manifest
from gpu_backend.models.base import Batch, TextModel
from gpu_backend.models.ensemble import Readings, merge_with_readings
from gpu_backend.models.spacy_ner import SpacyNer
from gpu_backend.settings import Settings

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
DEFAULT_STRIDE_OVERLAP = 64


@dataclass(frozen=True)
class Entity:
    entity_type: str
    start: int
    end: int
    score: float
    readings: Readings = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entity_type": self.entity_type, "start": self.start, "end": self.end,
                               "score": self.score}  # fmt: skip
        if self.readings:
            out["readings"] = dict(self.readings)
        return out


def window_starts(n_tokens: int, width: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``width`` tokens overlapping by ``overlap`` that cover ``n_tokens``."""
    if n_tokens <= width:
        return [0]
    step = max(1, width - overlap)
    starts = list(range(0, n_tokens - width, step))
    starts.append(n_tokens - width)
    return starts


def best_window(n_tokens: int, starts: Sequence[int], width: int) -> npt.NDArray[np.int64]:
    """For each token, the window in which it is furthest from an edge (most context both sides)."""
    positions = np.arange(n_tokens)[:, None]
    begin = np.asarray(starts)[None, :]
    margin = np.minimum(positions - begin, begin + width - 1 - positions)
    margin = np.where((positions >= begin) & (positions < begin + width), margin, -1)
    return np.asarray(margin.argmax(axis=1), dtype=np.int64)


SHAPE_NONE, SHAPE_LOWER, SHAPE_TITLE, SHAPE_UPPER = 0, 1, 2, 3
N_SHAPES = 4


def word_shapes(text: str, offsets: Sequence[tuple[int, int]], word_ids: Sequence[int | None]) -> IntArray:
    """Casing of the word each token belongs to: the uncased encoder cannot see it, the head can.

    0 no letter (or a special token), 1 lower-case, 2 capitalised, 3 all capitals (2+ letters).
    """
    shapes = np.zeros(len(offsets), dtype=np.int64)
    i, n = 0, len(offsets)
    while i < n:
        word = word_ids[i]
        j = i + 1
        while j < n and word is not None and word_ids[j] == word:
            j += 1
        if word is not None:
            chunk = text[offsets[i][0] : offsets[j - 1][1]]
            letters = [c for c in chunk if c.isalpha()]
            if letters:
                if len(letters) > 1 and all(c.isupper() for c in letters):
                    shape = SHAPE_UPPER
                elif letters[0].isupper():
                    shape = SHAPE_TITLE
                else:
                    shape = SHAPE_LOWER
                shapes[i:j] = shape
        i = j
    return shapes


def decode_entities(
    probs: FloatArray,
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    labels: Sequence[str],
    text: str,
) -> list[Entity]:
    """BIO tag probabilities per token (no special tokens) -> entities with character spans.

    A word is part of an entity when its entity tags outweigh ``O``; a run of such words is one
    entity unless a word is a confident ``B-`` (>= 0.5), and the entity takes the type with the
    most probability mass over its words (so "Logan" PERSON + "Dudley" LOCATION is one PERSON).
    Leading/trailing punctuation is trimmed; an entity with no letter or digit is dropped.
    """
    types = sorted({label[2:] for label in labels if label[:2] in ("B-", "I-")})
    to_type = np.zeros((len(labels), len(types)), dtype=np.float32)
    for k, label in enumerate(labels):
        if label[:2] in ("B-", "I-"):
            to_type[k, types.index(label[2:])] = 1.0
    begins = [k for k, label in enumerate(labels) if label.startswith("B-")]
    # Word boundaries (a word = consecutive pieces with one word id), then per-word mean probabilities.
    starts: list[int] = []
    previous: int | None = None
    for t, word in enumerate(word_ids):
        if t == 0 or word is None or word != previous:
            starts.append(t)
        previous = word
    if not starts:
        return []
    bounds = np.asarray(starts)
    sizes = np.diff(np.append(bounds, len(word_ids)))[:, None]
    word_probs = np.add.reduceat(np.asarray(probs, dtype=np.float32), bounds, axis=0) / sizes
    mass = word_probs @ to_type
    is_entity = mass.sum(axis=1) > 1.0 - mass.sum(axis=1)
    confident_begin = word_probs[:, begins].max(axis=1) >= 0.5
    ends = np.append(bounds[1:], len(word_ids)) - 1

    entities: list[Entity] = []
    run: list[int] = []

    def close() -> None:
        if run:
            kind = int(mass[run].sum(axis=0).argmax())
            start, end = offsets[starts[run[0]]][0], offsets[int(ends[run[-1]])][1]
            entity = _trimmed(types[kind], start, end, float(mass[run, kind].mean()), text)
            if entity is not None:
                entities.append(entity)
            run.clear()

    for w in range(len(starts)):
        if offsets[int(ends[w])][1] <= offsets[starts[w]][0] or not is_entity[w]:
            close()
            continue
        if run and confident_begin[w]:
            close()
        run.append(w)
    close()
    return entities


def _trimmed(kind: str, start: int, end: int, score: float, text: str) -> Entity | None:
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum() and text[end - 1] != ".":
        end -= 1
    if start == end:
        return None
    return Entity(kind, start, end, round(score, 4))


class TokenClassifierModel(TextModel):
    """BYTES text -> tokenizer (with offsets) -> windows -> graph tag probabilities -> JSON spans."""

    truncate = False  # long texts are cut into overlapping windows instead

    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        assert self.session is not None
        pre, post = self.manifest.preprocessing, self.manifest.postprocessing
        self._load_tokenizer(artifacts)
        self.overlap = int(pre.get("window_overlap", DEFAULT_STRIDE_OVERLAP))
        self.width = self.max_length - 2
        if self.width < 1 or not 0 <= self.overlap < self.width:
            raise ModelLoadError("preprocessing.window_overlap must be >= 0 and < max_length - 2")
        cls_id, sep_id = (self.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]"))
        if cls_id is None or sep_id is None:
            raise ModelLoadError("token-classification needs a tokenizer with [CLS] and [SEP] tokens")
        self.cls_id, self.sep_id = int(cls_id), int(sep_id)
        available = {t.name for t in self.session.inputs}
        if set(self.graph_inputs) != available:
            raise ModelLoadError(
                f"graph inputs {sorted(available)} differ from preprocessing.graph_inputs {self.graph_inputs}"
            )
        self.graph_output = str(post.get("graph_output", ""))
        graph_out = self._graph_output(self.graph_output)
        labels = post.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ModelLoadError("postprocessing.labels must be a non-empty list of tag names")
        n_tags = graph_out.shape[-1]
        if n_tags is not None and n_tags != len(labels):
            raise ModelLoadError(f"graph emits {n_tags} tags but postprocessing.labels has {len(labels)}")
        self.labels: list[str] = labels
        ensemble = post.get("ensemble")
        self.second: SpacyNer | None = None
        self.classifier_wins: frozenset[str] = frozenset()
        if ensemble is not None:
            self.second = SpacyNer.from_manifest(ensemble, artifacts)
            self.classifier_wins = frozenset(ensemble.get("classifier_wins", []))
            # spaCy reads while ONNX Runtime (which releases the GIL) runs the classifier; one
            # worker, so the pipeline is never used by two threads at once.
            self._second_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spacy-ner")
        spec = self.manifest.outputs[0]
        if len(self.manifest.outputs) != 1 or spec.datatype != "BYTES":
            raise ModelLoadError("token-classification has exactly one BYTES output (JSON entities)")

    def unload(self) -> None:
        super().unload()
        worker = getattr(self, "_second_worker", None)
        if worker is not None:
            worker.shutdown(wait=False)

    def predict(self, inputs: Batch) -> Batch:
        texts = [str(t) for t in inputs[self.manifest.inputs[0].name].reshape(-1).tolist()]
        entities = self.entities(texts)
        out = np.empty(len(texts), dtype=object)
        for row, found in enumerate(entities):
            out[row] = json.dumps([e.as_dict() for e in found], separators=(",", ":"))
        return {self.manifest.outputs[0].name: out}

    def entities(self, texts: list[str]) -> list[list[Entity]]:
        """Entities of each text (the in-process entry point the evaluation script uses too)."""
        if self.second is None:
            return self.classifier_entities(texts)
        reading = self._second_worker.submit(self.second.read, texts)
        try:
            found = self.classifier_entities(texts)
        finally:
            read = reading.result()  # waited for even when the classifier failed: no stray work
        return [
            [
                Entity(*m, readings=r)
                for m, r in merge_with_readings(ours, theirs, self.classifier_wins, text, others)
            ]
            for ours, (theirs, others), text in zip(found, read, texts, strict=True)
        ]

    def classifier_entities(self, texts: list[str]) -> list[list[Entity]]:
        """The token classifier's entities alone (no ensemble)."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        windows: list[tuple[int, int, int]] = []  # (text row, first token, token count)
        plans: list[tuple[list[int], list[int]]] = []  # per text: window starts, window indices
        for row, enc in enumerate(encodings):
            starts = window_starts(len(enc.ids), self.width, self.overlap)
            first = len(windows)
            for s in starts:
                windows.append((row, s, min(self.width, len(enc.ids) - s)))
            plans.append((starts, list(range(first, len(windows)))))
        shapes = [
            word_shapes(text, enc.offsets, enc.word_ids) for text, enc in zip(texts, encodings, strict=True)
        ]
        window_probs = self._run_windows(encodings, shapes, windows)
        results: list[list[Entity]] = []
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            if n == 0:
                results.append([])
                continue
            starts, indices = plans[row]
            owner = best_window(n, starts, self.width)
            probs = np.empty((n, len(self.labels)), dtype=np.float32)
            for k, w in enumerate(indices):
                mine = np.nonzero(owner == k)[0]
                probs[mine] = window_probs[w][mine - starts[k]]
            results.append(decode_entities(probs, enc.offsets, enc.word_ids, self.labels, texts[row]))
        return results

    def _run_windows(
        self, encodings: list[Any], shapes: list[IntArray], windows: list[tuple[int, int, int]]
    ) -> list[FloatArray]:
        assert self.session is not None
        lengths = {w: count + 2 for w, (_, _, count) in enumerate(windows) if count}  # + [CLS], [SEP]
        out: list[FloatArray] = [np.zeros((0, len(self.labels)), dtype=np.float32)] * len(windows)
        for bucket, members in self.bucket_groups(lengths):
            # The GPU sees a few tuned shapes; the CPU gains nothing from padding to a bucket.
            seq_len = bucket if self.session.on_gpu else max(windows[w][2] + 2 for w in members)
            ids = np.full((len(members), seq_len), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(members), seq_len), dtype=np.int64)
            shape = np.zeros((len(members), seq_len), dtype=np.int64)
            for j, w in enumerate(members):
                row, start, count = windows[w]
                ids[j, 0] = self.cls_id
                ids[j, 1 : count + 1] = encodings[row].ids[start : start + count]
                ids[j, count + 1] = self.sep_id
                mask[j, : count + 2] = 1
                shape[j, 1 : count + 1] = shapes[row][start : start + count]
            feeds = {
                "input_ids": ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(ids),
                "word_shape": shape,
            }
            (probs,) = self.session.run({k: feeds[k] for k in self.graph_inputs}, [self.graph_output])
            for j, w in enumerate(members):
                count = windows[w][2]
                out[w] = np.asarray(probs[j, 1 : count + 1], dtype=np.float32)
        return out

    def metadata_parameters(self) -> dict[str, Any]:
        params = super().metadata_parameters()
        params["labels"] = list(getattr(self, "labels", []))
        second = getattr(self, "second", None)
        if second is not None:
            params["ensemble"] = {"kind": "spacy-ner", "version": second.version,
                                  "labels": dict(second.labels)}  # fmt: skip
        return params


def load_local(version_dir: Path, *, intra_op_threads: int = 0) -> TokenClassifierModel:
    """Load ``<repo>/<name>/<version>`` in-process on the CPU (evaluation and benchmarks)."""
    source = ModelSource(version_dir.parent.name, version_dir.name, version_dir)
    settings = Settings(model_repository=version_dir.parent.parent, use_gpu=False,
                        intra_op_threads=intra_op_threads)  # fmt: skip
    model = TokenClassifierModel(read_manifest(source), version_dir, settings)
    model.load()
    return model
