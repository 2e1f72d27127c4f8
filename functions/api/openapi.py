"""The OpenAPI document, completed with what FastAPI can't infer from the routes.

Clients generate code from ``/openapi.json``, and contract tests (Schemathesis) hold the API to
it, so it states: the two ways to send the API key (what the authorizer accepts), the statuses
every operation can answer with beyond its own (the authorizer, the body limit, the JSON gate,
API Gateway's throttle, the audit trail failing closed), each as an RFC 9457 problem document,
and the text limits of this deployment's settings (the gateway enforces the same values).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from pydantic.json_schema import models_json_schema
from steward.errors import PROBLEM_CONTENT_TYPE
from steward.settings import ApiSettings

from functions.api.schemas import Problem

BEARER_SCHEME = "apiKeyBearer"
HEADER_SCHEME = "apiKeyHeader"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "The API key as `Authorization: Bearer <key>`.",
    },
    HEADER_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The API key in the `x-api-key` header (used when no bearer key is sent).",
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The request can't be served as sent: malformed JSON (`input.malformed_json`) or a "
    "refusal named by `code`.",
    401: "No API key, or one that is unknown, revoked or expired (`auth.invalid_key`).",
    403: "The API key may not do this (`auth.forbidden`).",
    404: "Absent, or not available to this API key: the same answer for both.",
    409: "Conflicts with the current state; `code` says which.",
    413: "Over a size limit (`input.too_large`).",
    415: "A Content-Type the route does not take (`input.unsupported_media_type`).",
    422: "Does not match the documented schema (`input.invalid`, locations in `errors`).",
    429: "Too many requests; retry after `Retry-After` seconds. `rate.limited`: a per-minute limit "
    "of the tenant's plan (key, tenant or model) is reached; `quota.exceeded`: its daily or monthly "
    "quota is used up; both carry `RateLimit-Limit`/`-Remaining`/`-Reset` for the refusing window "
    "(model calls only). `rate_limit.exceeded`: the stage's request-rate throttle (API Gateway), "
    "on any route.",
    501: "This deployment does not have the feature (`feature.not_configured`).",
    502: "The model backend failed (`backend.error`).",
    503: "Temporarily unavailable, retry later: the model backend, the privacy check, or the audit "
    "trail (`audit.unavailable`: results are only released once audited).",
    504: "The model backend did not answer in time (`backend.timeout`).",
}
_SECONDS = {"type": "integer", "minimum": 0}
#: Headers of a 429 (`steward.limits.headers`; API Gateway's throttle sends only ``Retry-After``).
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying: until the refusing window resets.",
        "required": True,
        "schema": _SECONDS,
    },
    "RateLimit-Limit": {"description": "Size of the refusing window's limit.", "schema": _SECONDS},
    "RateLimit-Remaining": {"description": "Left in that window (0 on a refusal).", "schema": _SECONDS},
    "RateLimit-Reset": {"description": "Seconds until that window resets.", "schema": _SECONDS},
}
STATUS_HEADERS: dict[int, dict[str, dict[str, Any]]] = {429: RATE_LIMIT_HEADERS}
#: Headers of every successful inference answer (`functions.api.responses.disclose_model`).
DISCLOSURE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Steward-Model-Version": {
        "description": "The registry version of the model that produced this answer.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Link": {
        "description": "That version's model card, "
        '``</v1/models/{model}/card?version={v}>; rel="describedby"``.',
        "required": True,
        "schema": {"type": "string"},
    },
}
#: What any operation can answer with, whatever its route: the JSON gate and the body limit (the
#: body is read before routing), the authorizer, the key's scope, the throttle, the audit trail.
EVERY_OPERATION = (400, 401, 403, 413, 429, 503)
#: Where a route validates parameters or a body.
VALIDATION = 422
#: (schema, property) holding texts whose count and length the settings bound.
TEXT_FIELDS = (("EmbeddingsRequest", "input"), ("RedactRequest", "text"))
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries: each status answers with a problem document."""
    return {status: _problem(status) for status in statuses}


def _problem(status: int) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "description": STATUS_DESCRIPTIONS[status],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": dict(PROBLEM_REF)}},
    }
    if status in STATUS_HEADERS:
        problem["headers"] = {name: dict(header) for name, header in STATUS_HEADERS[status].items()}
    return problem


#: What every route can answer with (`complete` adds 422 where there is input).
PROBLEMS = problem_responses(*EVERY_OPERATION)
#: A route naming a model (path or body): absent and "not yours" are the same 404.
MODEL_PROBLEMS = problem_responses(404)
#: A route that calls the model backend.
BACKEND_PROBLEMS = problem_responses(404, 502, 504)


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Serve the completed document (FastAPI rebuilds it when routes change; so do we)."""
    build = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if not completed or completed[0] is not document:
            complete(document, settings)
            completed[:] = [document]
        return document

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to extend it


def complete(document: dict[str, Any], settings: ApiSettings) -> None:
    """Add security, problem responses and the settings' limits to ``document`` (in place)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, problem_defs = models_json_schema(
        [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in problem_defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{BEARER_SCHEME: []}, {HEADER_SCHEME: []}]  # either one

    for operation in _operations(document):
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for status in EVERY_OPERATION:
            responses.setdefault(str(status), _problem(status))
        if operation.get("parameters") or operation.get("requestBody"):
            responses[str(VALIDATION)] = _problem(VALIDATION)  # FastAPI's own 422 is not what we send
        for code, response in responses.items():
            if int(code) >= 400:
                response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": dict(PROBLEM_REF)}}
                response.setdefault("description", STATUS_DESCRIPTIONS.get(int(code), "Error."))
    _drop_unreferenced(schemas, document, ("HTTPValidationError", "ValidationError"))
    _text_limits(schemas, settings)


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for item in document.get("paths", {}).values()
        for method, operation in item.items()
        if method in METHODS
    ]


def _drop_unreferenced(schemas: dict[str, Any], document: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in schemas:
            held = schemas.pop(name)
            if f'"#/components/schemas/{name}"'.encode() in orjson.dumps(document):
                schemas[name] = held


def _text_limits(schemas: dict[str, Any], settings: ApiSettings) -> None:
    """A text or a list of texts: at most ``max_embedding_inputs`` texts of ``max_input_chars``."""
    for schema_name, field in TEXT_FIELDS:
        prop = schemas.get(schema_name, {}).get("properties", {}).get(field, {})
        for variant in prop.get("anyOf", []):
            if variant.get("type") == "string":
                variant["maxLength"] = settings.max_input_chars
            elif variant.get("type") == "array":
                variant["maxItems"] = settings.max_embedding_inputs
                variant.setdefault("items", {})["maxLength"] = settings.max_input_chars
