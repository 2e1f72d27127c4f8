"""OIP v2 routes through the gateway: health, server and model metadata, repository index, and
inference with JSON sent without a media type and with the binary tensor data extension."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward.catalog.registry import Target
from steward.routing.transport import BackendRequest, BackendResponse

from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryRegistryStore, demo_model

from .conftest import CREDIT, MINILM, bearer

EMAIL = "jane.doe@example.com"
TABULAR = "tabular-echo"
BINARY_FLAGS = ("binary_data_output", "binary_data", "binary_data_size")


def _bytes_tensor(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def _binary_request(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head))}


def _names_binary_flag(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in BINARY_FLAGS or _names_binary_flag(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_names_binary_flag(v) for v in value)
    return False


def echo_backend(target: Target, request: BackendRequest) -> BackendResponse:
    """Answers like the real backend: with a binary flag in the request it answers in the binary
    extension (which the gateway can't parse), otherwise JSON echoing every input back."""
    if _names_binary_flag(request.payload):
        return BackendResponse(200, b'{"outputs":[]}\x00\x00\x80?')
    outputs = [
        {"name": t["name"] + "_out", "datatype": t["datatype"], "shape": t["shape"], "data": t["data"]}
        for t in request.payload["inputs"]
    ]
    body = {"model_name": request.model, "model_version": request.version, "outputs": outputs}
    return BackendResponse(200, json.dumps(body).encode())


@pytest.fixture
def token(make_key: Callable[..., str]) -> str:
    return make_key("acme", (MINILM,))


@pytest.fixture
def tabular(registry_store: InMemoryRegistryStore, make_key: Callable[..., str]) -> str:
    """A key for a model declaring numeric tensors (echoed back by ``echo_backend``)."""
    declared = [("x", "FP32", [-1, 2]), ("a", "INT64", [-1]), ("b", "FP32", [-1])]
    entry, version = demo_model(TABULAR, task="tabular-classification")
    version = replace(
        version,
        inputs=tuple({"name": n, "datatype": d, "shape": s} for n, d, s in declared),
        outputs=tuple({"name": n + "_out", "datatype": d, "shape": s} for n, d, s in declared),
    )
    registry_store.put_entry(entry)
    registry_store.put_version(version)
    return make_key("acme", (TABULAR,))


@pytest.fixture
def echo(transport: FakeTransport) -> FakeTransport:
    transport.respond = echo_backend
    return transport


# --- health and metadata -------------------------------------------------------------------


def test_health_and_server_metadata_need_a_key_like_every_v2_route(client: TestClient, token: str) -> None:
    # Given a caller with a key / When it asks for liveness, readiness and server metadata
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert client.get(path, headers=bearer(token)).status_code == 200
    meta = client.get("/v2", headers=bearer(token))
    # Then the server says what it is and the extensions it really supports
    assert meta.status_code == 200
    assert meta.json()["name"] == "steward" and meta.json()["extensions"] == ["binary_tensor_data"]
    # And without a key the answer is the gateway's 401, as on every other governed route
    for path in ("/v2/health/live", "/v2/health/ready", "/v2"):
        response = client.get(path)
        assert (response.status_code, response.json()["code"]) == (401, "auth.invalid_key")


def test_model_ready_only_for_the_callers_models(client: TestClient, token: str) -> None:
    ok = client.get(f"/v2/models/{MINILM}/ready", headers=bearer(token))
    assert (ok.status_code, ok.json()) == (200, {"name": MINILM, "ready": True})
    assert client.get(f"/v2/models/{MINILM}/versions/1/ready", headers=bearer(token)).status_code == 200
    # A model that exists but is not this key's, an absent one and an absent version: one answer
    bodies = []
    for path in (
        f"/v2/models/{CREDIT}/ready",
        "/v2/models/nope/ready",
        f"/v2/models/{MINILM}/versions/9/ready",
    ):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404
        bodies.append({k: v for k, v in response.json().items() if k != "request_id"})
    assert bodies[0] == bodies[1] == bodies[2] and bodies[0]["code"] == "model.not_found"
    # OIP's own error shape rides along, so tritonclient shows Steward's message
    assert bodies[0]["error"] == f"{bodies[0]['detail']} [model.not_found]"


def test_repository_index_lists_only_the_callers_models(
    client: TestClient, token: str, make_key: Callable[..., str]
) -> None:
    # tritonclient posts an empty body without a media type
    index = client.post("/v2/repository/index", headers=bearer(token), content=b"")
    assert index.status_code == 200
    assert index.json() == [{"name": MINILM, "version": "1", "state": "READY"}]
    ready_only = client.post("/v2/repository/index", headers=bearer(token), json={"ready": True})
    assert ready_only.json() == index.json()
    everything = client.post("/v2/repository/index", headers=bearer(make_key("acme", ("*",))))
    assert [m["name"] for m in everything.json()] == sorted([CREDIT, MINILM])


# --- media types ---------------------------------------------------------------------------


def test_infer_parses_a_body_without_a_media_type_as_json(
    client: TestClient, token: str, echo: FakeTransport
) -> None:
    body = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]})
    for headers in ({}, {"content-type": "application/octet-stream"}, {"content-type": "application/json"}):
        response = client.post(
            f"/v2/models/{MINILM}/infer", headers={**bearer(token), **headers}, content=body
        )
        assert response.status_code == 200, headers
        assert response.json()["outputs"][0]["data"] == ["hi"]
    other = client.post(
        f"/v2/models/{MINILM}/infer", headers={**bearer(token), "content-type": "text/plain"}, content=body
    )
    assert (other.status_code, other.json()["code"]) == (415, "input.unsupported_media_type")
    assert len(echo.calls) == 3


