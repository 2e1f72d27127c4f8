"""The evaluation sources the privacy bench scores, each with its provenance and its labelled types.

Headline sources are the ones nothing in Steward's detectors or model build was written against:

- ``synth``: the evaluation-only generator (``privacy_eval_synth.py``: other templates, 39 Faker
  locales, 11 card brands, hard negatives);
- ``news``: real English news with PERSON/LOCATION annotated by hand (``privacy_eval_news.py``).

``tuning`` is Steward's own corpus (``privacy_corpus.py``): the fast-path rules were tuned on it,
so it is shown only on request and labelled "tuning (not independent)", never as a headline.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import privacy_eval_news
import privacy_eval_synth

Record = dict[str, object]

STRUCTURED_TYPES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "URL", "DATE_TIME",
)  # fmt: skip
NAME_TYPES = ("PERSON", "LOCATION", "STREET_ADDRESS")
TUNING_TYPES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL", "MAC_ADDRESS",
    "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT", "PERSON", "LOCATION", "STREET_ADDRESS",
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    name: str
    label: str  # "independent" or "tuning (not independent)"
    headline: bool
    types: tuple[str, ...]  # the types labelled in this source: only these are scored on it
    default_size: int
    load: Callable[[int], list[Record]]
    provenance: Callable[[list[Record]], str]


def _synth_load(limit: int) -> list[Record]:
    records: list[Record] = privacy_eval_synth.generate(privacy_eval_synth.DEFAULT_SEED, limit or 1000)
    return records


def _synth_provenance(records: list[Record]) -> str:
    locales = len({*privacy_eval_synth.NAME_LOCALES, *privacy_eval_synth.ROMANISED_LOCALES})
    return (
        f"synthetic, evaluation-only generator scripts/privacy_eval_synth.py "
        f"({len(privacy_eval_synth.EVAL_TEMPLATES)} templates), seed {privacy_eval_synth.DEFAULT_SEED}, "
        f"{len(records)} records, Faker {metadata.version('faker')} in {locales} locales, "
        f"sha256 {privacy_eval_synth.digest(records)[:12]}"
    )


def _tuning_load(limit: int) -> list[Record]:
    import privacy_corpus

    values = privacy_corpus.Values(7)
    records: list[Record] = [privacy_corpus.record(i, values) for i in range(limit or 3000)]
    return records


def _tuning_provenance(records: list[Record]) -> str:
    return (
        f"TUNING (not independent): scripts/privacy_corpus.py seed 7, {len(records)} records, "
        f"sha256 {privacy_eval_synth.digest(records)[:12]}; the fast-path rules were tuned on it"
    )


SOURCES: dict[str, Source] = {
    "synth": Source(
        "synth", "independent", True, STRUCTURED_TYPES + NAME_TYPES, 1000, _synth_load, _synth_provenance
    ),
    "news": Source(
        "news",
        "independent",
        True,
        ("PERSON", "LOCATION"),
        0,
        privacy_eval_news.records,
        lambda records: f"{privacy_eval_news.provenance()}; {len(records)} sentences",
    ),
    "tuning": Source(
        "tuning", "tuning (not independent)", False, TUNING_TYPES, 3000, _tuning_load, _tuning_provenance
    ),
}
HEADLINE = tuple(name for name, source in SOURCES.items() if source.headline)


def file_source(path: Path) -> Source:
    """A JSONL file of records (``id``, ``text``, ``spans``): its origin is unknown to the bench,
    so it is never a headline."""

    def load(limit: int) -> list[Record]:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        return [json.loads(ln) for ln in (lines[:limit] if limit else lines)]

    return Source(
        f"file:{path.name}",
        "given file (not a headline)",
        False,
        TUNING_TYPES,
        0,
        load,
        lambda records: f"records from {path} ({len(records)}); provenance not recorded by the bench",
    )
