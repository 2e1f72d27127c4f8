"""The ``pii-ner`` build: seeded and deterministic, a manifest the server accepts, digests that verify,
and training data that never reuses an evaluation-corpus sentence."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from gpu_backend.build import pii_ner, pii_synth
from gpu_backend.build.manifest import read_manifest, verify_model_dir
from gpu_backend.build.options import BuildOptions
from gpu_backend.build.registry import MODELS, ModelSpec, build_one
from gpu_backend.manifest import ModelSource, parse_manifest
from gpu_backend.models.token_classifier import decode_entities, word_shapes

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = pii_ner.TrainConfig(train_examples=120, test_examples=20, epochs=1)


def _small_spec() -> ModelSpec:
    return ModelSpec(pii_ner.NAME, pii_ner.VERSION, lambda d, o: pii_ner.build(d, o, SMALL))


@pytest.fixture(scope="module")
def two_small_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    options = BuildOptions(fp16=False)
    first = build_one(_small_spec(), tmp_path_factory.mktemp("a"), options).path
    second = build_one(_small_spec(), tmp_path_factory.mktemp("b"), options).path
    return first, second


def test_the_default_build_includes_pii_ner() -> None:
    # Given the build registry, then pii-ner@1 is one of the default models
    assert [spec.version for spec in MODELS["pii-ner"]] == ["1"]


def test_the_synthetic_generator_is_seeded() -> None:
    # Given two generators with one seed and one with another
    # When each draws examples
    a, b, c = (pii_synth.Generator(seed).examples(50) for seed in (3, 3, 4))
    # Then the same seed gives the same texts and spans, another seed different ones
    assert a == b
    assert a != c


def test_every_span_cuts_its_own_text() -> None:
    # Given generated examples, then every span is inside its text and not blank
    for example in pii_synth.Generator(11).examples(300):
        for start, end, kind in example.spans:
            assert 0 <= start < end <= len(example.text)
            assert example.text[start:end].strip() == example.text[start:end], (example.text, kind)


def test_training_templates_are_disjoint_from_the_evaluation_corpus() -> None:
    # Given the evaluation corpus templates (read from the script's source, which needs Faker to run)
    source = (REPO_ROOT / "scripts" / "privacy_corpus.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == "TEMPLATES"
    )
    corpus = {ast.literal_eval(elt) for elt in node.value.elts}  # type: ignore[union-attr]
    # Then no training template is a corpus template
    assert corpus, "corpus templates not found"
    assert not corpus & set(pii_synth.TEMPLATES)


def test_two_builds_with_one_seed_are_byte_identical(two_small_builds: tuple[Path, Path]) -> None:
    # Given two builds of the same configuration
    first, second = two_small_builds
    # Then every artifact digest is the same
    assert read_manifest(first)["artifacts"] == read_manifest(second)["artifacts"]


def test_the_manifest_is_one_the_server_accepts(two_small_builds: tuple[Path, Path]) -> None:
    # Given a built version directory
    path = two_small_builds[0]
    # When the server's manifest parser and the build's verifier read it
    manifest = parse_manifest(
        json.loads((path / "manifest.json").read_text()), ModelSource("pii-ner", "1", path)
    )
    # Then it is a token classifier with BYTES text in and BYTES entities out, digests intact
    assert verify_model_dir(path) == []
    assert manifest.task == "token-classification"
    assert [(s.name, s.datatype, s.shape) for s in manifest.inputs] == [("text", "BYTES", (-1,))]
    assert [(s.name, s.datatype, s.shape) for s in manifest.outputs] == [("entities", "BYTES", (-1,))]
    assert manifest.postprocessing["labels"] == list(pii_ner.LABELS)
    assert manifest.preprocessing["max_length"] == 256
    assert set(manifest.artifacts) == {"model.onnx", "tokenizer.json", "spacy_ner.cfg", "spacy_ner.bin"}
    # And the ensemble's spaCy NER is listed with its mapping, version and training data
    ensemble = manifest.postprocessing["ensemble"]
    assert (ensemble["kind"], ensemble["config"], ensemble["pipeline"]) == (
        "spacy-ner", "spacy_ner.cfg", "spacy_ner.bin"
    )  # fmt: skip
    assert ensemble["labels"] == {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION"}
    assert manifest.card["ensemble"]["version"] == "3.8.0"
    assert "OntoNotes 5" in manifest.card["ensemble"]["training_data"]
    assert "OntoNotes 5" in manifest.card["training_data"]
    assert manifest.card["evaluation"]["held_out_synthetic_exact_span"].keys() == {
        "PERSON", "LOCATION", "STREET_ADDRESS"
    }  # fmt: skip


def test_a_tampered_artifact_fails_verification(two_small_builds: tuple[Path, Path], tmp_path: Path) -> None:
    # Given a copy of a build with one byte of the graph flipped
    import shutil

    copy = tmp_path / "pii-ner" / "1"
    shutil.copytree(two_small_builds[1], copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-3] ^= 0x01
    (copy / "model.onnx").write_bytes(bytes(data))
    # When it is verified, then the digest mismatch is reported
    assert any("sha256 mismatch" in p for p in verify_model_dir(copy))


def test_bio_tags_follow_the_spans() -> None:
    # Given a sentence with a two-word name, tokenised by the MiniLM tokenizer
    from tokenizers import Tokenizer

    from gpu_backend.build import minilm

    tokenizer = Tokenizer.from_file(str(minilm.source_dir() / "tokenizer.json"))
    text = "Ask Maria Garcia today."
    encoding = tokenizer.encode(text)
    # When tags are assigned
    tags = pii_ner.token_tags(encoding, ((4, 16, "PERSON"),))
    # Then the first piece of the name is B-PERSON, the others I-PERSON, the rest O
    labels = [pii_ner.LABELS[t] for t in tags]
    named = [
        label for label, (s, e) in zip(labels, encoding.offsets, strict=True) if s >= 4 and e <= 16 and e > s
    ]
    assert named[0] == "B-PERSON" and set(named[1:]) == {"I-PERSON"}
    assert labels.count("O") == len(labels) - len(named)


def test_decoding_merges_word_pieces_and_types_the_whole_entity() -> None:
    # Given per-token probabilities where a name's pieces disagree slightly on the type
    labels = list(pii_ner.LABELS)
    text = "Hi Logan Dudley."
    offsets = [(0, 2), (3, 8), (9, 12), (12, 15), (15, 16)]
    word_ids: list[int | None] = [0, 1, 2, 2, 3]
    probs = np.zeros((5, len(labels)), dtype=np.float32)
    probs[:, labels.index("O")] = 1.0
    probs[1] = 0
    probs[1, labels.index("B-PERSON")] = 0.9
    probs[1, labels.index("O")] = 0.1
    for t in (2, 3):
        probs[t] = 0
        probs[t, labels.index("I-PERSON")] = 0.45
        probs[t, labels.index("I-LOCATION")] = 0.4
        probs[t, labels.index("O")] = 0.15
    # When decoded
    (entity,) = decode_entities(probs, offsets, word_ids, labels, text)
    # Then one PERSON spans both words, scored by the mean PERSON probability over them
    assert (text[entity.start : entity.end], entity.entity_type) == ("Logan Dudley", "PERSON")
    assert entity.score == pytest.approx((0.9 + 0.45) / 2, abs=1e-3)


def test_word_shapes_see_the_casing_the_encoder_cannot() -> None:
    # Given a text with lower, capitalised, upper-case and numeric words
    text = "the Quick NASA 42"
    offsets = [(0, 3), (4, 9), (10, 14), (15, 17)]
    # When shapes are computed, then each word gets its casing class
    assert word_shapes(text, offsets, [0, 1, 2, 3]).tolist() == [1, 2, 3, 0]