def test_infer_errors_keep_their_codes(client: TestClient, token: str, echo: FakeTransport) -> None:
    headers = bearer(token)
    malformed = client.post(f"/v2/models/{MINILM}/infer", headers=headers, content=b'{"inputs": ')
    assert (malformed.status_code, malformed.json()["code"]) == (400, "input.malformed_json")
    empty = client.post(f"/v2/models/{MINILM}/infer", headers=headers, content=b"")
    assert (empty.status_code, empty.json()["code"]) == (422, "input.invalid")
    # Valid framing, binary data, but a schema violation elsewhere: the schema's 422, not a parse error
    blob = _bytes_tensor(b"hi")
    header = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 6}}
        ],
        "unknown": 1,
    }
    body, extra = _binary_request(header, blob)
    invalid = client.post(f"/v2/models/{MINILM}/infer", headers={**headers, **extra}, content=body)
    assert (invalid.status_code, invalid.json()["code"]) == (422, "input.invalid")
    assert echo.calls == []


def test_json_sent_as_octet_stream_meets_the_same_strict_json_rules(
    client: TestClient, token: str, echo: FakeTransport
) -> None:
    headers = {**bearer(token), "content-type": "application/octet-stream"}
    deep = (
        b'{"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1], "data": '
        + b"[" * 100
        + b"]" * 100
        + b"}]}"
    )
    for body in (deep, b'{"inputs": [], "id": "\\ud800"}'):
        response = client.post(f"/v2/models/{MINILM}/infer", headers=headers, content=body)
        assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json"), body[:40]
    assert echo.calls == []


# --- binary tensor data extension ----------------------------------------------------------


def test_binary_bytes_are_redacted_before_the_backend_exactly_like_json(
    client: TestClient, token: str, echo: FakeTransport
) -> None:
    # Given the same text sent as a JSON string and as a binary BYTES element
    text = f"write to {EMAIL} today"
    as_json = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}]}
    blob = _bytes_tensor(text.encode())
    header = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": len(blob)}}
        ]
    }
    body, extra = _binary_request(header, blob)

    # When both are inferred
    first = client.post(f"/v2/models/{MINILM}/infer", headers=bearer(token), json=as_json)
    second = client.post(f"/v2/models/{MINILM}/infer", headers={**bearer(token), **extra}, content=body)

    # Then the backend saw the same redacted text both times, never the address
    assert first.status_code == second.status_code == 200
    (sent_json,), (sent_binary,) = (c[1].payload["inputs"][0]["data"] for c in echo.calls)
    assert EMAIL not in sent_json and sent_json == sent_binary
    assert "binary_data_size" not in json.dumps(echo.calls[1][1].payload)


