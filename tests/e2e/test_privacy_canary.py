"""Canary: seeded personal data sent through every route never shows up where it must not.

Seeded values go through embeddings, OIP infer (BYTES), explain, redact, feedback, the audit read
and a set of bad requests; then the stack's logs (gateway on the ``up`` process stdout, backend,
moto), every DynamoDB item (read straight from moto) and every error body are searched for them.
The backend is the raw model server, so it must only ever have received redacted text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from steward.resources import ResourceNames

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MINILM = "all-minilm-l6-v2"
NAME, EMAIL, CARD = "Maria Garcia", "maria.garcia@example.org", "4111 1111 1111 1111"
SSN, PHONE, AWS_KEY = "536-22-8714", "(415) 867-5309", "AKIA2E7AQF3BWZLC6RMX"
SEEDED = (NAME, EMAIL, CARD, SSN, PHONE, AWS_KEY)
#: What must never be found: each value, plus the forms a serialiser or normaliser could produce.
NEEDLES = (*SEEDED, "4111111111111111", "536228714", "867-5309", "maria.garcia@", "Garcia")
TEXT = f"My name is {NAME}, email {EMAIL}, card {CARD}, SSN {SSN}, phone {PHONE}, key {AWS_KEY}."


def _auth(stack: RunningStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.key}"}


def _bytes_tensor(*texts: str) -> dict[str, Any]:
    return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": list(texts)}]}


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


@pytest.fixture(scope="module")
def traffic(stack: RunningStack) -> Iterator[dict[str, Any]]:
    """Send the seeded values through every route once; keep every answer."""
    url, auth = stack.api_url, _auth(stack)
    sent: dict[str, httpx.Response] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        sent["embeddings"] = http.post("/v1/embeddings", headers=auth, json={"model": MINILM, "input": TEXT})
        sent["infer"] = http.post(f"/v2/models/{MINILM}/infer", headers=auth, json=_bytes_tensor(TEXT, EMAIL))
        sent["explain"] = http.post(f"/v1/models/{MINILM}/explain", headers=auth, json=_bytes_tensor(TEXT))
        sent["redact"] = http.post("/v1/redact", headers=auth, json={"text": TEXT})
        sent["feedback"] = http.post(
            "/v1/feedback", headers=auth, json={"request_id": f"{EMAIL} {SSN}", "label": 1}
        )
        sent["audit"] = http.get("/v1/audit", headers=auth, params={"limit": 50})
        # Bad requests (4xx) carrying the values in the body, the path, the query and the key.
        sent["bad_model"] = http.post("/v1/embeddings", headers=auth, json={"model": EMAIL, "input": TEXT})
        sent["bad_schema"] = http.post(
            f"/v2/models/{MINILM}/infer", headers=auth, json={**_bytes_tensor(TEXT), EMAIL: CARD}
        )
        sent["bad_json"] = http.post(
            "/v1/embeddings",
            headers={**auth, "content-type": "application/json"},
            content=f'{{"input": "{TEXT}',
        )
        sent["bad_format"] = http.post(
            "/v1/embeddings", headers=auth, json={"model": MINILM, "input": TEXT, "encoding_format": SSN}
        )
        sent["bad_path"] = http.get(f"/v1/models/{EMAIL}/card", headers=auth)
        sent["bad_route"] = http.get(f"/v1/{SSN}", headers=auth)
        sent["bad_cursor"] = http.get("/v1/audit", headers=auth, params={"cursor": EMAIL})
        sent["bad_key"] = http.get("/v1/models", headers={"Authorization": f"Bearer {AWS_KEY}"})
    yield {"responses": sent}


def test_every_route_answered_as_expected(traffic: dict[str, Any]) -> None:
    codes = {name: r.status_code for name, r in traffic["responses"].items()}
    assert codes["embeddings"] == codes["infer"] == codes["redact"] == codes["audit"] == 200, codes
    assert codes["feedback"] == 404 and codes["bad_model"] == 404 and codes["bad_path"] == 404
    assert codes["bad_schema"] == codes["bad_format"] == codes["bad_cursor"] == 422
    assert codes["bad_json"] == 400 and codes["bad_route"] == 404 and codes["bad_key"] == 401
    assert codes["explain"] < 500


def test_error_bodies_never_echo_the_values(traffic: dict[str, Any]) -> None:
    for name, response in traffic["responses"].items():
        if response.status_code >= 400:
            assert _leaks(response.text) == [], name


def test_the_audit_read_holds_no_values(traffic: dict[str, Any]) -> None:
    assert _leaks(traffic["responses"]["audit"].text) == []


def test_redact_returns_no_values_and_finds_every_type(traffic: dict[str, Any]) -> None:
    body = traffic["responses"]["redact"].json()
    assert _leaks(json.dumps(body)) == []
    found = {f["entity_type"] for f in body["findings"]}
    assert {"PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "CLOUD_ACCESS_KEY"} <= found


def test_the_backend_embedded_the_redacted_text_only(stack: RunningStack, traffic: dict[str, Any]) -> None:
    # Given the gateway's embedding of the seeded text, and the redacted text /v1/redact gives
    via_gateway = traffic["responses"]["embeddings"].json()["data"][0]["embedding"]
    redacted = traffic["responses"]["redact"].json()["text"]
    # When the raw backend embeds the redacted text directly
    direct = httpx.post(
        f"{stack.state['backend_url']}/v2/models/{MINILM}/infer", json=_bytes_tensor(redacted), timeout=30
    )
    assert direct.status_code == 200, direct.text
    # Then it is the same vector: the backend was sent the redacted text, not the original
    assert _cosine(via_gateway, direct.json()["outputs"][0]["data"][:384]) >= 0.9999


def test_logs_never_hold_the_values(stack: RunningStack, traffic: dict[str, Any]) -> None:
    # Given the stack's captured logs: the up process (gateway + authorizer), backend, moto
    files = [stack.log_file, *sorted((stack.log_file.parent / "logs").glob("*"))]
    assert any(p.name == "backend.log" for p in files)
    for path in files:
        # Then no seeded value appears in any of them
        assert _leaks(Path(path).read_text(errors="replace")) == [], path.name
    # And the gateway did log the requests (the check looked at real log lines)
    assert '"message":"request"' in stack.log_file.read_text(errors="replace")


def test_stored_items_never_hold_the_values(stack: RunningStack, traffic: dict[str, Any]) -> None:
    # Given every DynamoDB item the stack holds, read straight from moto
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=stack.state["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="steward-local",
        aws_secret_access_key="steward-local",
    )
    items: list[dict[str, Any]] = []
    for spec in ResourceNames("local").tables:
        pages = ddb.get_paginator("scan").paginate(TableName=spec.name)
        items.extend(item for page in pages for item in page.get("Items", []))
    # Then the audit records are there with PII counts by type, and no value is stored anywhere
    audit = [i for i in items if "pii_counts" in i]
    assert any(i["pii_counts"].get("M", {}).get("US_SSN") for i in audit)
    assert _leaks(json.dumps(items)) == []
