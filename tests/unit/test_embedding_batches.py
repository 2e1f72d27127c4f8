"""Embedding requests larger than the backend's batch limit are split, never refused.

The fake backend behaves like ``gpu_backend``: a batch over its ``max_batch_size`` is a 400.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward import admin
from steward.catalog.registry import Target
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings

from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryRegistryStore, demo_model

from .conftest import MINILM, bearer

BACKEND_LIMIT = 64
DIM = 8
EMAIL = "jane.doe@example.com"


Backend = Callable[[Target, BackendRequest], BackendResponse]


def strict_backend(limit: int = BACKEND_LIMIT) -> Backend:
    """Row ``i`` of a batch is ``[float(n)] * DIM`` for input text ``"t<n>"``; too many rows: 400."""

    def respond(target: Target, request: BackendRequest) -> BackendResponse:
        tensor = request.payload["inputs"][0]
        texts = tensor["data"]
        if len(texts) > limit:
            error = {"error": f"batch of {len(texts)} exceeds max_batch_size {limit}; split the request"}
            return BackendResponse(400, json.dumps(error).encode())
        data = [float(t[1:]) if t[1:].isdigit() else -1.0 for t in texts for _ in range(DIM)]
        answer = {
            "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [len(texts), DIM], "data": data}],
            "parameters": {"prompt_tokens": 3 * len(texts)},
        }
        return BackendResponse(200, json.dumps(answer).encode())

    return respond


def embed(client: TestClient, key: str, texts: list[str]) -> Any:
    body = {"model": MINILM, "input": texts, "encoding_format": "float"}
    return client.post("/v1/embeddings", headers=bearer(key), json=body)


def batch_sizes(transport: FakeTransport) -> list[int]:
    return [len(request.payload["inputs"][0]["data"]) for _, request, _ in transport.calls]


@pytest.mark.parametrize("n", [65, 100, 128])
def test_more_inputs_than_the_backend_batch_are_split_in_order_with_one_audit_record(
    client: TestClient, api_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore, n: int
) -> None:
    # Given a backend that refuses more than 64 rows
    transport.respond = strict_backend()
    # When a caller asks for n (65..128) embeddings, within the gateway's own limit
    response = embed(client, api_key, [f"t{i}" for i in range(n)])
    # Then every vector comes back, in input order
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["index"] for d in body["data"]] == list(range(n))
    assert [d["embedding"][0] for d in body["data"]] == [float(i) for i in range(n)]
    # And no backend call exceeded its limit; usage is the sum over the calls
    assert batch_sizes(transport) == [64, n - 64]
    assert body["usage"] == {"prompt_tokens": 3 * n, "total_tokens": 3 * n}
    # And one audit record describes the request, counting every backend call
    (record,) = audit_store.records
    assert (record["status"], record["n_inputs"], record["backend_attempts"]) == (200, n, 2)


def test_the_batch_size_comes_from_the_registered_manifest(
    client: TestClient,
    api_key: str,
    transport: FakeTransport,
    registry_store: InMemoryRegistryStore,
) -> None:
    # Given a model version whose manifest declares max_batch_size 16
    _, version = demo_model(MINILM)
    registry_store.put_version(dataclasses.replace(version, max_batch_size=16))
    transport.respond = strict_backend(limit=16)
    # When 40 inputs are sent
    response = embed(client, api_key, [f"t{i}" for i in range(40)])
    # Then the gateway sent batches of at most 16
    assert response.status_code == 200, response.text
    assert batch_sizes(transport) == [16, 16, 8]


def test_one_placeholder_numbering_across_batches(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # Given the same address in the first and the last batch and another one in between
    transport.respond = strict_backend()
    texts = [f"t{i}" for i in range(70)]
    texts[0], texts[30], texts[69] = f"a {EMAIL}", "b other@example.org", f"c {EMAIL}"
    assert embed(client, api_key, texts).status_code == 200
    sent = [t for _, request, _ in transport.calls for t in request.payload["inputs"][0]["data"]]
    # Then a placeholder means one value across the whole request, as in a single call
    assert sent[0] == sent[69].replace("c ", "a ") == "a <EMAIL_ADDRESS_1>"
    assert sent[30] == "b <EMAIL_ADDRESS_2>"


def test_a_failing_batch_fails_the_request_with_one_audit_record(
    client: TestClient, api_key: str, transport: FakeTransport, audit_store: InMemoryAuditStore
) -> None:
    ok = strict_backend()

    def second_fails(target: Target, request: BackendRequest) -> BackendResponse:
        if len(transport.calls) > 1:
            return BackendResponse(500, b"boom")
        return ok(target, request)

    transport.respond = second_fails
    response = embed(client, api_key, [f"t{i}" for i in range(80)])
    assert response.status_code >= 500
    (record,) = audit_store.records
    assert record["status"] == response.status_code
    assert record["backend_attempts"] >= 2


def test_register_from_manifest_records_the_backend_batch_limit(settings: ApiSettings) -> None:
    store = InMemoryRegistryStore()
    manifest = {"name": "m", "version": "1", "task": "sentence-embedding", "batching": {"max_batch_size": 32}}
    mv = admin.register_from_manifest(manifest, target={"kind": "http"}, settings=settings, store=store)
    assert mv.max_batch_size == store.get_model("m").versions["1"].max_batch_size == 32
    bare = admin.register_from_manifest(
        {"name": "m", "version": "2"}, target={"kind": "http"}, settings=settings, store=store
    )
    assert bare.max_batch_size == 0  # not declared: the gateway falls back to 64


def test_the_dynamodb_item_keeps_the_batch_limit_and_old_items_read_as_undeclared() -> None:
    from steward.adapters.registry_store import document_from_items, version_to_item

    _, version = demo_model(MINILM)
    item = version_to_item(dataclasses.replace(version, max_batch_size=16))
    assert document_from_items([item]).versions["1"].max_batch_size == 16
    del item["max_batch_size"]  # written before the field existed
    assert document_from_items([item]).versions["1"].max_batch_size == 0
