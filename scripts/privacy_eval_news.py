"""EVALUATION ONLY: real English news with PERSON and LOCATION annotated by hand.

The text is the Lee corpus (300 ABC News Online articles from 2001; Lee, Pincombe & Welsh 2005)
as shipped in the PyPI package ``gensim`` (``gensim/test/test_data/lee_background.cor``). It is
read from the installed package, never copied into this repository; only the annotations are
committed (``privacy_eval_data/lee_news_annotations.tsv``: the first two sentences of documents
0-159, annotated by reading each sentence, with no model pre-annotation). Sentences repeated in
the corpus (a few articles appear twice) are kept once.

Nothing in Steward may be trained, tuned or have rules picked on this data.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

Record = dict[str, object]

CORPUS_FILE = "test/test_data/lee_background.cor"
# The corpus file as shipped in gensim 4.4.0: a different file would silently shift annotations.
CORPUS_SHA256 = "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb"
ANNOTATIONS = Path(__file__).resolve().parent / "privacy_eval_data" / "lee_news_annotations.tsv"
FIELDS = {"P": "PERSON", "L": "LOCATION"}
# Abbreviations after which a full stop does not end a sentence (titles and initials).
_ABBREVIATIONS = frozenset(
    ("Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Gen", "Lt", "Col", "Sgt", "Capt", "Sen", "Rep", "Gov", "Jr",
     "Sr", "No", "Co", "Inc", "Ltd", "vs", "Mt", "Ft")
)  # fmt: skip
_BOUNDARY = re.compile(r"[.!?][\"']?\s+(?=[\"'A-Z0-9])")


class AnnotationError(ValueError):
    """The annotation file does not fit the corpus text (a name not found, an unknown id)."""


@dataclass(frozen=True)
class Annotation:
    doc: int
    sent: int
    names: tuple[tuple[str, str], ...]  # (surface, entity type)
    excluded: tuple[str, ...]  # phrases inside which names are not labelled


def split_sentences(doc: str) -> list[str]:
    """Sentences of one article: cut after . ! ? unless the word before is a title or an initial.

    Hand-written (a dozen lines) so the cut, and with it every annotated sentence, does not move
    with a tokenizer's version."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(doc):
        before = doc[start : m.start() + 1].rstrip("\"'")
        last = re.search(r"(\b\w+)\.$", before)
        if last and (last.group(1) in _ABBREVIATIONS or len(last.group(1)) == 1):
            continue
        out.append(doc[start : m.end()].rstrip())
        start = m.end()
    if doc[start:].strip():
        out.append(doc[start:].strip())
    return out


def corpus_text() -> str:
    data = resources.files("gensim").joinpath(CORPUS_FILE).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != CORPUS_SHA256:
        raise AnnotationError(f"{CORPUS_FILE} in gensim differs from the annotated one (sha256 {found[:12]})")
    return data.decode("utf-8")


def read_annotations(path: Path = ANNOTATIONS) -> list[Annotation]:
    out: list[Annotation] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, *fields = line.split("\t")
        doc, sent = (int(x) for x in key.split(":"))
        names: list[tuple[str, str]] = []
        excluded: tuple[str, ...] = ()
        for field in fields:
            tag, _, value = field.partition("=")
            items = tuple(v for v in value.split("|") if v)
            if tag == "X":
                excluded = items
            elif tag in FIELDS:
                names.extend((v, FIELDS[tag]) for v in items)
            else:
                raise AnnotationError(f"{key}: unknown field {tag!r}")
        out.append(Annotation(doc, sent, tuple(names), excluded))
    return out


def _occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", text)]


def label(text: str, ann: Annotation) -> list[dict[str, object]]:
    """Spans for every whole-word occurrence of each annotated name, longest names first, none
    inside an excluded phrase or overlapping a longer name."""
    taken: list[tuple[int, int]] = []
    for phrase in ann.excluded:
        found = _occurrences(text, phrase)
        if not found:
            raise AnnotationError(f"{ann.doc}:{ann.sent}: excluded phrase {phrase!r} not in the sentence")
        taken.extend(found)
    spans: list[dict[str, object]] = []
    for surface, kind in sorted(ann.names, key=lambda n: -len(n[0])):
        free = [o for o in _occurrences(text, surface) if all(o[1] <= a or o[0] >= b for a, b in taken)]
        if not free and not _occurrences(text, surface):
            raise AnnotationError(f"{ann.doc}:{ann.sent}: {kind} {surface!r} not in the sentence")
        for start, end in free:
            spans.append({"start": start, "end": end, "type": kind})
            taken.append((start, end))
    return sorted(spans, key=lambda s: int(s["start"]))  # type: ignore[call-overload]


def records(limit: int = 0) -> list[Record]:
    """The annotated sentences as bench records (``id``, ``text``, ``spans``), repeats dropped."""
    docs = corpus_text().splitlines()
    out: list[Record] = []
    seen: set[str] = set()
    for ann in read_annotations():
        sentences = split_sentences(docs[ann.doc])
        if ann.sent >= len(sentences):
            raise AnnotationError(f"{ann.doc}:{ann.sent}: the article has {len(sentences)} sentences")
        text = sentences[ann.sent]
        if text in seen:
            continue
        seen.add(text)
        out.append({"id": ann.doc * 100 + ann.sent, "text": text, "spans": label(text, ann)})
        if limit and len(out) >= limit:
            break
    return out


def provenance() -> str:
    version = metadata.version("gensim")
    return (
        f"real news: Lee corpus (ABC News Online, 2001) from PyPI gensim {version} "
        f"{CORPUS_FILE} sha256 {CORPUS_SHA256[:12]}; PERSON/LOCATION annotated by hand in "
        f"scripts/privacy_eval_data/{ANNOTATIONS.name}; evaluation only"
    )
