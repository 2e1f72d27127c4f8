"""Success answers of the routes: JSON bodies and plain content negotiation (problems: `problems`)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response


def json_response(payload: dict[str, Any] | list[Any], status: int = 200) -> Response:
    """``payload`` as ``application/json``.

    orjson: the float arrays of embeddings dominate the cost of that route; it is several times
    faster than ``json.dumps``, and writes a non-finite float as null rather than invalid JSON.
    """
    return Response(content=orjson.dumps(payload), status_code=status, media_type="application/json")


def accepts(request: Request, media_type: str) -> bool:
    """The caller listed ``media_type`` in ``Accept``."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == media_type for part in accept.split(","))
