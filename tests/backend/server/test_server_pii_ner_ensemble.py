"""``pii-ner`` with its spaCy ensemble through the server: one call answers the merged spans, the
metadata names the second model, a failing NER is an error (never a partial answer), and a
tampered spaCy artifact keeps the model from loading."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import cpu_settings, text_request, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.build import spacy_ner as build_spacy
from gpu_backend.build.manifest import artifact_entries, read_manifest, write_manifest
from gpu_backend.server import create_app

pytestmark = pytest.mark.slow
URL = "/v2/models/pii-ner/infer"
CLASSIFIER_FILES = ("model.onnx", "model.fp16.onnx", "tokenizer.json")


def ensemble_copy(built: Path, root: Path) -> Path:
    """``<root>/pii-ner/1``: the built classifier's files (linked) plus the spaCy NER written here."""
    target = root / "pii-ner" / "1"
    target.mkdir(parents=True)
    manifest = read_manifest(built)
    for name in CLASSIFIER_FILES:
        if (built / name).is_file():
            (target / name).symlink_to((built / name).resolve())
    files, block, facts = build_spacy.write(target)
    classifier = [n for n in manifest["artifacts"] if n in CLASSIFIER_FILES]
    manifest["artifacts"] = artifact_entries(target, [*classifier, *files])
    manifest["postprocessing"]["ensemble"] = block
    manifest["card"]["ensemble"] = facts
    write_manifest(target, manifest)
    return target


@pytest.fixture(scope="module")
def built_classifier(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = model_repository / "pii-ner" / "1"
    if (built / "manifest.json").is_file():
        return built
    from gpu_backend.build.registry import build_models

    root = tmp_path_factory.mktemp("pii-build")
    build_models(root, ["pii-ner"])
    return root / "pii-ner" / "1"


@pytest.fixture(scope="module")
def repository(built_classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pii-ensemble")
    ensemble_copy(built_classifier, root)
    return root


@pytest.fixture(scope="module")
def client(repository: Path) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(repository)), raise_server_exceptions=False) as test_client:
        wait_until_loaded(test_client)
        yield test_client


def entities(response: Any) -> list[list[dict[str, Any]]]:
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    return [json.loads(item) for item in output["data"]]


def spans(text: str, found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["entity_type"], text[e["start"] : e["end"]]) for e in found]


def test_metadata_names_the_ensembled_ner(client: TestClient) -> None:
    body = client.get("/v2/models/pii-ner").json()
    assert body["parameters"]["state"] == "READY", body
    ensemble = body["parameters"]["ensemble"]
    assert ensemble["kind"] == "spacy-ner" and ensemble["version"] == "3.8.0"
    assert ensemble["labels"] == build_spacy.LABELS


def test_one_call_answers_non_overlapping_merged_spans(client: TestClient) -> None:
    # Given a news sentence and a sentence with an address, in one request
    news = "Prime Minister John Howard met Yasser Arafat in Gaza City on Tuesday."
    letter = "Please write to Maria Garcia at 221 Baker Street, London NW1 6XE before Friday."
    # When both are sent at once
    found_news, found_letter = entities(client.post(URL, json=text_request([news, letter])))
    # Then the people and the city are found, without the title
    got = spans(news, found_news)
    assert ("PERSON", "John Howard") in got and ("PERSON", "Yasser Arafat") in got
    assert ("LOCATION", "Gaza City") in got
    # And the address is one STREET_ADDRESS span (no place name carved out of it)
    letter_spans = spans(letter, found_letter)
    assert ("PERSON", "Maria Garcia") in letter_spans
    (address,) = [e for e in found_letter if e["entity_type"] == "STREET_ADDRESS"]
    assert "Baker Street" in letter[address["start"] : address["end"]]
    # And no two spans overlap in either answer
    for found in (found_news, found_letter):
        ordered = sorted((e["start"], e["end"]) for e in found)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ordered))
    # And each span says what each model read there: its own type is one of the readings
    for found in (found_news, found_letter):
        for e in found:
            assert set(e["readings"]) <= {"classifier", "spacy"}
            assert e["entity_type"] in e["readings"].values()
    # And the address is the classifier's reading (spaCy, which knows no addresses, read its city)
    assert address["readings"] == {"classifier": "STREET_ADDRESS", "spacy": "LOCATION"}


