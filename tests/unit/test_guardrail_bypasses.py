"""Ways around today's guardrails found in review, each closed at its root.

Every case goes through the whole app (local API Gateway emulation, middleware, routes) the way a
hostile caller sends it, or drives the one component the hole was in.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from steward.testing import FakeTransport

from .conftest import MINILM, bearer

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
