"""The api app behind the local API Gateway emulation: routes, errors, governance, audit."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable

from starlette.testclient import TestClient
from steward.routing.transport import BackendResponse

from tests.fakes import FakeTransport, InMemoryAuditStore

from .conftest import CREDIT, MINILM, bearer

SECRET_TEXT = "Jane Doe, jane@example.com, card 4111 1111 1111 1111"


def test_models_lists_only_what_the_key_may_use(client: TestClient, api_key: str) -> None:
    response = client.get("/v1/models", headers=bearer(api_key))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [MINILM]


def test_embeddings_float_for_a_list_input(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    response = client.post(
        "/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": ["a b", "c"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert len(body["data"][0]["embedding"]) == 384
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    target, request, _ = transport.calls[0]
    assert request.payload["inputs"][0] == {
        "name": "text",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["a b", "c"],
    }
    assert target.url == "http://backend.test"


def test_embeddings_base64(client: TestClient, api_key: str) -> None:
    response = client.post(
        "/v1/embeddings",
        headers=bearer(api_key),
        json={"model": MINILM, "input": "x", "encoding_format": "base64"},
    )
    vector = struct.unpack("<384f", base64.b64decode(response.json()["data"][0]["embedding"]))
    assert vector[0] == struct.unpack("<f", struct.pack("<f", 1 / 384))[0]


def test_unknown_and_not_entitled_models_get_the_same_body(client: TestClient, api_key: str) -> None:
    bodies = []
    for model in ["does-not-exist", CREDIT]:  # the key is entitled to MINILM only
        response = client.post("/v1/embeddings", headers=bearer(api_key), json={"model": model, "input": "x"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body.pop("request_id") == response.headers["x-request-id"]
        bodies.append(body)
    assert bodies[0] == bodies[1]
    assert bodies[0]["code"] == "model.not_found"


def test_missing_or_bad_key_is_401_problem(client: TestClient) -> None:
    for headers in [{}, bearer("stw_bad"), {"x-api-key": "nope"}]:
        response = client.get("/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "auth.invalid_key"
        assert response.json()["request_id"]


def test_revoked_key_is_401(client: TestClient, make_key: Callable[..., str], key_store) -> None:  # type: ignore[no-untyped-def]
    token = make_key()
    key_store.revoke(token.split("_")[1])
    assert client.get("/v1/models", headers=bearer(token)).status_code == 401


def test_body_limits_and_malformed_json(client: TestClient, api_key: str, settings) -> None:  # type: ignore[no-untyped-def]
    headers = {**bearer(api_key), "content-type": "application/json"}
    too_big = client.post("/v1/embeddings", headers=headers, content=b"x" * (settings.max_body_bytes + 1))
    assert (too_big.status_code, too_big.json()["code"]) == (413, "input.too_large")
    malformed = client.post("/v1/embeddings", headers=headers, content=b'{"model": ')
    assert (malformed.status_code, malformed.json()["code"]) == (400, "input.malformed_json")
    invalid = client.post(
        "/v1/embeddings",
        headers=headers,
        json={"model": MINILM, "input": SECRET_TEXT, "encoding_format": "hex"},
    )
    assert (invalid.status_code, invalid.json()["code"]) == (422, "input.invalid")
    assert "jane" not in invalid.text.lower()  # validation errors never echo the input
    empty = client.post("/v1/embeddings", headers=headers, json={"model": MINILM, "input": []})
    assert empty.status_code == 422
    # Token arrays are outside the documented schema, so validation refuses them (422, saying why).
    tokens = client.post("/v1/embeddings", headers=headers, json={"model": MINILM, "input": [[1, 2]]})
    assert (tokens.status_code, tokens.json()["code"]) == (422, "input.invalid")
    assert "Token-array inputs are not supported" in tokens.json()["errors"][0]["msg"]


def test_unknown_route_and_method_are_problems(client: TestClient, api_key: str) -> None:
    assert client.get("/v1/nothing", headers=bearer(api_key)).json()["code"] == "route.not_found"
    response = client.delete("/v1/models", headers=bearer(api_key))
    assert (response.status_code, response.json()["code"]) == (405, "route.method_not_allowed")


def test_backend_down_answers_503_fast_and_hides_backend_text(
    client: TestClient, api_key: str, transport: FakeTransport
) -> None:
    # Given a backend that fails with internal error text (breaker threshold 2 in the fixture)
    transport.respond = lambda t, r: BackendResponse(500, b"Traceback: secret internals")
    codes = []
    for _ in range(3):
        response = client.post(
            "/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": "x"}
        )
        codes.append((response.status_code, response.json()["code"]))
        assert "internals" not in response.text
    # Then two backend errors open the breaker and the third call is refused without a backend call
    assert codes == [(502, "backend.error"), (502, "backend.error"), (503, "backend.unavailable")]
    assert len(transport.calls) == 2
    assert response.headers["retry-after"]


def test_oip_infer_passes_through_with_public_names(
    client: TestClient, make_key: Callable[..., str], transport: FakeTransport
) -> None:
    token = make_key("acme", (CREDIT,))
    answer = {
        "model_name": "internal-name",
        "model_version": "7",
        "id": "r1",
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.3, 0.7]}],
    }
    transport.respond = lambda t, r: BackendResponse(200, json.dumps(answer).encode())
    features = {"name": "features", "datatype": "FP32", "shape": [1, 10], "data": [0.0] * 10}
    response = client.post(
        f"/v2/models/{CREDIT}/versions/1/infer",
        headers=bearer(token),
        json={"id": "r1", "inputs": [features]},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (CREDIT, "1", "r1")
    assert body["outputs"][0]["data"] == [0.3, 0.7]
    assert transport.calls[0][1].payload["inputs"][0]["name"] == "features"
    bad = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(token),
        json={"inputs": [{**features, "datatype": "FLOAT"}]},
    )
    assert bad.status_code == 422
    meta = client.get(f"/v2/models/{CREDIT}", headers=bearer(token)).json()
    assert meta["name"] == CREDIT and meta["versions"] == ["1"]


def test_embeddings_on_a_tabular_model_is_a_task_mismatch(
    client: TestClient, make_key: Callable[..., str]
) -> None:
    token = make_key("acme", ("*",))
    response = client.post("/v1/embeddings", headers=bearer(token), json={"model": CREDIT, "input": "x"})
    assert (response.status_code, response.json()["code"]) == (400, "model.task_mismatch")


def test_exactly_one_audit_record_per_request_without_content(
    client: TestClient, api_key: str, audit_store: InMemoryAuditStore
) -> None:
    ok = client.post("/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": SECRET_TEXT})
    denied = client.post(
        "/v1/embeddings", headers=bearer(api_key), json={"model": CREDIT, "input": SECRET_TEXT}
    )
    client.get("/v1/models", headers=bearer(api_key))
    client.get("/health")
    assert len(audit_store.records) == 3
    first, second, third = audit_store.records
    assert first["request_id"] == ok.headers["x-request-id"]
    assert (first["decision"], first["model"], first["model_version"], first["status"]) == (
        "allow",
        MINILM,
        "1",
        200,
    )
    assert first["artifact_digest"].startswith("sha256:") and first["tenant_id"] == "acme"
    assert first["route"] == "POST /v1/embeddings" and first["n_inputs"] == 1
    assert len(first["input_hmac"]) == len(first["output_hmac"]) == 64
    assert (second["decision"], second["reason_codes"], second["request_id"]) == (
        "deny",
        ["model.not_found"],
        denied.headers["x-request-id"],
    )
    assert third["route"] == "GET /v1/models"
    # (MACs left out of the scan: 64 random hex digits hold "4111" about once in a thousand)
    dumped = json.dumps(
        [{k: v for k, v in r.items() if not k.endswith("_hmac")} for r in audit_store.records]
    )
    assert "jane" not in dumped.lower() and "4111" not in dumped and api_key not in dumped


def test_audit_failure_withholds_the_result(
    client: TestClient, api_key: str, audit_store: InMemoryAuditStore
) -> None:
    audit_store.fail = True
    response = client.post("/v1/embeddings", headers=bearer(api_key), json={"model": MINILM, "input": "x"})
    assert (response.status_code, response.json()["code"]) == (503, "audit.unavailable")
    assert "embedding" not in response.text


def test_audit_reads_are_tenant_scoped(client: TestClient, make_key: Callable[..., str]) -> None:
    mine, other = make_key("acme", (MINILM,)), make_key("globex", (MINILM,))
    client.post("/v1/embeddings", headers=bearer(mine), json={"model": MINILM, "input": "x"})
    client.post("/v1/embeddings", headers=bearer(other), json={"model": MINILM, "input": "y"})
    page = client.get("/v1/audit", headers=bearer(mine)).json()
    assert [r["route"] for r in page["data"]] == ["POST /v1/embeddings"]
    assert all(r["key_id"] == mine.split("_")[1] for r in page["data"])


def test_audit_paging_with_cursor(client: TestClient, api_key: str) -> None:
    for _ in range(3):
        client.get("/v1/models", headers=bearer(api_key))
    first = client.get("/v1/audit?limit=2", headers=bearer(api_key)).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = client.get(f"/v1/audit?limit=2&cursor={first['next_cursor']}", headers=bearer(api_key)).json()
    seen = {r["request_id"] for r in first["data"]} & {r["request_id"] for r in rest["data"]}
    assert not seen and rest["data"]


def test_openapi_and_health_need_no_key(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/models", "/v1/embeddings", "/v2/models/{model}/infer", "/v1/audit"} <= set(spec["paths"])
    assert client.get("/health").json() == {"status": "ok"}
