"""The ensemble's spaCy NER: built from the installed package (deterministic), loaded from verified
bytes, labels mapped to Steward's types; a broken pipeline or mapping is refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_backend.build import spacy_ner as build_spacy
from gpu_backend.build.manifest import sha256_file
from gpu_backend.errors import ModelLoadError
from gpu_backend.models.spacy_ner import SpacyNer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("spacy-ner")
    _, block, _ = build_spacy.write(out)
    return out, block


def _artifacts(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (build_spacy.CONFIG_FILE, build_spacy.PIPELINE_FILE)}


def test_two_builds_write_identical_bytes(written: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    # Given the pipeline written once, when it is written again from the same installed package
    first, _ = written
    files, _, facts = build_spacy.write(tmp_path)
    # Then every artifact has the same digest, and the card facts name the model and its data
    for name in files:
        assert sha256_file(first / name) == sha256_file(tmp_path / name)
    assert facts["version"] == "3.8.0" and facts["components"] == ["ner"]
    assert "OntoNotes 5" in facts["training_data"]


def test_labels_are_mapped_and_unmapped_ones_dropped(written: tuple[Path, dict[str, object]]) -> None:
    # Given the NER loaded from its bytes with the build's mapping
    out, block = written
    ner = SpacyNer.from_manifest(block, _artifacts(out))
    text = "Angela Merkel flew from Berlin to the Alps with Lufthansa on Monday."
    # When it reads a sentence with a person, a city (GPE), a region (LOC), a company and a day
    (found,) = ner.spans([text])
    got = [(s.entity_type, text[s.start : s.end]) for s in found]
    # Then PERSON stays PERSON, GPE and LOC become LOCATION, ORG and DATE are not returned
    assert ("PERSON", "Angela Merkel") in got
    assert ("LOCATION", "Berlin") in got
    assert all(kind in {"PERSON", "LOCATION"} for kind, _ in got)
    assert not any(word in {"Lufthansa", "Monday"} for _, word in got)
    assert all(s.score == build_spacy.SCORE for s in found)


def test_a_mapping_for_a_label_the_ner_lacks_is_refused(written: tuple[Path, dict[str, object]]) -> None:
    out, block = written
    with pytest.raises(ModelLoadError, match="does not emit"):
        SpacyNer.from_manifest({**block, "labels": {"PATIENT": "PERSON"}}, _artifacts(out))


def test_corrupt_pipeline_bytes_are_refused(written: tuple[Path, dict[str, object]]) -> None:
    out, block = written
    artifacts = _artifacts(out)
    artifacts[build_spacy.PIPELINE_FILE] = artifacts[build_spacy.PIPELINE_FILE][:1000]
    with pytest.raises(ModelLoadError, match="spaCy pipeline cannot be loaded"):
        SpacyNer.from_manifest(block, artifacts)