def test_binary_outputs_are_encoded_by_the_gateway_and_the_breaker_stays_closed(
    client: TestClient, tabular: str, echo: FakeTransport
) -> None:
    # Given FP32 inputs sent as binary data, asking for every output as binary data, more times
    # than the breaker threshold (2 in the fixture)
    values = (0.25, -1.5, 3.0, 1e-3)
    blob = struct.pack("<4f", *values)
    header = {
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}}
        ],
        "parameters": {"binary_data_output": True},
    }
    body, extra = _binary_request(header, blob)
    for _ in range(4):
        response = client.post(
            f"/v2/models/{TABULAR}/infer", headers={**bearer(tabular), **extra}, content=body
        )

        # Then each answer is the binary extension: JSON header, then the tensor, bit for bit
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        n = int(response.headers["inference-header-content-length"])
        out = json.loads(response.content[:n])["outputs"][0]
        assert out["parameters"] == {"binary_data_size": 16} and "data" not in out
        assert response.content[n:] == blob
    # And the backend never saw a binary flag (it would have answered binary) and kept serving
    assert len(echo.calls) == 4
    assert not any(_names_binary_flag(c[1].payload) for c in echo.calls)


def test_per_output_binary_choice(client: TestClient, tabular: str, echo: FakeTransport) -> None:
    payload = {
        "inputs": [
            {"name": "a", "datatype": "INT64", "shape": [2], "data": [1, -2]},
            {"name": "b", "datatype": "FP32", "shape": [1], "data": [0.5]},
        ],
        "outputs": [{"name": "a_out", "parameters": {"binary_data": True}}, {"name": "b_out"}],
    }
    response = client.post(f"/v2/models/{TABULAR}/infer", headers=bearer(tabular), json=payload)
    assert response.status_code == 200
    n = int(response.headers["inference-header-content-length"])
    a_out, b_out = json.loads(response.content[:n])["outputs"]
    assert a_out["parameters"]["binary_data_size"] == 16 and b_out["data"] == [0.5]
    assert struct.unpack("<2q", response.content[n:]) == (1, -2)


def _tensor(datatype: str, shape: list[int], size: int) -> dict[str, Any]:
    return {"name": EMAIL, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}


@pytest.mark.parametrize(
    ("header", "tail", "length"),
    [
        ({"inputs": [_tensor("FP32", [2], 8)]}, b"\x00" * 8, "999"),  # header length beyond the body
        ({"inputs": [_tensor("FP32", [2], 8)]}, b"\x00" * 12, None),  # trailing bytes
        ({"inputs": [_tensor("FP32", [3], 8)]}, b"\x00" * 8, None),  # size does not match the shape
        ({"inputs": [_tensor("BYTES", [1], 6)]}, _bytes_tensor(b"\xc3\x28"), None),  # invalid UTF-8
    ],
)
def test_malformed_binary_is_a_400_and_never_reaches_the_backend(
    client: TestClient,
    token: str,
    echo: FakeTransport,
    audit_store: InMemoryAuditStore,
    header: dict[str, Any],
    tail: bytes,
    length: str | None,
) -> None:
    body, extra = _binary_request(header, tail)
    if length is not None:
        extra["Inference-Header-Content-Length"] = length
    response = client.post(f"/v2/models/{MINILM}/infer", headers={**bearer(token), **extra}, content=body)
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_binary")
    assert EMAIL not in response.text  # the message names the input by index, never by its name
    assert echo.calls == []
    assert "input.malformed_binary" in audit_store.records[-1]["reason_codes"]


def test_body_size_limit_applies_to_binary_bodies(client: TestClient, token: str, settings: Any) -> None:
    blob = b"\x00" * (settings.max_body_bytes + 1)
    header = {
        "inputs": [
            {
                "name": "t",
                "datatype": "UINT8",
                "shape": [len(blob)],
                "parameters": {"binary_data_size": len(blob)},
            }
        ]
    }
    body, extra = _binary_request(header, blob)
    response = client.post(f"/v2/models/{MINILM}/infer", headers={**bearer(token), **extra}, content=body)
    assert (response.status_code, response.json()["code"]) == (413, "input.too_large")
