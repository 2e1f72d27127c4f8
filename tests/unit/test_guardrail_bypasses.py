"""Ways around today's guardrails found in review, each closed at its root.

Every case goes through the whole app (local API Gateway emulation, middleware, routes) the way a
hostile caller sends it, or drives the one component the hole was in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.auth.keys import format_key, generate_key
from steward.auth.principal import Principal
from steward.catalog.registry import Registry
from steward.errors import ModelNotFound, Unauthenticated
from steward.inference import oip_tensors as oip
from steward.privacy.guard import RequestPrivacy

from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    demo_model,
)

from .conftest import MINILM, PEPPER, bearer

JSON = {"content-type": "application/json"}
EXPLAIN = f"/v1/models/{MINILM}/explain"
SURROGATE_TENSOR = b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a\\ud800"]}]}'


# --- the strict JSON gate can't be skipped -------------------------------------------------------
@pytest.mark.parametrize("length", ["x", "-1", "999999", "0x10"])
def test_the_binary_header_on_a_json_route_does_not_skip_the_json_gate(
    client: TestClient, api_key: str, transport: FakeTransport, length: str
) -> None:
    # The binary extension exists on the infer routes only; elsewhere its header changes nothing.
    headers = {**bearer(api_key), **JSON, "Inference-Header-Content-Length": length}
    response = client.post(EXPLAIN, headers=headers, content=SURROGATE_TENSOR)
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json")
    assert transport.calls == []


def test_a_repeated_content_type_is_judged_as_the_app_reads_it(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # The app reads the first Content-Type; the gate must judge the body by that same one.
    headers = [*bearer(api_key).items(), ("content-type", "application/json"), ("content-type", "text/plain")]
    response = client.post(EXPLAIN, headers=headers, content=SURROGATE_TENSOR)
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json")
    assert transport.calls == []


# --- one request can't hold the privacy guard for tens of seconds ------------------------------
# Every string the backend would see costs one detector pass (~0.1 ms even when empty); a 1 MB body
# of short BYTES elements or parameter lists held ~200k of them (20-30 s of CPU before the fix).
INFER = f"/v2/models/{MINILM}/infer"


def _bytes_tensor(n: int, name: str = "text") -> dict[str, object]:
    return {"name": name, "datatype": "BYTES", "shape": [n], "data": ["a"] * n}


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [_bytes_tensor(oip.MAX_STRINGS + 1)]},
        {"inputs": [_bytes_tensor(8)], "parameters": {f"p{i}": ["a"] * 1024 for i in range(5)}},
        {
            "inputs": [{**_bytes_tensor(8), "parameters": {f"p{i}": ["a"] * 1024 for i in range(5)}}],
        },
        {
            "inputs": [_bytes_tensor(8)],
            "outputs": [{"name": "embedding", "parameters": {f"p{i}": ["a"] * 1024 for i in range(5)}}],
        },
    ],
    ids=["bytes-elements", "request-parameters", "input-parameters", "output-parameters"],
)
@pytest.mark.parametrize("path", [INFER, EXPLAIN])
def test_more_strings_than_the_guard_reads_per_request_is_a_413_before_any_redaction(
    client: TestClient,
    api_key: str,
    transport: FakeTransport,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    body: dict[str, object],
) -> None:
    read: list[str] = []
    original = RequestPrivacy.redact_text
    monkeypatch.setattr(
        RequestPrivacy, "redact_text", lambda self, text: read.append(text) or original(self, text)
    )
    response = client.post(path, headers={**bearer(api_key), **JSON}, content=json.dumps(body))
    assert (response.status_code, response.json()["code"]) == (413, "input.too_large")
    assert str(oip.MAX_STRINGS) in response.json()["detail"]
    assert transport.calls == [] and read == []


def test_strings_up_to_the_limit_are_served(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    body = {
        "inputs": [_bytes_tensor(oip.MAX_STRINGS - 4)],
        "parameters": {"a": "x", "b": ["y"]},
    }  # 2 keys, 2 values
    response = client.post(INFER, headers={**bearer(api_key), **JSON}, content=json.dumps(body))
    assert response.status_code != 413, response.text
    assert len(transport.calls) == 1


# --- junk keys and model names can't evict what real callers use ---------------------------------
def test_a_flood_of_unknown_key_ids_does_not_evict_real_keys_from_the_authorizer_cache() -> None:
    store = InMemoryKeyStore()
    token, record = generate_key("acme", pepper=PEPPER)
    store.put(record)
    clock = [0.0]
    authorizer = Authorizer(store, lambda: PEPPER, monotonic=lambda: clock[0], max_entries=64)
    assert authorizer.authorize(token).key_id == record.key_id
    reads = store.reads
    # Well-formed keys (the checksum is public) with random ids: each is one read, and cached
    for i in range(10 * 64):
        junk = format_key(f"{i:012d}", "0" * 40)
        with pytest.raises(Unauthenticated):
            authorizer.authorize(junk)
    assert store.reads == reads + 10 * 64
    # The real key is still served from the cache: the flood cost the attacker reads, not the caller
    assert authorizer.authorize(token).key_id == record.key_id
    assert store.reads == reads + 10 * 64


def test_a_flood_of_unknown_model_names_does_not_evict_real_models_from_the_registry_cache(
    registry_store: InMemoryRegistryStore,
) -> None:
    caller = Principal("acme", "k1", frozenset(), frozenset({"*"}))
    registry = Registry(registry_store, monotonic=lambda: 0.0)
    assert registry.resolve(caller, MINILM).entry.model == MINILM
    reads = registry_store.reads
    for i in range(2048):
        with pytest.raises(ModelNotFound):
            registry.resolve(caller, f"no-such-model-{i}")
    assert registry.resolve(caller, MINILM).entry.model == MINILM
    assert registry_store.reads == reads + 2048


# --- identifiers are free text too: a secret can be written as a parameter key or tensor name ----
AWS_KEY = "AKIAQ3EGRVU6QLVZH6DX"  # an identifier: [A-Z0-9]{20}
GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"  # an identifier too
UNDECLARED = "undeclared-tensors"


@pytest.fixture
def undeclared(registry_store: InMemoryRegistryStore, make_key: Callable[..., str]) -> str:
    """A key for a model whose registry entry declares no tensors (any identifier is a name)."""
    entry, version = demo_model(UNDECLARED)
    registry_store.put_entry(entry)
    registry_store.put_version(replace(version, inputs=(), outputs=()))
    return make_key("acme", (UNDECLARED,))


def _infer_body(*, params: dict[str, object] | None = None, name: str = "text", output: str = "") -> bytes:
    tensor: dict[str, object] = {"name": name, "datatype": "BYTES", "shape": [1], "data": ["hi"]}
    body: dict[str, object] = {"inputs": [tensor]}
    if params is not None:
        body["parameters"] = params
    if output:
        body["outputs"] = [{"name": output}]
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "body",
    [
        _infer_body(params={AWS_KEY: 1}),
        _infer_body(params={GITHUB_TOKEN: "x"}),
        _infer_body(name=AWS_KEY),
        _infer_body(output=GITHUB_TOKEN),
    ],
    ids=["request-parameter-key", "parameter-key-token", "input-name", "output-name"],
)
def test_a_secret_written_as_an_identifier_never_reaches_the_backend(
    client: TestClient,
    undeclared: str,
    transport: FakeTransport,
    audit_store: InMemoryAuditStore,
    body: bytes,
) -> None:
    response = client.post(
        f"/v2/models/{UNDECLARED}/infer", headers={**bearer(undeclared), **JSON}, content=body
    )
    assert response.status_code == 400, response.text[:200]
    assert response.json()["code"] in ("input.invalid_parameter", "input.invalid_tensor_name")
    assert transport.calls == []
    assert AWS_KEY not in response.text and GITHUB_TOKEN not in response.text
    assert AWS_KEY not in json.dumps(audit_store.records) and GITHUB_TOKEN not in json.dumps(
        audit_store.records
    )


def test_ordinary_identifiers_still_pass(
    client: TestClient, undeclared: str, transport: FakeTransport
) -> None:
    body = _infer_body(
        params={"priority": 1, "sequence_id": 7, "timeout": 100}, name="input_ids", output="logits"
    )
    response = client.post(
        f"/v2/models/{UNDECLARED}/infer", headers={**bearer(undeclared), **JSON}, content=body
    )
    assert response.status_code != 400, response.text[:200]
    assert len(transport.calls) == 1
