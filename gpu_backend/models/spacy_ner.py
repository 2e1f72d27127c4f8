"""spaCy NER as a served component: a pipeline loaded from verified bytes, its labels mapped.

The token classifier's manifest may name a spaCy pipeline in ``postprocessing.ensemble`` (kind
``spacy-ner``): ``config`` (spaCy's ``config.cfg`` text) and ``pipeline`` (``Language.to_bytes()``
of the tokenizer, vocab and ``ner`` component), both sha256-listed artifacts. The pipeline is
rebuilt from those bytes, never from a path, so what runs is exactly what was hashed. ``labels``
maps spaCy's entity labels to Steward's types; unmapped labels (ORG, DATE, NORP, ...) are never
findings, only readings (what spaCy read at a span the classifier found). spaCy's greedy NER
gives no per-span probability, so every span gets the manifest's fixed ``score``.

spaCy is imported here only, when a manifest asks for it: models without an ensemble, and the
gateway (which only calls the backend), never load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpu_backend.errors import ModelLoadError

if TYPE_CHECKING:
    from spacy.language import Language

KIND = "spacy-ner"
#: Texts per spaCy ``pipe`` batch; the NER is a CPU model, larger batches gain nothing.
PIPE_BATCH = 32


@dataclass(frozen=True)
class Span:
    """One mapped spaCy entity: Steward type and character offsets into the text."""

    entity_type: str
    start: int
    end: int
    score: float


def load_pipeline(config_text: str, pipeline_bytes: bytes) -> Language:
    """Rebuild a spaCy ``Language`` from its config and serialized bytes (no path, no download)."""
    try:
        from spacy import util
        from thinc.api import Config
    except ImportError as exc:
        raise ModelLoadError(
            f"the manifest asks for a spaCy pipeline but spaCy is not installed: {exc}"
        ) from None
    try:
        config = Config().from_str(config_text)
        nlp = util.load_model_from_config(config, auto_fill=False, validate=True)
        nlp.from_bytes(pipeline_bytes)
    except Exception as exc:  # spaCy/thinc raise many types (ConfigValidationError, msgpack, ...)
        raise ModelLoadError(f"spaCy pipeline cannot be loaded: {type(exc).__name__}: {exc}") from None
    if "ner" not in nlp.pipe_names:
        raise ModelLoadError(f"spaCy pipeline has no 'ner' component (has {nlp.pipe_names})")
    return nlp


class SpacyNer:
    """Mapped entity spans of a spaCy pipeline's ``ner`` component."""

    def __init__(self, nlp: Language, labels: Mapping[str, str], score: float) -> None:
        self.nlp = nlp
        self.labels = dict(labels)
        self.score = score

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any], artifacts: Mapping[str, bytes]) -> SpacyNer:
        """Build from the manifest's ``ensemble`` block and the verified artifacts it names."""
        try:
            config_text = artifacts[block["config"]].decode("utf-8")
        except UnicodeDecodeError:
            raise ModelLoadError(f"spaCy config {block['config']!r} is not UTF-8 text") from None
        nlp = load_pipeline(config_text, artifacts[block["pipeline"]])
        known = set(getattr(nlp.get_pipe("ner"), "labels", ()))
        unknown = sorted(set(block["labels"]) - known)
        if unknown:
            raise ModelLoadError(f"ensemble.labels maps {unknown}, which the spaCy NER does not emit")
        return cls(nlp, block["labels"], float(block["score"]))

    @property
    def version(self) -> str:
        return str(self.nlp.meta.get("version", "unknown"))

    def spans(self, texts: list[str]) -> list[list[Span]]:
        """Mapped entities of each text, in text order."""
        return [mapped for mapped, _ in self.read(texts)]

    def read(self, texts: list[str]) -> list[tuple[list[Span], list[Span]]]:
        """Per text: the mapped entities, and the others under spaCy's own label (``ORG``, ``NORP``,
        ``DATE``, ...), which are never answered as findings but say what spaCy read there."""
        results: list[tuple[list[Span], list[Span]]] = []
        # One text (the deep path's usual request): calling the pipeline skips pipe()'s batching.
        docs = [self.nlp(texts[0])] if len(texts) == 1 else self.nlp.pipe(texts, batch_size=PIPE_BATCH)
        for doc in docs:
            mapped: list[Span] = []
            others: list[Span] = []
            for ent in doc.ents:
                kind = self.labels.get(ent.label_)
                if kind is not None:
                    mapped.append(Span(kind, ent.start_char, ent.end_char, self.score))
                else:
                    others.append(Span(ent.label_, ent.start_char, ent.end_char, self.score))
            results.append((mapped, others))
        return results
