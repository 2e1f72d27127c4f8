"""The official clients, unchanged, against the local stack (``make up``): ``openai`` on the
OpenAI-compatible routes and ``tritonclient.http`` with its defaults (binary tensors both ways) on
the Open Inference Protocol routes, the API key as a header. Both must see the same model."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MINILM = "all-minilm-l6-v2"
SENTENCES = ["A man is eating food.", "The new movie is awesome."]


@pytest.fixture(scope="module")
def oai(stack: RunningStack) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=stack.key, max_retries=0, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="module")
def tc(stack: RunningStack) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(
        stack.api_url.removeprefix("http://"), connection_timeout=10.0, network_timeout=60.0
    )
    yield client
    client.close()


def _headers(stack: RunningStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.key}"}


# --- openai ------------------------------------------------------------------------------------


def test_openai_embeddings_float_and_base64_agree(oai: openai.OpenAI) -> None:
    # When the same batch is asked for as floats, then as base64 (the SDK's own default)
    floats = oai.embeddings.create(model=MINILM, input=SENTENCES, encoding_format="float")
    packed = oai.embeddings.create(model=MINILM, input=SENTENCES)
    # Then both give one unit-length 384-d vector per input, in order, and the same numbers
    for result in (floats, packed):
        assert [d.index for d in result.data] == [0, 1]
        assert all(len(d.embedding) == 384 for d in result.data)
        assert result.usage.prompt_tokens > 0 and result.model.startswith(f"{MINILM}@")
    for a, b in zip(floats.data, packed.data, strict=True):
        assert np.allclose(a.embedding, b.embedding, atol=1e-6)
        assert abs(float(np.linalg.norm(a.embedding)) - 1.0) < 1e-4
    assert float(np.dot(floats.data[0].embedding, floats.data[1].embedding)) < 0.9


def test_openai_models_list_and_retrieve(oai: openai.OpenAI) -> None:
    listed = {m.id for m in oai.models.list().data}
    assert {MINILM, "credit-risk"} <= listed
    model = oai.models.retrieve(MINILM)
    assert model.id == MINILM and model.object == "model"


def test_openai_errors_show_stewards_message_and_code(stack: RunningStack, oai: openai.OpenAI) -> None:
    # Given the problem document Steward answers for an unknown model
    problem = httpx.post(
        f"{stack.api_url}/v1/embeddings",
        headers=_headers(stack),
        json={"model": "no-such-model", "input": "x"},
        timeout=30,
    ).json()
    # When the SDK makes the same call, and retrieves the model
    with pytest.raises(openai.NotFoundError) as embedding_error:
        oai.embeddings.create(model="no-such-model", input="x")
    with pytest.raises(openai.NotFoundError) as retrieve_error:
        oai.models.retrieve("no-such-model")
    # Then it shows Steward's message and stable code, not a bare status
    for caught in (embedding_error.value, retrieve_error.value):
        assert caught.status_code == 404 and caught.code == "model.not_found"
        assert caught.message == f"Error code: 404 - {problem['detail']}"


def test_openai_client_with_a_bad_key_is_an_authentication_error(stack: RunningStack) -> None:
    bad = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key="stw_not_a_key", max_retries=0, timeout=30)
    try:
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    finally:
        bad.close()


# --- tritonclient.http -------------------------------------------------------------------------


def test_tritonclient_health_metadata_and_repository(
    stack: RunningStack, tc: triton.InferenceServerClient
) -> None:
    headers = _headers(stack)
    assert tc.is_server_live(headers=headers)
    assert tc.is_server_ready(headers=headers)
    assert "binary_tensor_data" in tc.get_server_metadata(headers=headers)["extensions"]
    assert tc.is_model_ready(MINILM, headers=headers)
    assert tc.is_model_ready(MINILM, "1", headers=headers)
    assert not tc.is_model_ready("no-such-model", headers=headers)
    assert not tc.is_server_live()  # no key: 401
    metadata = tc.get_model_metadata(MINILM, headers=headers)
    assert metadata["name"] == MINILM
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [("text", "BYTES")]
    assert [o["name"] for o in metadata["outputs"]] == ["embedding"]
    index = tc.get_model_repository_index(headers=headers)
    assert {MINILM, "credit-risk"} <= {m["name"] for m in index}
    assert all(m["state"] == "READY" for m in index)


def _text_input(texts: list[str]) -> triton.InferInput:
    tensor = triton.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))  # binary by default
    return tensor


def test_tritonclient_infer_matches_the_openai_route(
    stack: RunningStack, oai: openai.OpenAI, tc: triton.InferenceServerClient
) -> None:
    # Given the embeddings the OpenAI route gives for two sentences
    reference = np.array(
        [
            d.embedding
            for d in oai.embeddings.create(model=MINILM, input=SENTENCES, encoding_format="float").data
        ]
    )
    headers = _headers(stack)
    # When tritonclient infers them with its defaults (binary inputs, every output as binary data)
    default = tc.infer(MINILM, [_text_input(SENTENCES)], headers=headers)
    # And again naming the output, binary_data=True, on the versioned route
    named = tc.infer(
        MINILM,
        [_text_input(SENTENCES)],
        model_version="1",
        outputs=[triton.InferRequestedOutput("embedding", binary_data=True)],
        headers=headers,
    )
    # Then both are binary FP32 tensors equal to the OpenAI route's vectors
    for result in (default, named):
        embedding = result.as_numpy("embedding")
        assert embedding is not None and embedding.dtype == np.float32 and embedding.shape == (2, 384)
        assert result.get_output("embedding")["parameters"]["binary_data_size"] == 2 * 384 * 4
        assert np.abs(embedding - reference).max() < 1e-5
    assert default.get_response()["model_name"] == MINILM


def test_tritonclient_errors_are_exceptions_with_the_status(
    stack: RunningStack, tc: triton.InferenceServerClient
) -> None:
    with pytest.raises(InferenceServerException) as unknown:
        tc.infer("no-such-model", [_text_input(["x"])], headers=_headers(stack))
    assert unknown.value.status() == "404"
    wrong = triton.InferInput("text", [1], "FP32")
    wrong.set_data_from_numpy(np.array([1.5], dtype=np.float32))
    with pytest.raises(InferenceServerException) as mismatch:
        tc.infer(MINILM, [wrong], headers=_headers(stack))
    assert mismatch.value.status() == "400"
