"""The one strict JSON gate in front of every route (I-JSON, RFC 7493, plus a depth limit).

FastAPI parses bodies with ``json.loads``, which accepts what nothing downstream can handle: lone
surrogates (``"\\ud800"``, or raw CESU-8 bytes) that can't be encoded as UTF-8 for the detector,
the backend or the response; ``NaN``; and nesting deep enough to exhaust the recursion limit in the
parser, the validator or the response encoder. The middleware checks the body with orjson (strict
UTF-8, no lone surrogates, no NaN) and a depth limit before any route runs, so each of these is a
400 ``input.malformed_json`` instead of a 500 or the generic ``http.error``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
from steward.errors import MalformedJson

#: Deeper than any request Steward serves (OIP tensors nest by shape, at most 8) and far below the
#: recursion limits of json, pydantic and orjson's encoder (254).
MAX_JSON_DEPTH = 64
DETAIL = (
    "The request body is not valid JSON: send UTF-8 text without unpaired surrogates or NaN, "
    f"nested at most {MAX_JSON_DEPTH} levels."
)
BINARY_HEADER_LENGTH = b"inference-header-content-length"
#: The only routes that take the binary tensor data extension (``functions.api.routes.oip``).
#: Anywhere else the header is ignored: it must never exempt a body from this gate.
BINARY_ROUTE = re.compile(r"/v2/models/[^/]+(?:/versions/[^/]+)?/infer$")


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json``, any ``+json`` type, or none at all (clients that send JSON bare)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_part(headers: Iterable[tuple[bytes, bytes]], body: bytes, path: str) -> bytes | None:
    """The bytes of ``body`` that the app will parse as JSON, or None where it parses none.

    With the binary tensor extension (infer routes only) just the first
    ``Inference-Header-Content-Length`` bytes are JSON; the rest is raw tensor data. A repeated
    header counts by its first value, as Starlette (so FastAPI and the OIP routes) reads it.
    """
    content_type: str | None = None
    header_length: bytes | None = None
    for name, value in headers:
        if name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif name == BINARY_HEADER_LENGTH and header_length is None:
            header_length = value
    if header_length is not None and BINARY_ROUTE.search(path):
        try:
            length = int(header_length)
        except ValueError:
            return None  # the binary extension's own parser refuses it before any JSON is read
        return body[:length] if 0 <= length <= len(body) else None
    return body if is_json_media_type(content_type) else None


def check_json(data: bytes) -> None:
    """Refuse ``data`` with MalformedJson unless it is strict JSON within the depth limit."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MalformedJson(DETAIL) from None
    # Each level opens a bracket, so a body with few brackets can't be deep: skip the walk.
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise MalformedJson(DETAIL)


def _deeper_than(value: Any, limit: int) -> bool:
    """Iterative (a recursive walk would fail on exactly the input it is meant to refuse)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parses_as_json(data: bytes) -> bool:
    """Whether ``data`` passes :func:`check_json` (never raises: for error handlers)."""
    try:
        check_json(data)
    except MalformedJson:
        return False
    return True