def test_a_failing_ner_is_an_error_not_a_partial_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the ensemble's second model failing at inference
    from gpu_backend.models.spacy_ner import SpacyNer

    def broken(self: SpacyNer, texts: list[str]) -> list[Any]:
        raise RuntimeError("ner failed")

    monkeypatch.setattr(SpacyNer, "read", broken)
    # When a text is sent
    response = client.post(URL, json=text_request(["John Smith lives in Paris."]))
    # Then the server answers an error, not the classifier's spans alone
    assert response.status_code >= 500
    assert "outputs" not in response.text


def test_a_tampered_spacy_artifact_keeps_the_model_from_loading(
    built_classifier: Path, tmp_path: Path
) -> None:
    # Given an ensemble whose spaCy pipeline was changed after the manifest was written
    target = ensemble_copy(built_classifier, tmp_path)
    data = bytearray((target / build_spacy.PIPELINE_FILE).read_bytes())
    data[-7] ^= 0x01
    (target / build_spacy.PIPELINE_FILE).write_bytes(bytes(data))
    # When the server loads the repository
    with TestClient(create_app(cpu_settings(tmp_path))) as test_client:
        body: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until loading has started and ended
            body = test_client.get("/v2/models/pii-ner").json()
            if body.get("parameters", {}).get("state") not in (None, "LOADING"):
                break
            time.sleep(0.01)
        # Then the model is unavailable, with the integrity failure as the reason
        assert body["parameters"]["state"] == "UNAVAILABLE", body
        assert "integrity check failed" in body["parameters"]["reason"]
        assert test_client.post(URL, json=text_request(["John Smith"])).status_code != 200
    shutil.rmtree(target, ignore_errors=True)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("kind", "flair-ner", "is not one of"),
        ("pipeline", "other.bin", "not listed in 'artifacts'"),
        ("labels", {}, "must map spaCy labels"),
        ("score", 0, "must be in"),
        ("classifier_wins", "STREET_ADDRESS", "must be a list"),
    ],
)
def test_a_malformed_ensemble_block_is_refused(repository: Path, key: str, value: Any, reason: str) -> None:
    from gpu_backend.errors import ModelLoadError
    from gpu_backend.manifest import parse_manifest

    data = read_manifest(repository / "pii-ner" / "1")
    data["postprocessing"]["ensemble"][key] = value
    with pytest.raises(ModelLoadError, match=reason):
        parse_manifest(data)


def test_an_ensemble_without_token_spans_is_refused(repository: Path) -> None:
    from gpu_backend.errors import ModelLoadError
    from gpu_backend.manifest import parse_manifest

    data = read_manifest(repository / "pii-ner" / "1")
    ensemble = data["postprocessing"]["ensemble"]
    data["postprocessing"] = {"kind": "none", "ensemble": ensemble}
    with pytest.raises(ModelLoadError, match="only read with 'token-spans'"):
        parse_manifest(data)


def test_spacy_reads_on_its_own_worker_while_the_classifier_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given spaCy's read recording the thread it runs on
    import threading

    from gpu_backend.models.spacy_ner import SpacyNer

    threads: list[str] = []
    original = SpacyNer.read

    def recording(self: SpacyNer, texts: list[str]) -> list[Any]:
        threads.append(threading.current_thread().name)
        return original(self, texts)

    monkeypatch.setattr(SpacyNer, "read", recording)
    # When two requests are answered
    for text in ("John Smith lives in Paris.", "Maria Garcia moved to Lima."):
        assert entities(client.post(URL, json=text_request([text])))
    # Then spaCy read on the ensemble's one worker, never on the thread that runs the classifier
    assert len(threads) == 2 and all(name.startswith("spacy-ner") for name in threads)
