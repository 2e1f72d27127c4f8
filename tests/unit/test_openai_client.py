"""The official ``openai`` client works against the gateway unchanged."""

from __future__ import annotations

import openai
import pytest
from starlette.testclient import TestClient

from .conftest import MINILM


@pytest.fixture
def oai(client: TestClient, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url="http://testserver/v1", http_client=client, max_retries=0)


def test_embeddings_default_encoding(oai: openai.OpenAI) -> None:
    # The client asks for base64 by default and decodes it itself
    result = oai.embeddings.create(model=MINILM, input=["hello", "world"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 384
    assert result.data[1].embedding[0] == pytest.approx(2 / 384)
    assert result.usage.total_tokens > 0 and result.model == f"{MINILM}@1"


def test_embeddings_float_encoding(oai: openai.OpenAI) -> None:
    result = oai.embeddings.create(model=MINILM, input="hello", encoding_format="float")
    assert result.data[0].embedding[0] == pytest.approx(1 / 384)


def test_models_list(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == [MINILM]


def test_errors_map_to_openai_exceptions(oai: openai.OpenAI, client: TestClient) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        oai.embeddings.create(model="nope", input="x")
    assert not_found.value.body["code"] == "model.not_found"  # type: ignore[index]
    bad = openai.OpenAI(
        api_key="stw_wrong", base_url="http://testserver/v1", http_client=client, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
