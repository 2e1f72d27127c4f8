"""The real ``tritonclient.http`` against the gateway over HTTP, unchanged: its defaults send
binary inputs and ask for binary outputs, and the API key travels as a header.

The gateway app (in-memory registry, keys and audit; a fake OIP backend) is served by uvicorn on a
loopback port in a thread, behind the local API Gateway emulator, for this module only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pytest
import tritonclient.http as triton
import uvicorn
from pydantic import SecretStr
from steward import admin
from steward.auth.authorize import Authorizer
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry, Target
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings
from tritonclient.utils import InferenceServerException

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    demo_model,
    embedding_response,
)

pytestmark = pytest.mark.integration

PEPPER = b"tritonclient-test-pepper-0123456789"
TEXT_MODEL = "all-minilm-l6-v2"
TABULAR_MODEL = "credit-risk"
OTHER_MODEL = "someone-elses"
EMAIL = "jane.doe@example.com"
STARTUP_S = 10.0


def backend(target: Target, request: BackendRequest) -> BackendResponse:
    """An OIP backend that, like the real one, answers in the binary extension when asked to
    (which the gateway could not parse): the gateway must never forward those flags."""
    if "binary_data" in json.dumps(request.payload):
        return BackendResponse(200, b'{"outputs":[]}\x00\x00\x80?')
    if request.model == TEXT_MODEL:
        return BackendResponse(200, json.dumps(embedding_response(request, dim=4)).encode())
    (features,) = request.payload["inputs"]
    probabilities = [min(1.0, abs(v)) for v in features["data"]]
    body = {
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": features["shape"], "data": probabilities},
            {"name": "echo", "datatype": "FP32", "shape": features["shape"], "data": features["data"]},
        ]
    }
    return BackendResponse(200, json.dumps(body).encode())


@dataclass
class Served:
    url: str
    key: str
    transport: FakeTransport

    def client(self) -> triton.InferenceServerClient:
        return triton.InferenceServerClient(self.url, connection_timeout=5.0, network_timeout=10.0)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _registry() -> InMemoryRegistryStore:
    store = InMemoryRegistryStore()
    inputs = ({"name": "features", "datatype": "FP32", "shape": [-1, 4]},)
    outputs = (
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 4]},
        {"name": "echo", "datatype": "FP32", "shape": [-1, 4]},
    )
    for model, task in (
        (TEXT_MODEL, "sentence-embedding"),
        (TABULAR_MODEL, "tabular-classification"),
        (OTHER_MODEL, "tabular-classification"),
    ):
        entry, version = demo_model(model, task=task)
        if task != "sentence-embedding":
            version = replace(version, inputs=inputs, outputs=outputs)
        store.put_entry(entry)
        store.put_version(version)
    return store


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    settings = ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()))
    keys = InMemoryKeyStore()
    key, _ = admin.create_api_key(
        "acme", models=(TEXT_MODEL, TABULAR_MODEL), settings=settings, store=keys, pepper=lambda: PEPPER
    )
    transport = FakeTransport(respond=backend)
    # A breaker that opens after two faults: any fault the binary extension caused would show.
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=lambda s: None)
    use_cases = compose_api(Registry(_registry()), router, InMemoryAuditStore())
    authorizer = Authorizer(keys, lambda: PEPPER)
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield Served(f"127.0.0.1:{port}", key, transport)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_S)
        sock.close()


@pytest.fixture
def served_fresh(served: Served) -> Served:
    served.transport.calls.clear()
    return served


def test_health_server_and_model_metadata(served: Served) -> None:
    client, headers = served.client(), served.headers
    try:
        assert client.is_server_live(headers=headers)
        assert client.is_server_ready(headers=headers)
        assert "binary_tensor_data" in client.get_server_metadata(headers=headers)["extensions"]
        assert client.is_model_ready(TEXT_MODEL, headers=headers)
        assert client.is_model_ready(TEXT_MODEL, "1", headers=headers)
        assert not client.is_model_ready(OTHER_MODEL, headers=headers)
        assert not client.is_model_ready("absent", headers=headers)
        assert not client.is_server_live()  # no key: the gateway's 401
        metadata = client.get_model_metadata(TABULAR_MODEL, headers=headers)
        assert metadata["name"] == TABULAR_MODEL and metadata["inputs"][0]["name"] == "features"
        index = client.get_model_repository_index(headers=headers)
        assert sorted(m["name"] for m in index) == sorted([TABULAR_MODEL, TEXT_MODEL])  # never someone else's
    finally:
        client.close()


def test_binary_bytes_input_is_redacted_before_the_backend(served_fresh: Served) -> None:
    # Given a BYTES tensor holding an e-mail address, sent with the client's defaults (binary)
    text = np.array([f"please write to {EMAIL}".encode(), b"nothing personal"], dtype=np.object_)
    tensor = triton.InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(text)
    client = served_fresh.client()
    try:
        # When it is inferred, with every output asked for as binary data (no outputs named)
        result = client.infer(TEXT_MODEL, [tensor], headers=served_fresh.headers)
    finally:
        client.close()

    # Then the backend saw the text redacted and the embeddings came back as binary FP32
    (call,) = served_fresh.transport.calls
    sent = call[1].payload["inputs"][0]["data"]
    assert EMAIL not in json.dumps(sent) and sent[1] == "nothing personal"
    assert "please write to" in sent[0]
    embedding = result.as_numpy("embedding")
    assert embedding is not None and embedding.dtype == np.float32 and embedding.shape == (2, 4)
    assert embedding[1].tolist() == pytest.approx([0.5] * 4)
    assert result.get_output("embedding")["parameters"]["binary_data_size"] == 2 * 4 * 4


def test_fp32_round_trips_in_binary_and_the_breaker_stays_closed(served_fresh: Served) -> None:
    features = np.array([[0.1, -0.25, 3.5, 1e-7], [0.0, 0.5, -2.0, 7.0]], dtype=np.float32)
    client = served_fresh.client()
    try:
        for _ in range(5):  # more than the breaker threshold
            tensor = triton.InferInput("features", list(features.shape), "FP32")
            tensor.set_data_from_numpy(features)
            outputs = [
                triton.InferRequestedOutput("echo", binary_data=True),
                triton.InferRequestedOutput("probabilities", binary_data=False),
            ]
            result = client.infer(TABULAR_MODEL, [tensor], outputs=outputs, headers=served_fresh.headers)
            echo = result.as_numpy("echo")
            assert echo is not None and echo.dtype == np.float32
            assert np.array_equal(echo, features)  # bit for bit
            assert result.get_output("probabilities")["data"][2] == pytest.approx(1.0)
            default = client.infer(TABULAR_MODEL, [tensor], headers=served_fresh.headers)
            assert np.array_equal(default.as_numpy("echo"), features)
    finally:
        client.close()
    assert len(served_fresh.transport.calls) == 10


def test_invalid_utf8_in_a_binary_bytes_tensor_is_a_400(served_fresh: Served) -> None:
    tensor = triton.InferInput("text", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"\xff\xfe broken"], dtype=np.object_))
    client = served_fresh.client()
    try:
        with pytest.raises(InferenceServerException) as error:
            client.infer(TEXT_MODEL, [tensor], headers=served_fresh.headers)
    finally:
        client.close()
    assert error.value.status() == "400" and "input.malformed_binary" in str(error.value)
    assert served_fresh.transport.calls == []
