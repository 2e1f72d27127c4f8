"""Canary: seeded personal data sent through every route never shows up where it must not.

Every published route is called with seeded values in the body, the path, the query string, the
OIP tensor names and ``parameters`` (request, per input, per requested output), binary BYTES
tensors, custom headers and bad API keys, on its success path and on its error paths (4xx of
every kind). Then the stack's logs (gateway and authorizer on the ``up`` process stdout, backend,
moto), every DynamoDB table, every S3 object, every SQS message and every error body are searched
for the values, in the forms a serialiser would write them (JSON escapes, percent-encoding):
zero hits. The backend is the raw model server, so it must only ever have received redacted text;
and a test fails when ``/openapi.json`` publishes a route the canary did not exercise.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import httpx
import pytest
from steward.resources import ResourceNames

from scripts.local.seed import DEMO_TENANT
from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MINILM, CREDIT = "all-minilm-l6-v2", "credit-risk"
NAME, EMAIL, CARD = "Maria Garcia", "maria.garcia@example.org", "4111 1111 1111 1111"
SSN, PHONE, AWS_KEY = "536-22-8714", "(415) 867-5309", "AKIA2E7AQF3BWZLC6RMX"
ACCENTED = "Zoë Ñúñez-Þórsdóttir"  # non-ASCII personal data (audit cursor, a UTF-8 header)
BASIC = base64.b64encode(f"{EMAIL}:{SSN}".encode()).decode()
SEEDED = (NAME, EMAIL, CARD, SSN, PHONE, AWS_KEY, ACCENTED)
TEXT = f"My name is {NAME}, email {EMAIL}, card {CARD}, SSN {SSN}, phone {PHONE}, key {AWS_KEY}."
ROW = [40.0, 55.0, 6.0, 0.3, 12.0, 4.0, 1.0, 20.0, 10.0, 1.0]
#: Sent with every request: headers a client or proxy may add, each carrying personal data.
PII_HEADERS: dict[str, str | bytes] = {
    "X-Customer-Name": ACCENTED.encode(),  # UTF-8 bytes in a header: what a careless client sends
    "User-Agent": f"canary/1.0 ({NAME}; {EMAIL})",
    "X-Debug": f"ssn={SSN} card={CARD} key={AWS_KEY}",
    "X-Request-Id": EMAIL,
    "X-Correlation-Id": PHONE,
    "X-Amzn-Trace-Id": f"Root={SSN}",
    "X-Forwarded-For": f"{EMAIL}, 10.0.0.1",
    "Referer": f"https://example.org/profile?email={quote_plus(EMAIL)}&ssn={SSN}",
    "Cookie": f"session={AWS_KEY}; user={quote(EMAIL)}",
}


def _forms(value: str) -> set[str]:
    """The value as a log line, a JSON document or a URL could hold it (UTF-8 read as Latin-1 too)."""
    latin1 = value.encode().decode("latin-1")
    return {
        value,
        latin1,
        json.dumps(value)[1:-1],
        json.dumps(latin1)[1:-1],
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
    }


#: What must never be found: each value in each form, plus fragments a normaliser could produce.
NEEDLES = tuple(
    sorted(
        {form.lower() for value in SEEDED for form in _forms(value)}
        | {"4111111111111111", "536228714", "867-5309", "maria.garcia@", "maria.garcia%40", "garcia"}
        | {"ñúñez", "\\u00d1\\u00fa\\u00f1ez".lower(), "%c3%91%c3%ba%c3%b1ez", "þórsdóttir", BASIC.lower()}
    )
)


def _leaks(text: str) -> list[str]:
    haystack = text.lower()
    return [needle for needle in NEEDLES if needle in haystack]


def _text(value: Any) -> str:
    """Any stored value as searchable text (bytes as Latin-1, so no byte is lost)."""
    return json.dumps(value, ensure_ascii=False, default=lambda v: bytes(v).decode("latin-1"))


def _bytes_tensor(*texts: str, name: str = "text", **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [{"name": name, "datatype": "BYTES", "shape": [len(texts)], "data": list(texts), **extra}]
    }


def _features(data: list[Any] | None = None, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 10], "data": data or ROW}]
    }
    if parameters:
        body["parameters"] = parameters
    return body


def _binary_request(texts: list[bytes], *, output: bool = True) -> tuple[bytes, dict[str, str]]:
    """A binary tensor data extension request (tritonclient's default form) of one BYTES input."""
    blob = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    header: dict[str, Any] = {
        "inputs": [
            {
                "name": "text",
                "datatype": "BYTES",
                "shape": [len(texts)],
                "parameters": {"binary_data_size": len(blob)},
            }
        ]
    }
    if output:
        header["parameters"] = {"binary_data_output": True}
    head = json.dumps(header).encode()
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    return head + blob, headers


def _binary_fp32(response: httpx.Response, name: str) -> list[float]:
    """One FP32 output of a binary extension answer."""
    length = int(response.headers["inference-header-content-length"])
    header, offset = json.loads(response.content[:length]), length
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size", 0)
        if output["name"] == name:
            return list(struct.unpack(f"<{size // 4}f", response.content[offset : offset + size]))
        offset += size
    raise AssertionError(f"no output {name}")


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@dataclass(frozen=True)
class Probe:
    """One request of the canary and what it must get: a status in ``expect`` (and ``code``)."""

    name: str
    method: str
    path: str
    expect: tuple[int, ...]
    code: str | None = None
    key: str = "user"  # user | admin | none, or a full Authorization header value
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None  # a multipart upload (with ``data``)
    data: dict[str, str] | None = None


OK, REFUSED = (200,), (400, 404, 413, 415, 422)
ABSENT_FILE = "file-" + "0" * 24
#: A batch file: personal data in the texts, a custom id, a body the route refuses (its keys too).
BATCH_LINES = [
    {"custom_id": EMAIL, "method": "POST", "url": "/v1/embeddings", "body": {"model": MINILM, "input": TEXT}},
    {
        "custom_id": SSN,
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": MINILM, "input": {EMAIL: SSN}},
    },
    {
        "custom_id": "plain",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": EMAIL, "input": CARD},
    },
]
BATCH_FILE = b"".join(json.dumps(line).encode() + b"\n" for line in BATCH_LINES)
#: Answers that hand the caller's own values back to the caller: an OIP answer's ``id`` (the
#: backend got a placeholder), a file's name (also in the listing) and bytes, a batch's metadata.
ECHOING = {
    "infer_pii_id",
    "files_create",
    "files_get",
    "files_content",
    "files_list",
    "batches_create",
    "batches_get",
    "batches_list",
}
ABSENT_REVIEW = "rv_" + "0" * 24
#: A word of a hold rule the canary sets for its tenant (then removes): a request with it and every
#: seeded value is held, reviewed, approved and served again.
HOLD_WORD = "tangerine"


HTML = {"Accept": "text/html"}


def _probes() -> list[Probe]:
    """Every published route with seeded values on its success and error paths."""
    binary, binary_headers = _binary_request([TEXT.encode(), EMAIL.encode()])
    bad_utf8, bad_utf8_headers = _binary_request([EMAIL.encode() + b" \xff\xfe"])
    q = {"email": EMAIL, "ssn": SSN, "q": TEXT}  # a query string on every GET
    m = f"/v2/models/{MINILM}"
    return [
        # OpenAI-compatible routes
        Probe("models_list", "GET", "/v1/models", OK, params=q),
        Probe("models_retrieve", "GET", f"/v1/models/{MINILM}", OK, params=q),
        Probe("models_retrieve_pii", "GET", f"/v1/models/{EMAIL}", (404,), "model.not_found", params=q),
        Probe("models_retrieve_name", "GET", f"/v1/models/{NAME} {SSN}", (404,), "model.not_found"),
        Probe(
            "embeddings", "POST", "/v1/embeddings", OK, json={"model": MINILM, "input": TEXT, "user": EMAIL}
        ),
        Probe(
            "embeddings_base64",
            "POST",
            "/v1/embeddings",
            OK,
            json={"model": MINILM, "input": [TEXT, EMAIL, CARD], "encoding_format": "base64"},
        ),
        Probe(
            "embeddings_bad_model",
            "POST",
            "/v1/embeddings",
            (404,),
            "model.not_found",
            json={"model": EMAIL, "input": TEXT},
        ),
        Probe(
            "embeddings_bad_format",
            "POST",
            "/v1/embeddings",
            (422,),
            json={"model": MINILM, "input": TEXT, "encoding_format": SSN},
        ),
        Probe(
            "embeddings_dimensions",
            "POST",
            "/v1/embeddings",
            (400, 422),
            json={"model": MINILM, "input": TEXT, "dimensions": 7},
        ),
        Probe(
            "embeddings_lone_surrogate",
            "POST",
            "/v1/embeddings",
            REFUSED,
            content=f'{{"model": "{MINILM}", "input": "{TEXT} \\ud800"}}'.encode(),
            headers={"Content-Type": "application/json"},
        ),
        Probe(
            "embeddings_bad_json",
            "POST",
            "/v1/embeddings",
            (400,),
            "input.malformed_json",
            content=f'{{"input": "{TEXT}'.encode(),
            headers={"Content-Type": "application/json"},
        ),
        Probe(
            "embeddings_deep_nesting",
            "POST",
            "/v1/embeddings",
            (400,),
            "input.malformed_json",
            content=('{"input": ' + "[" * 300 + json.dumps(TEXT) + "]" * 300 + "}").encode(),
            headers={"Content-Type": "application/json"},
        ),
        Probe(
            "embeddings_bad_utf8",
            "POST",
            "/v1/embeddings",
            (400,),
            "input.malformed_json",
            content=f'{{"model": "{MINILM}", "input": "{TEXT} '.encode() + b'\xff\xfe"}',
            headers={"Content-Type": "application/json"},
        ),
        Probe(
            "embeddings_too_large",
            "POST",
            "/v1/embeddings",
            (413,),
            "input.too_large",
            json={"model": MINILM, "input": [TEXT] * 12_000},
        ),
        Probe("embeddings_wrong_method", "DELETE", "/v1/embeddings", (405,), json={"input": TEXT}, params=q),
        Probe(
            "unknown_route", "POST", f"/v1/{EMAIL}", (404,), "route.not_found", json={"input": TEXT}, params=q
        ),
        Probe("unknown_route_get", "GET", f"/v1/{SSN}", (404,), "route.not_found", params=q),
        # Governance routes
        Probe("redact", "POST", "/v1/redact", OK, json={"text": [TEXT, f"Contact {EMAIL} or {PHONE}"]}),
        Probe(
            "redact_output",
            "POST",
            "/v1/redact",
            OK,
            json={"text": TEXT, "direction": "output", "model": MINILM},
        ),
        Probe(
            "redact_pii_model",
            "POST",
            "/v1/redact",
            (404,),
            "model.not_found",
            json={"text": TEXT, "model": EMAIL},
        ),
        Probe("redact_pii_direction", "POST", "/v1/redact", (422,), json={"text": TEXT, "direction": SSN}),
        Probe(
            "redact_lone_surrogate",
            "POST",
            "/v1/redact",
            REFUSED,
            content=f'{{"text": "abc {EMAIL} \\ud800"}}'.encode(),
            headers={"Content-Type": "application/json"},
        ),
        Probe("card", "GET", f"/v1/models/{CREDIT}/card", OK, params=q, headers={"Accept": "text/html"}),
        Probe("card_pii_version", "GET", f"/v1/models/{CREDIT}/card", (404,), params={**q, "version": SSN}),
        Probe("card_pii_model", "GET", f"/v1/models/{EMAIL}/card", (404,), "model.not_found", params=q),
        Probe("quality", "GET", f"/v1/models/{CREDIT}/quality", OK, params=q),
        Probe(
            "quality_pii_version", "GET", f"/v1/models/{CREDIT}/quality", (404,), params={**q, "version": SSN}
        ),
        Probe("quality_pii_model", "GET", f"/v1/models/{EMAIL}/quality", (404,), "model.not_found", params=q),
        Probe("drift", "GET", f"/v1/models/{CREDIT}/drift", OK, params=q),
        Probe("drift_pii_version", "GET", f"/v1/models/{CREDIT}/drift", (404,), params={**q, "version": SSN}),
        Probe("drift_pii_model", "GET", f"/v1/models/{EMAIL}/drift", (404,), "model.not_found", params=q),
        Probe(
            "compare", "GET", f"/v1/models/{CREDIT}/compare", OK, params=q, headers={"Accept": "text/html"}
        ),
        Probe(
            "compare_pii_versions",
            "GET",
            f"/v1/models/{CREDIT}/compare",
            (404, 422),
            params={**q, "versions": f"1,{EMAIL}"},
        ),
        Probe("compare_pii_model", "GET", f"/v1/models/{EMAIL}/compare", (404,), "model.not_found", params=q),
        Probe("explain_text", "POST", f"/v1/models/{MINILM}/explain", (200, 400), json=_bytes_tensor(TEXT)),
        Probe(
            "explain", "POST", f"/v1/models/{CREDIT}/explain", OK, json=_features(), params={**q, "row": 0}
        ),
        Probe(
            "explain_pii_parameters",
            "POST",
            f"/v1/models/{CREDIT}/explain",
            (200, 400),
            json=_features(note=TEXT),
        ),
        Probe(
            "explain_pii_version",
            "POST",
            f"/v1/models/{CREDIT}/explain",
            (404,),
            json=_features(),
            params={"version": EMAIL},
        ),
        Probe(
            "feedback_pii_id",
            "POST",
            "/v1/feedback",
            (404, 422),
            json={"request_id": f"{EMAIL} {SSN}", "label": 1},
        ),
        Probe(
            "feedback_pii_label", "POST", "/v1/feedback", (422,), json={"request_id": "r-1", "label": EMAIL}
        ),
        Probe("audit_pii_cursor", "GET", "/v1/audit", (422,), params={"cursor": EMAIL}),
        Probe("audit_non_ascii_cursor", "GET", "/v1/audit", (422,), params={"cursor": f"{ACCENTED} {EMAIL}"}),
        Probe("audit_pii_limit", "GET", "/v1/audit", (422,), params={"limit": SSN}),
        # Open Inference Protocol: health, metadata, readiness, repository
        Probe("server_live", "GET", "/v2/health/live", OK, params=q),
        Probe("server_ready", "GET", "/v2/health/ready", OK, params=q),
        Probe("server_metadata", "GET", "/v2", OK, params=q),
        Probe("model_metadata", "GET", m, OK, params=q),
        Probe("model_metadata_pii", "GET", f"/v2/models/{EMAIL}", (404,), "model.not_found", params=q),
        Probe("version_metadata", "GET", f"{m}/versions/1", OK, params=q),
        Probe("version_metadata_pii", "GET", f"{m}/versions/{SSN}", (404,), params=q),
        Probe("model_ready", "GET", f"{m}/ready", OK, params=q),
        Probe("model_ready_pii", "GET", f"/v2/models/{EMAIL}/ready", (404,), "model.not_found", params=q),
        Probe("version_ready", "GET", f"{m}/versions/1/ready", OK, params=q),
        Probe("version_ready_pii", "GET", f"{m}/versions/{EMAIL}/ready", (404,), params=q),
        Probe("repository_index", "POST", "/v2/repository/index", OK, json={"ready": True}, params=q),
        Probe(
            "repository_index_pii",
            "POST",
            "/v2/repository/index",
            (200, 400, 422),
            json={"ready": True, EMAIL: SSN},
        ),
        # Open Inference Protocol: inference, JSON and binary
        Probe("infer", "POST", f"{m}/infer", OK, json=_bytes_tensor(TEXT, EMAIL)),
        Probe("infer_pii_id", "POST", f"{m}/infer", (200, 400), json={**_bytes_tensor(TEXT), "id": EMAIL}),
        Probe("infer_version", "POST", f"{m}/versions/1/infer", OK, json=_bytes_tensor(TEXT)),
        Probe(
            "infer_no_content_type",
            "POST",
            f"{m}/infer",
            OK,
            content=json.dumps(_bytes_tensor(TEXT)).encode(),
        ),
        Probe("infer_binary", "POST", f"{m}/infer", OK, content=binary, headers=binary_headers),
        Probe(
            "infer_binary_bad_utf8",
            "POST",
            f"{m}/infer",
            (400,),
            "input.malformed_binary",
            content=bad_utf8,
            headers=bad_utf8_headers,
        ),
        Probe(
            "infer_binary_bad_length",
            "POST",
            f"{m}/infer",
            (400,),
            content=binary,
            headers={**binary_headers, "Inference-Header-Content-Length": str(len(binary) + 9)},
        ),
        Probe(
            "infer_fp32_strings",
            "POST",
            f"{m}/infer",
            (400,),
            "input.tensor_mismatch",
            json={"inputs": [{"name": "text", "datatype": "FP32", "shape": [2], "data": [TEXT, EMAIL]}]},
        ),
        Probe(
            "infer_int64_strings",
            "POST",
            f"{m}/infer",
            (400,),
            "input.tensor_mismatch",
            json={"inputs": [{"name": "text", "datatype": "INT64", "shape": [1], "data": [SSN]}]},
        ),
        Probe("infer_pii_tensor_name", "POST", f"{m}/infer", (400,), json=_bytes_tensor(TEXT, name=EMAIL)),
        Probe(
            "infer_pii_parameter_key",
            "POST",
            f"{m}/infer",
            (400,),
            json={**_bytes_tensor("hello"), "parameters": {EMAIL: SSN}},
        ),
        Probe(
            "infer_pii_parameter_value",
            "POST",
            f"{m}/infer",
            (200, 400),
            json={**_bytes_tensor("hello"), "parameters": {"note": TEXT, "contact": EMAIL}},
        ),
        Probe(
            "infer_pii_parameter_nested",
            "POST",
            f"{m}/infer",
            (200, 400),
            json={**_bytes_tensor("hello"), "parameters": {"nested": [EMAIL, {"ssn": SSN}]}},
        ),
        Probe(
            "infer_pii_input_parameter_key",
            "POST",
            f"{m}/infer",
            (400,),
            json=_bytes_tensor("hello", parameters={SSN: 1}),
        ),
        Probe(
            "infer_pii_input_parameter_value",
            "POST",
            f"{m}/infer",
            (200, 400),
            json=_bytes_tensor("hello", parameters={"note": TEXT}),
        ),
        Probe(
            "infer_pii_output_parameters",
            "POST",
            f"{m}/infer",
            (200, 400),
            json={**_bytes_tensor("hello"), "outputs": [{"name": "embedding", "parameters": {"note": TEXT}}]},
        ),
        Probe(
            "infer_pii_output_parameter_key",
            "POST",
            f"{m}/infer",
            (400,),
            json={**_bytes_tensor("hello"), "outputs": [{"name": "embedding", "parameters": {EMAIL: True}}]},
        ),
        Probe(
            "infer_pii_output_name",
            "POST",
            f"{m}/infer",
            (400,),
            json={**_bytes_tensor("hello"), "outputs": [{"name": EMAIL}]},
        ),
        Probe(
            "infer_wide_int",
            "POST",
            f"{m}/infer",
            REFUSED,
            content=json.dumps(
                {
                    "id": EMAIL,
                    "inputs": [{"name": "text", "datatype": "INT64", "shape": [2**70], "data": [2**70]}],
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        ),
        Probe("infer_bad_schema", "POST", f"{m}/infer", (422,), json={**_bytes_tensor(TEXT), EMAIL: CARD}),
        Probe(
            "infer_media_type",
            "POST",
            f"{m}/infer",
            (415,),
            content=TEXT.encode(),
            headers={"Content-Type": "text/plain"},
        ),
        Probe(
            "infer_pii_model",
            "POST",
            f"/v2/models/{EMAIL}/infer",
            (404,),
            "model.not_found",
            json=_bytes_tensor(TEXT),
        ),
        Probe("infer_pii_version", "POST", f"{m}/versions/{SSN}/infer", (404,), json=_bytes_tensor(TEXT)),
        # Fairness: a group value is only accepted when declared; personal data as a group is refused
        Probe(
            "groups_put",
            "PUT",
            f"/admin/fairness/{DEMO_TENANT}/groups",
            OK,
            key="admin",
            json={"labels": ["0", "1"]},
        ),
        Probe(
            "groups_put_invalid",
            "PUT",
            f"/admin/fairness/{DEMO_TENANT}/groups",
            (400, 422),
            key="admin",
            json={"labels": [EMAIL, EMAIL], SSN: NAME},
        ),
        Probe(
            "groups_put_other_tenant",
            "PUT",
            f"/admin/fairness/{SSN}/groups",
            (403,),
            key="admin",
            json={"labels": [EMAIL]},
        ),
        Probe(
            "groups_put_user_key",
            "PUT",
            f"/admin/fairness/{DEMO_TENANT}/groups",
            (403,),
            json={"labels": [EMAIL]},
        ),
        Probe("groups_get", "GET", f"/admin/fairness/{DEMO_TENANT}/groups", OK, key="admin", params=q),
        Probe(
            "groups_get_other_tenant", "GET", f"/admin/fairness/{SSN}/groups", (403,), key="admin", params=q
        ),
        Probe(
            "infer_group_email",
            "POST",
            f"/v2/models/{CREDIT}/infer",
            (400,),
            "fairness.unknown_group",
            json=_features(group=EMAIL),
        ),
        Probe(
            "infer_version_group_email",
            "POST",
            f"/v2/models/{CREDIT}/versions/1/infer",
            (400,),
            "fairness.unknown_group",
            json=_features(group=f"{NAME} {SSN}"),
        ),
        Probe("infer_group_declared", "POST", f"/v2/models/{CREDIT}/infer", OK, json=_features(group="1")),
        Probe(
            "infer_features_strings",
            "POST",
            f"/v2/models/{CREDIT}/infer",
            (400,),
            "input.tensor_mismatch",
            json=_features([EMAIL, *ROW[1:]]),
        ),
        # Admin policies: a policy keyed by a caller's string is never stored
        Probe(
            "policy_pii_model",
            "PUT",
            f"/admin/policies/{DEMO_TENANT}",
            (404,),
            "model.not_found",
            key="admin",
            json={"detection_path": "fast"},
            params={"model": EMAIL},
        ),
        Probe(
            "policy_pii_document",
            "PUT",
            f"/admin/policies/{DEMO_TENANT}",
            (400, 422),
            key="admin",
            json={EMAIL: SSN, "entities": {NAME: CARD}},
        ),
        Probe(
            "policy_other_tenant",
            "PUT",
            f"/admin/policies/{SSN}",
            (403,),
            key="admin",
            json={"detection_path": "fast"},
        ),
        Probe(
            "policy_email_tenant",
            "PUT",
            f"/admin/policies/{EMAIL}",
            (422,),
            key="admin",
            json={"detection_path": "fast"},
        ),
        Probe(
            "policy_user_key",
            "PUT",
            f"/admin/policies/{DEMO_TENANT}",
            (403,),
            json={"note": TEXT},
            params={"model": EMAIL},
        ),
        Probe("policy_get", "GET", f"/admin/policies/{DEMO_TENANT}", OK, key="admin", params=q),
        Probe("policy_get_other_tenant", "GET", f"/admin/policies/{SSN}", (403,), key="admin", params=q),
        # Abuse controls: usage, limits, usage policies, guardrails, keys, tenants, kill switches.
        # Personal data rides in queries, paths and refused bodies; what is stored is benign.
        Probe("usage", "GET", "/v1/usage", OK, params=q),
        Probe("usage_admin", "GET", f"/admin/usage/{DEMO_TENANT}", OK, key="admin", params=q),
        Probe("usage_admin_other", "GET", f"/admin/usage/{SSN}", (403,), key="admin", params=q),
        Probe("limits_get", "GET", f"/admin/limits/{DEMO_TENANT}", OK, key="admin", params=q),
        Probe(
            "limits_put_pii",
            "PUT",
            f"/admin/limits/{DEMO_TENANT}",
            (400, 422),
            key="admin",
            json={"note": TEXT, EMAIL: SSN},
            params={"email": EMAIL},
        ),
        Probe("guardrails_apply", "POST", "/v1/guardrails/apply", OK, json={"text": TEXT}),
        Probe(
            "usage_policy_put_pii",
            "PUT",
            f"/admin/usage-policies/{DEMO_TENANT}",
            (400, 422),
            key="admin",
            json={"word_lists": [{"name": EMAIL, "words": [SSN], "action": "nope"}], "note": TEXT},
            params={"email": EMAIL},
        ),
        Probe("usage_policy_get", "GET", f"/admin/usage-policies/{DEMO_TENANT}", OK, key="admin", params=q),
        Probe(
            "keys_create_pii",
            "POST",
            "/admin/keys",
            (400, 403, 422),
            key="admin",
            json={"tenant_id": DEMO_TENANT, "models": [EMAIL], "name": TEXT},
        ),
        Probe("keys_list", "GET", "/admin/keys", OK, key="admin", params={**q, "tenant": DEMO_TENANT}),
        Probe("keys_rotate_pii", "POST", f"/admin/keys/{EMAIL}/rotate", (403, 404, 422), key="admin"),
        Probe("keys_revoke_pii", "POST", f"/admin/keys/{SSN}/revoke", (403, 404, 422), key="admin"),
        Probe("tenants_list", "GET", "/admin/tenants", (403,), key="admin", params=q),
        Probe("tenants_create", "POST", "/admin/tenants", (403,), key="admin", json={"tenant_id": EMAIL}),
        Probe("tenant_suspend", "POST", f"/admin/tenants/{EMAIL}/suspend", (403, 422), key="admin", json={}),
        Probe("tenant_resume", "POST", f"/admin/tenants/{SSN}/resume", (403, 422), key="admin", json={}),
        Probe("kill_list", "GET", "/admin/kill-switches", (403,), key="admin", params=q),
        Probe("kill_set", "POST", "/admin/kill-switches", (403,), key="admin", json={"note": TEXT}),
        Probe("kill_clear", "POST", "/admin/kill-switches/clear", (403,), key="admin", json={"note": TEXT}),
        # Steering versions is the platform's (a tenant admin is refused before the body is read).
        Probe("routing_get", "GET", f"/admin/models/{CREDIT}/routing", (403,), key="admin", params=q),
        Probe(
            "routing_put",
            "PUT",
            f"/admin/models/{CREDIT}/routing",
            (403,),
            key="admin",
            json={"weights": {EMAIL: 1}, "shadow": SSN, "note": TEXT},
        ),
        Probe(
            "promote_pii",
            "POST",
            f"/admin/models/{CREDIT}/versions/{SSN}/promote",
            (403, 422),
            key="admin",
            json={"reason": TEXT},
        ),
        Probe("rollback_pii", "POST", f"/admin/models/{EMAIL}/rollback", (403, 422), key="admin", json={}),
        Probe(
            "retire_pii",
            "POST",
            f"/admin/models/{CREDIT}/versions/{SSN}/retire",
            (403, 422),
            key="admin",
            json={"new_default": EMAIL},
        ),
        # Files and batches: personal data in a batch file's lines, its custom ids and its name,
        # in ids, cursors and metadata; the dependent calls (the uploaded file, the batch) follow
        # in `traffic`, which also waits for the batch to finish before anything is scanned.
        Probe(
            "files_create",
            "POST",
            "/v1/files",
            OK,
            files={"file": (f"{NAME} {SSN}.jsonl", BATCH_FILE)},
            data={"purpose": "batch"},
        ),
        Probe(
            "files_create_pii_purpose",
            "POST",
            "/v1/files",
            (422,),
            files={"file": ("x.jsonl", BATCH_FILE)},
            data={"purpose": EMAIL},
        ),
        Probe("files_get_pii", "GET", f"/v1/files/{EMAIL}", (422,), params=q),
        Probe("files_content_pii", "GET", f"/v1/files/{SSN}/content", (422,), params=q),
        Probe("files_delete_pii", "DELETE", f"/v1/files/{EMAIL}", (422,), params=q),
        Probe(
            "batches_create_pii_file",
            "POST",
            "/v1/batches",
            (422,),
            json={"input_file_id": EMAIL, "endpoint": "/v1/embeddings", "completion_window": "24h"},
        ),
        Probe(
            "batches_create_pii_endpoint",
            "POST",
            "/v1/batches",
            (422,),
            json={
                "input_file_id": ABSENT_FILE,
                "endpoint": f"/v2/models/{EMAIL}/infer",
                "completion_window": "24h",
            },
        ),
        Probe(
            "batches_create_absent_file",
            "POST",
            "/v1/batches",
            (404,),
            "file.not_found",
            json={
                "input_file_id": ABSENT_FILE,
                "endpoint": "/v1/embeddings",
                "completion_window": "24h",
                "metadata": {"owner": NAME, "ssn": SSN},
            },
        ),
        Probe("batches_list_pii_cursor", "GET", "/v1/batches", (422,), params={**q, "after": EMAIL}),
        Probe("files_list_pii_cursor", "GET", "/v1/files", (422,), params={**q, "after": EMAIL}),
        Probe("files_list_pii_purpose", "GET", "/v1/files", (422,), params={**q, "purpose": SSN}),
        Probe("files_list", "GET", "/v1/files", OK, params=q),
        Probe("batches_get_pii", "GET", f"/v1/batches/{SSN}", (422,), params=q),
        Probe("batches_cancel_pii", "POST", f"/v1/batches/{EMAIL}/cancel", (422,), json={"note": TEXT}),
        # The review queue: personal data in queries, paths, ids and refused bodies (its success
        # paths, with a held request carrying every seeded value, run after these: `traffic`)
        Probe("reviews_list", "GET", "/admin/reviews", OK, key="admin", params=q),
        Probe(
            "reviews_list_other", "GET", "/admin/reviews", (403,), key="admin", params={**q, "tenant": SSN}
        ),
        Probe(
            "reviews_list_pii_cursor", "GET", "/admin/reviews", (422,), key="admin", params={"cursor": EMAIL}
        ),
        Probe("reviews_list_user_key", "GET", "/admin/reviews", (403,), params=q),
        Probe("review_get_pii", "GET", f"/admin/reviews/{EMAIL}", (422,), key="admin", params=q),
        Probe(
            "review_get_absent",
            "GET",
            f"/admin/reviews/{ABSENT_REVIEW}",
            (404,),
            "review.not_found",
            key="admin",
        ),
        Probe(
            "review_claim_pii",
            "POST",
            f"/admin/reviews/{SSN}/claim",
            (422,),
            key="admin",
            json={"note": TEXT},
        ),
        Probe(
            "review_resolve_note",
            "POST",
            f"/admin/reviews/{ABSENT_REVIEW}/resolve",
            (422,),
            key="admin",
            json={"decision": "approve", "note": TEXT},
        ),
        # Keys: none, personal data as a key, in x-api-key, in Basic credentials
        Probe("no_key", "GET", "/v1/models", (401,), key="none", params=q),
        Probe(
            "pii_bearer",
            "POST",
            "/v1/embeddings",
            (401,),
            key=f"Bearer {AWS_KEY}",
            json={"model": MINILM, "input": TEXT},
        ),
        Probe("pii_bearer_email", "GET", "/v2/health/ready", (401,), key=f"Bearer {EMAIL}", params=q),
        Probe("pii_basic", "GET", "/v1/models", (401,), key=f"Basic {BASIC}", params=q),
        Probe("pii_x_api_key", "GET", "/v1/models", (401,), key="none", headers={"x-api-key": EMAIL}),
    ]


@dataclass
class Traffic:
    answers: dict[str, tuple[Probe, httpx.Response]]
    request_ids: dict[str, str]

    def response(self, name: str) -> httpx.Response:
        return self.answers[name][1]


def _authorization(stack: RunningStack, key: str) -> dict[str, str]:
    if key == "none":
        return {}
    token = {"user": stack.key, "admin": stack.state["demo_admin_key"]}.get(key)
    return {"Authorization": f"Bearer {token}" if token else key}


def _send(http: httpx.Client, stack: RunningStack, probe: Probe) -> httpx.Response:
    merged: dict[str, str | bytes] = {**PII_HEADERS, **_authorization(stack, probe.key), **probe.headers}
    headers = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in merged.items()]
    return http.request(
        probe.method,
        probe.path,
        params=probe.params,
        json=probe.json,
        content=probe.content,
        headers=headers,
        files=probe.files,
        data=probe.data,
    )


def _review_probes(held: httpx.Response) -> list[Probe]:
    """The review queue's success paths, on the item a held request (every seeded value in it)
    opened: listed, shown (its text as redacted), claimed, approved; then the request is served."""
    review_id = held.json().get("review_id", ABSENT_REVIEW) if held.status_code == 403 else ABSENT_REVIEW
    q = {"email": EMAIL, "ssn": SSN}
    item = f"/admin/reviews/{review_id}"
    return [
        Probe(
            "reviews_list_held", "GET", "/admin/reviews", OK, key="admin", params={**q, "tenant": DEMO_TENANT}
        ),
        Probe("review_get", "GET", item, OK, key="admin", params=q),
        Probe("review_claim", "POST", f"{item}/claim", OK, key="admin", json={"note": TEXT}),
        Probe("review_resolve", "POST", f"{item}/resolve", OK, key="admin", json={"decision": "approve"}),
        Probe("embeddings_released", "POST", "/v1/embeddings", OK, json=_held_request()),
        Probe(
            "usage_policy_cleared",
            "PUT",
            f"/admin/usage-policies/{DEMO_TENANT}",
            (201,),
            key="admin",
            json={},
        ),
    ]


def _held_request() -> dict[str, Any]:
    return {"model": MINILM, "input": f"{TEXT} {HOLD_WORD}"}


@pytest.fixture(scope="module")
def traffic(stack: RunningStack) -> Iterator[Traffic]:
    """Send every probe once (then the feedback and audit reads that need earlier answers, and the
    review queue's flow, which needs a hold rule in force)."""
    answers: dict[str, tuple[Probe, httpx.Response]] = {}
    hold = {"word_lists": [{"name": "canary", "words": [HOLD_WORD], "action": "flag", "hold": True}]}
    with httpx.Client(base_url=stack.api_url, timeout=60) as http:
        for probe in _probes():
            answers[probe.name] = (probe, _send(http, stack, probe))
        predicted = answers["infer_group_declared"][1].headers.get("x-request-id", "missing")
        uploaded = answers["files_create"][1].json().get("id", "missing")
        spare = _send(http, stack, Probe("spare", "POST", "/v1/files", OK, **_upload()))
        spare_id = spare.json().get("id", "missing")
        for probe in (
            Probe("feedback", "POST", "/v1/feedback", OK, json={"request_id": predicted, "label": 1}),
            Probe("files_get", "GET", f"/v1/files/{uploaded}", OK, params=q_pii()),
            Probe("files_content", "GET", f"/v1/files/{uploaded}/content", OK, params=q_pii()),
            Probe(
                "batches_create",
                "POST",
                "/v1/batches",
                OK,
                json={
                    "input_file_id": uploaded,
                    "endpoint": "/v1/embeddings",
                    "completion_window": "24h",
                    "metadata": {"owner": NAME, "ssn": SSN},
                },
            ),
            Probe(
                "batches_to_cancel",
                "POST",
                "/v1/batches",
                OK,
                json={"input_file_id": spare_id, "endpoint": "/v1/embeddings", "completion_window": "24h"},
            ),
        ):
            answers[probe.name] = (probe, _send(http, stack, probe))
        batch_id = answers["batches_create"][1].json().get("id", "missing")
        to_cancel = answers["batches_to_cancel"][1].json().get("id", "missing")
        for probe in (
            Probe("batches_get", "GET", f"/v1/batches/{batch_id}", OK, params=q_pii()),
            Probe("batches_list", "GET", "/v1/batches", OK, params={**q_pii(), "limit": 100}),
            Probe(
                "batches_cancel", "POST", f"/v1/batches/{to_cancel}/cancel", (200, 409), json={"note": TEXT}
            ),
            Probe("files_delete", "DELETE", f"/v1/files/{spare_id}", OK, params=q_pii()),
            Probe(
                "usage_policy_hold",
                "PUT",
                f"/admin/usage-policies/{DEMO_TENANT}",
                (201,),
                key="admin",
                json=hold,
            ),
            Probe(
                "embeddings_held",
                "POST",
                "/v1/embeddings",
                (403,),
                "policy.held_for_review",
                json=_held_request(),
            ),
        ):
            answers[probe.name] = (probe, _send(http, stack, probe))
        for probe in _review_probes(answers["embeddings_held"][1]):
            answers[probe.name] = (probe, _send(http, stack, probe))
        dropped = _drop_in(http, stack)
        _wait_for_batches(http, stack, [batch_id, to_cancel, dropped])
        for probe in (Probe("audit", "GET", "/v1/audit", OK, params={"limit": 100, "q": EMAIL}),):
            answers[probe.name] = (probe, _send(http, stack, probe))
    ids = {name: r.headers.get("x-request-id", "") for name, (_, r) in answers.items()}
    yield Traffic(answers, ids)


def q_pii() -> dict[str, str]:
    return {"email": EMAIL, "ssn": SSN, "q": TEXT}


def _upload() -> dict[str, Any]:
    return {"files": {"file": ("spare.jsonl", BATCH_FILE)}, "data": {"purpose": "batch"}}


def _drop_in(http: httpx.Client, stack: RunningStack, timeout_s: float = 120) -> str:
    """A batch file with the seeded values dropped into the bucket (S3 drop-in): its batch's id.
    The object's name is benign: S3's notification carries it through the queue."""
    object_key = f"incoming/{DEMO_TENANT}/canary-{time.time_ns()}.jsonl"
    _aws(stack, "s3").put_object(
        Bucket=ResourceNames("local").batch_bucket,
        Key=object_key,
        Body=BATCH_FILE,
        Metadata={"steward-key-id": stack.key.split("_")[1]},
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = http.get("/v1/batches", params={"limit": 100}, headers=_authorization(stack, "user")).json()
        for batch in listed.get("data", []):
            if (batch.get("metadata") or {}).get("object") == object_key:
                return str(batch["id"])
        time.sleep(1)
    raise AssertionError("the drop-in never became a batch")


def _wait_for_batches(
    http: httpx.Client, stack: RunningStack, batch_ids: list[str], timeout_s: float = 180
) -> None:
    """Until every batch has ended (its chunks, results and output files are then in the bucket)."""
    deadline = time.monotonic() + timeout_s
    headers = _authorization(stack, "user")
    for batch_id in batch_ids:
        while time.monotonic() < deadline:
            status = http.get(f"/v1/batches/{batch_id}", headers=headers).json().get("status")
            if status in ("completed", "failed", "cancelled", "expired"):
                break
            time.sleep(1)


def _aws(stack: RunningStack, service: str) -> Any:
    client: Any = boto3.client  # any service by name (the stubs type each literal name)
    return client(
        service,
        endpoint_url=stack.state["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="steward-local",
        aws_secret_access_key="steward-local",
    )


def _items(stack: RunningStack) -> dict[str, list[dict[str, Any]]]:
    """Every item of every DynamoDB table in the (moto) account, by table."""
    ddb = _aws(stack, "dynamodb")
    tables = [name for page in ddb.get_paginator("list_tables").paginate() for name in page["TableNames"]]
    return {
        table: [
            item
            for page in ddb.get_paginator("scan").paginate(TableName=table)
            for item in page.get("Items", [])
        ]
        for table in tables
    }


def _audit_records(
    stack: RunningStack, traffic: Traffic, need: Collection[str] = (), wait_s: float = 30.0
) -> dict[str, dict[str, Any]]:
    """The canary's audit records, by probe name (read straight from the table); waits up to
    ``wait_s`` for the records of ``need`` (a loaded machine can make a write land late)."""
    deadline = time.monotonic() + wait_s
    while True:
        by_id = {
            item["request_id"]["S"]: item
            for item in _items(stack)[ResourceNames("local").audit_table.name]
            if "request_id" in item
        }
        found = {name: by_id[rid] for name, rid in traffic.request_ids.items() if rid in by_id}
        if set(need) <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(1.0)


# --- what callers got --------------------------------------------------------------------------


def test_every_probe_got_its_status_and_code_and_never_a_5xx(traffic: Traffic) -> None:
    wrong = {}
    for name, (probe, response) in traffic.answers.items():
        code = (
            response.json().get("code")
            if response.headers.get("content-type", "").startswith("application/problem+json")
            else None
        )
        if response.status_code not in probe.expect or (probe.code is not None and code != probe.code):
            wrong[name] = (response.status_code, code, probe.expect, probe.code)
    assert wrong == {}


def test_error_bodies_and_answer_headers_never_echo_the_values(traffic: Traffic) -> None:
    for name, (_, response) in traffic.answers.items():
        assert _leaks(json.dumps(dict(response.headers))) == [], name
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), name
            assert _leaks(response.text) == [], name


def test_answers_that_carry_no_caller_text_hold_no_values(traffic: Traffic) -> None:
    # Only an OIP answer's ``id`` hands the caller's own value back (OIP echoes it; the backend got
    # a placeholder, restored for the caller); every other answer (vectors, metadata, listings,
    # redactions, the audit read) must not contain any of the values.
    for name, (_, response) in traffic.answers.items():
        if response.status_code < 400 and name not in ECHOING:
            assert _leaks(response.content.decode("latin-1")) == [], name


def test_redact_returns_no_values_and_finds_every_type(traffic: Traffic) -> None:
    body = traffic.response("redact").json()
    assert _leaks(json.dumps(body, ensure_ascii=False)) == []
    found = {f["entity_type"] for f in body["findings"] if f["index"] == 0}
    assert {"PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "CLOUD_ACCESS_KEY"} <= found


def test_the_audit_read_holds_no_values(traffic: Traffic) -> None:
    body = traffic.response("audit").json()
    assert len(body["data"]) > 10
    assert _leaks(json.dumps(body, ensure_ascii=False)) == []


# --- what the backend saw ----------------------------------------------------------------------


def _direct_embedding(stack: RunningStack, text: str) -> list[float]:
    direct = httpx.post(
        f"{stack.state['backend_url']}/v2/models/{MINILM}/infer", json=_bytes_tensor(text), timeout=30
    )
    assert direct.status_code == 200, direct.text
    return list(direct.json()["outputs"][0]["data"][:384])


def test_the_backend_embedded_the_redacted_text_only(stack: RunningStack, traffic: Traffic) -> None:
    # Given the redacted text /v1/redact gives, embedded by the raw backend directly
    redacted = traffic.response("redact").json()["text"][0]
    direct = _direct_embedding(stack, redacted)
    # Then the gateway's JSON embedding and the binary-extension OIP answer are that same vector:
    # the backend was sent the redacted text, whichever way the caller sent it
    via_json = traffic.response("embeddings").json()["data"][0]["embedding"]
    binary = traffic.response("infer_binary")
    assert binary.headers["content-type"] == "application/octet-stream"
    via_binary = _binary_fp32(binary, "embedding")[:384]
    assert _cosine(via_json, direct) >= 0.9999
    assert _cosine(via_binary, direct) >= 0.9999
    # And not the raw text's vector
    assert _cosine(via_json, _direct_embedding(stack, TEXT)) < 0.999


def test_refused_requests_never_reached_the_backend(stack: RunningStack, traffic: Traffic) -> None:
    refused = (
        "infer_fp32_strings",
        "infer_int64_strings",
        "infer_pii_tensor_name",
        "infer_pii_parameter_key",
        "infer_group_email",
        "infer_version_group_email",
        "infer_features_strings",
        "infer_binary_bad_utf8",
        "policy_pii_model",
        "embeddings_held",
    )
    records = _audit_records(stack, traffic, need=refused)
    for name in refused:
        record = records[name]
        assert int(record["status"]["N"]) == traffic.response(name).status_code, name
        assert int(record.get("backend_attempts", {}).get("N", "0")) == 0, name


# --- what was kept -----------------------------------------------------------------------------


def test_logs_never_hold_the_values(stack: RunningStack, traffic: Traffic) -> None:
    # Given the stack's captured logs: the up process (gateway + authorizer), backend, moto
    files = [stack.log_file, *sorted((stack.log_file.parent / "logs").glob("*"))]
    assert any(p.name == "backend.log" for p in files)
    for path in files:
        # Then no seeded value appears in any of them
        assert _leaks(Path(path).read_text(errors="replace")) == [], path.name
    # And the gateway did log the canary's requests (the check looked at real log lines)
    log = stack.log_file.read_text(errors="replace")
    assert '"message":"request"' in log and traffic.request_ids["infer_fp32_strings"] in log


def test_no_table_holds_the_values(stack: RunningStack, traffic: Traffic) -> None:
    # Given every item of every DynamoDB table, read straight from moto
    tables = _items(stack)
    assert ResourceNames("local").audit_table.name in tables
    # Then the audit records are there with PII counts by type
    audit = [i for items in tables.values() for i in items if "pii_counts" in i]
    assert any(i["pii_counts"].get("M", {}).get("US_SSN") for i in audit)
    # And no value is stored anywhere: not a policy under ?model=<email>, not a group, not a key
    for table, items in tables.items():
        assert _leaks(_text(items)) == [], table


def test_no_bucket_holds_the_values(stack: RunningStack, traffic: Traffic) -> None:
    s3 = _aws(stack, "s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets, "the local stack provisions buckets: the scan must look at them"
    for bucket in buckets:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                obj = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
                body = obj["Body"].read().decode("latin-1")
                assert _leaks(f"{version['Key']}\n{_text(obj.get('Metadata', {}))}\n{body}") == [], bucket
            for marker in page.get("DeleteMarkers", []):
                assert _leaks(marker["Key"]) == [], bucket


def test_the_audit_archive_holds_the_canarys_records_and_no_values(
    stack: RunningStack, traffic: Traffic
) -> None:
    # Given the audit bucket, fed by the stack's stream poller through the archiver's handler
    s3 = _aws(stack, "s3")
    bucket = ResourceNames("local").audit_bucket
    wanted = {rid for rid in traffic.request_ids.values() if rid}
    assert len(wanted) > 50
    archived: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the poller delivers within a poll interval or so
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="audit/"):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
                text = body["Body"].read().decode("utf-8")
                # Then no seeded value is in an object's name or content
                assert _leaks(f"{version['Key']}\n{text}") == [], version["Key"]
                for line in text.splitlines():
                    record = json.loads(line)
                    archived[str(record.get("request_id"))] = record
        if wanted <= set(archived):
            break
        time.sleep(1)
    # And every canary request's record is archived, chain fields included, under its tenant
    assert wanted - set(archived) == set()
    assert all({"seq", "prev_mac", "mac", "expires_at"} <= set(archived[rid]) for rid in wanted)


def test_no_queue_holds_the_values(stack: RunningStack, traffic: Traffic) -> None:
    sqs = _aws(stack, "sqs")
    # No queue is provisioned today (the event path will add its own): whatever the stack has is
    # scanned, so a queue added later is covered without touching this test.
    urls = sqs.list_queues().get("QueueUrls", [])
    for url in urls:
        for _ in range(10):  # bounded: visibility 0 shows the same messages again
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            assert _leaks(_text(messages)) == [], url


def test_the_batch_ran_and_its_objects_were_scanned_sealed(stack: RunningStack, traffic: Traffic) -> None:
    # Given the canary's batch, run by the worker behind the local event pump
    batch = traffic.response("batches_create").json()
    done = httpx.get(
        f"{stack.api_url}/v1/batches/{batch['id']}", headers=_authorization(stack, "user"), timeout=30
    ).json()
    # Then it completed: one line embedded (redacted), two refused into the error file
    assert done["status"] == "completed", done
    assert done["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    # And the bucket the scan above read holds its input, chunk, result and output objects
    s3 = _aws(stack, "s3")
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=ResourceNames("local").batch_bucket).get("Contents", [])
    ]
    for prefix in ("files/", "chunks/", "results/"):
        assert any(k.startswith(prefix) for k in keys), prefix
    # And the caller reads its own file back intact (sealed at rest, opened for its tenant)
    assert traffic.response("files_content").content == BATCH_FILE


# --- coverage ----------------------------------------------------------------------------------


def test_the_canary_exercises_every_published_route(stack: RunningStack, traffic: Traffic) -> None:
    # Given the routes the running app publishes
    spec = httpx.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    published = {f"{m.upper()} {path}" for path, ops in spec["paths"].items() for m in ops if m in methods}
    # When the canary's audit records say which route templates its requests reached
    hit = {record["route"]["S"] for record in _audit_records(stack, traffic).values()}
    # Then every published route was reached (an added route must join the canary)
    assert published - hit == set()
    assert len(published) >= 20


def test_a_held_request_is_reviewed_on_its_redacted_text_then_served(traffic: Traffic) -> None:
    # Given a request with every seeded value, held by the canary's hold rule
    held = traffic.response("embeddings_held").json()
    # Then the reviewer saw its text as the privacy policy left it (the rule's word, no value)
    shown = traffic.response("review_get").json()
    assert (shown["review_id"], shown["hold"], shown["rule"]) == (held["review_id"], True, "canary")
    assert HOLD_WORD in shown["texts"][0] and _leaks(json.dumps(shown, ensure_ascii=False)) == []
    # And once approved, the same request was served
    assert traffic.response("review_resolve").json()["decision"] == "approve"
    assert traffic.response("embeddings_released").status_code == 200
