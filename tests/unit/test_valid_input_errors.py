"""Inputs that used to end in a 500 (or the generic ``http.error``) get a stable 4xx problem.

Every case goes through the whole app (local API Gateway emulation, middleware, routes), the way
a caller sends it: raw bytes, so the JSON text is exactly what a hostile or buggy client writes.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.fakes import FakeTransport, InMemoryAuditStore

from .conftest import MINILM, bearer

JSON = {"content-type": "application/json"}
INFER = f"/v2/models/{MINILM}/infer"


def _infer_body(text: bytes, parameters: bytes = b"{}") -> bytes:
    tensor = b'{"name":"text","shape":[1],"datatype":"BYTES","data":["' + text + b'"]}'
    return b'{"parameters":' + parameters + b',"inputs":[' + tensor + b"]}"


EMB = b'{"model": "%s", "input": ' % MINILM.encode()
LONE_SURROGATES = {
    "redact, escaped high surrogate": ("/v1/redact", b'{"text": "abc \\ud800"}'),
    "redact, escaped low surrogate in a list": ("/v1/redact", b'{"text": ["ok", "x\\udc00y"]}'),
    "embeddings, one string": ("/v1/embeddings", EMB + b'"abc \\ud800"}'),
    "embeddings, a list": ("/v1/embeddings", EMB + b'["a", "\\udfff"]}'),
    "infer, BYTES element": (INFER, _infer_body(b"abc \\ud800")),
    # A surrogate written as raw (CESU-8) bytes rather than an escape: not UTF-8 either.
    "redact, raw surrogate bytes": ("/v1/redact", b'{"text": "abc \xed\xa0\x80"}'),
}


@pytest.mark.parametrize("path, body", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_a_lone_surrogate_is_a_400_before_any_backend_call(
    client: TestClient, api_key: str, transport: FakeTransport, path: str, body: bytes
) -> None:
    response = client.post(path, headers={**bearer(api_key), **JSON}, content=body)
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json")
    assert response.headers["content-type"] == "application/problem+json"
    assert transport.calls == []


def test_a_paired_surrogate_escape_is_an_ordinary_character(client: TestClient, api_key: str) -> None:
    body = b'{"text": "smile \\ud83d\\ude00"}'
    response = client.post("/v1/redact", headers={**bearer(api_key), **JSON}, content=body)
    assert response.status_code == 200
    assert response.json()["text"] == "smile \U0001f600"


MALFORMED = {
    "10k nested arrays": b"[" * 10_000 + b"]" * 10_000,
    "10k nested objects in a field": b'{"text":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}",
    # Deep enough to get through the parser but not through the response encoder (500 before).
    "600 levels in parameters": _infer_body(b"a", b'{"x":' + b"[" * 600 + b"]" * 600 + b"}"),
    "invalid UTF-8": b'{"text": "caf\xc3"}',
    "a lone continuation byte": b'{"text": "\xff\xfe"}',
    "NaN is not JSON": b'{"model": "%s", "input": "x", "dimensions": NaN}' % MINILM.encode(),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_deep_nesting_and_invalid_utf8_are_malformed_json(
    client: TestClient, api_key: str, transport: FakeTransport, body: bytes
) -> None:
    for path in ("/v1/redact", "/v1/embeddings", INFER):
        response = client.post(path, headers={**bearer(api_key), **JSON}, content=body)
        assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json"), path
    assert transport.calls == []


def test_many_brackets_are_not_deep_nesting(client: TestClient, api_key: str) -> None:
    # Brackets inside strings and side by side: hundreds of them, two levels deep
    body = b'{"text": [' + b",".join([b'"[{ (x) }]"'] * 100) + b"]}"
    response = client.post("/v1/redact", headers={**bearer(api_key), **JSON}, content=body)
    assert response.status_code == 200
    assert response.json()["text"][99] == "[{ (x) }]"


def test_a_deep_body_sent_as_text_plain_is_a_4xx(client: TestClient, api_key: str) -> None:
    body = b"[" * 5_000 + b"]" * 5_000
    headers = {**bearer(api_key), "content-type": "text/plain"}
    response = client.post("/v1/redact", headers=headers, content=body)
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json")


def test_a_body_without_content_type_is_checked_as_json(client: TestClient, api_key: str) -> None:
    response = client.post("/v1/redact", headers=bearer(api_key), content=b'{"text": "a\\ud800"}')
    assert (response.status_code, response.json()["code"]) == (400, "input.malformed_json")


@pytest.mark.parametrize("cursor", ["%C3%A9%C3%A9", "%F0%9F%98%80abc", "abc%00def", "%ED%A0%80"])
def test_a_non_ascii_audit_cursor_is_a_422(client: TestClient, api_key: str, cursor: str) -> None:
    response = client.get(f"/v1/audit?cursor={cursor}", headers=bearer(api_key))
    assert (response.status_code, response.json()["code"]) == (422, "input.invalid")


def test_a_405_names_the_allowed_methods(
    client: TestClient, api_key: str, audit_store: InMemoryAuditStore
) -> None:
    response = client.delete("/v1/embeddings", headers=bearer(api_key))
    assert (response.status_code, response.json()["code"]) == (405, "route.method_not_allowed")
    assert response.headers["allow"] == "POST"
    models = client.put("/v1/models", headers=bearer(api_key))
    assert models.status_code == 405 and "GET" in models.headers["allow"]
    assert audit_store.records[-1]["status"] == 405
