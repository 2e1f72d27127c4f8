"""``pii-ner`` (token classification) through the server: OIP infer returns JSON entity spans with
character offsets into the caller's text; bad input is a 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import cpu_settings, text_request, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.server import create_app

pytestmark = pytest.mark.slow
URL = "/v2/models/pii-ner/infer"


@pytest.fixture(scope="module")
def pii_repository(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only pii-ner: linked from the built repository, or built here."""
    root = tmp_path_factory.mktemp("pii-repository")
    built = model_repository / "pii-ner"
    if (built / "1" / "manifest.json").is_file():
        (root / "pii-ner").symlink_to(built, target_is_directory=True)
    else:
        from gpu_backend.build.registry import build_models

        build_models(root, ["pii-ner"])
    return root


@pytest.fixture(scope="module")
def client(pii_repository: Path) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(pii_repository))) as test_client:
        wait_until_loaded(test_client)
        yield test_client


def entities(response: Any) -> list[list[dict[str, Any]]]:
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["name"] == "entities" and output["datatype"] == "BYTES"
    return [json.loads(item) for item in output["data"]]


def spans(text: str, found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["entity_type"], text[e["start"] : e["end"]]) for e in found]


def test_the_model_is_ready_as_a_token_classifier(client: TestClient) -> None:
    # When the model's metadata is read
    body = client.get("/v2/models/pii-ner").json()
    # Then it is ready, a token classifier, with its BIO labels
    assert body["parameters"]["state"] == "READY", body
    assert body["parameters"]["task"] == "token-classification"
    assert "B-PERSON" in body["parameters"]["labels"]
    assert body["outputs"] == [{"name": "entities", "datatype": "BYTES", "shape": [-1]}]


def test_a_clear_sentence_yields_person_and_location_spans(client: TestClient) -> None:
    # Given a sentence with a full name and a city
    text = "My name is Maria Garcia and I live in Denver."
    # When it is sent for inference
    (found,) = entities(client.post(URL, json=text_request([text])))
    # Then the spans cut exactly the name and the city, with scores in (0, 1]
    assert spans(text, found) == [("PERSON", "Maria Garcia"), ("LOCATION", "Denver")]
    assert all(0.5 < e["score"] <= 1.0 for e in found)


def test_offsets_are_characters_of_the_original_text(client: TestClient) -> None:
    # Given an emoji (4 UTF-8 bytes, 2 UTF-16 units) and accents before and inside the entities
    text = "Hello 😀, my name is Maria García and I live in São Paulo."
    # When it is sent
    (found,) = entities(client.post(URL, json=text_request([text])))
    # Then the spans cut the name and the city exactly (Python character offsets, not bytes)
    assert spans(text, found) == [("PERSON", "Maria García"), ("LOCATION", "São Paulo")]


def test_a_batch_answers_each_text_in_order(client: TestClient) -> None:
    # Given three texts, one without entities
    texts = ["Ship it to 221 Baker Street, Springfield, IL 62704.", "Can you explain gradient descent?",
             "Dr. Susan Miller flew to Paris."]  # fmt: skip
    # When they are sent in one request
    found = entities(client.post(URL, json=text_request(texts)))
    # Then each gets its own list
    assert [k for k, _ in spans(texts[0], found[0])] == ["STREET_ADDRESS"]
    assert found[1] == []
    assert ("PERSON", "Susan Miller") in spans(texts[2], found[2])


def test_empty_text_has_no_entities(client: TestClient) -> None:
    # When an empty string is sent, then the answer is an empty list
    assert entities(client.post(URL, json=text_request([""]))) == [[]]


def test_text_longer_than_the_window_is_read_in_full(client: TestClient) -> None:
    # Given a name placed after ~600 word pieces of filler (beyond one 256-token window)
    filler = "The quarterly numbers were discussed at length. " * 70
    text = filler + "Please call Maria Garcia tomorrow."
    # When it is sent
    (found,) = entities(client.post(URL, json=text_request([text])))
    # Then the name at the end is still found, at its position in the long text
    assert ("PERSON", "Maria Garcia") in spans(text, found)


def test_non_utf8_bytes_are_a_400(client: TestClient) -> None:
    # Given a binary-tensor request whose BYTES element is not UTF-8
    element = b"\xff\xfe caf\xe9"
    header = {
        "inputs": [
            {
                "name": "text",
                "datatype": "BYTES",
                "shape": [1],
                "parameters": {"binary_data_size": 4 + len(element)},
            }
        ]
    }
    head = json.dumps(header).encode()
    body = head + len(element).to_bytes(4, "little") + element
    # When it is sent
    response = client.post(
        URL,
        content=body,
        headers={
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(head)),
        },
    )
    # Then the server refuses it as bad input
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["error"]


def test_a_non_string_element_is_a_400(client: TestClient) -> None:
    # When a number is sent where text is expected, then it is a 400
    response = client.post(
        URL, json={"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [7]}]}
    )
    assert response.status_code == 400
