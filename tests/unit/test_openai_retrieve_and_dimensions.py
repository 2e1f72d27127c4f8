"""The official ``openai`` client: ``models.retrieve`` and a clear refusal of ``dimensions``."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from starlette.testclient import TestClient

from tests.fakes import FakeTransport

from .conftest import CREDIT, MINILM, bearer


@pytest.fixture
def oai(client: TestClient, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url="http://testserver/v1", http_client=client, max_retries=0)


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


def test_models_retrieve_returns_the_model_object(oai: openai.OpenAI) -> None:
    model = oai.models.retrieve(MINILM)
    assert (model.id, model.object, model.owned_by) == (MINILM, "model", "ml-team")
    assert model.created > 0
    assert model.model_dump() == next(m for m in oai.models.list()).model_dump()


def test_models_retrieve_accepts_a_pinned_version(oai: openai.OpenAI) -> None:
    assert oai.models.retrieve(f"{MINILM}@1").id == f"{MINILM}@1"


def test_models_retrieve_absent_and_not_yours_look_the_same(
    oai: openai.OpenAI, client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # The key may use MiniLM only: credit-risk exists but is not the caller's
    for name in (CREDIT, "no-such-model", f"{MINILM}@9"):
        with pytest.raises(openai.NotFoundError) as err:
            oai.models.retrieve(name)
        assert err.value.code == "model.not_found"
    hidden = client.get(f"/v1/models/{CREDIT}", headers=bearer(api_key))
    absent = client.get("/v1/models/no-such-model", headers=bearer(api_key))
    assert hidden.status_code == absent.status_code == 404
    assert without_request_id(hidden.json()) == without_request_id(absent.json())
    assert transport.calls == []


def test_models_retrieve_needs_a_key(client: TestClient) -> None:
    assert client.get(f"/v1/models/{MINILM}").status_code == 401


def test_dimensions_other_than_the_native_size_is_a_clear_400_before_any_backend_call(
    oai: openai.OpenAI, transport: FakeTransport
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        oai.embeddings.create(model=MINILM, input="hello", dimensions=128)
    assert err.value.status_code == 400 and err.value.code == "input.unsupported"
    # The error the SDK hands over says why, and which size works
    said = json.dumps(err.value.body)
    assert "384-dimensional" in said and "set it to 384" in said
    assert transport.calls == []


def test_dimensions_equal_to_the_native_size_is_accepted(oai: openai.OpenAI) -> None:
    result = oai.embeddings.create(model=MINILM, input="hello", dimensions=384)
    assert len(result.data[0].embedding) == 384
