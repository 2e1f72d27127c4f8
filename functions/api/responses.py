"""Success answers of the routes: JSON bodies and plain content negotiation (problems: `problems`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

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


#: The registry version that produced an inference answer (`disclose_model`).
MODEL_VERSION_HEADER = "X-Steward-Model-Version"


def model_card_link(model: str, version: str) -> str:
    """The path of the card of exactly that version (``GET /v1/models/{model}/card?version=``)."""
    return f"/v1/models/{quote(model, safe='')}/card?{urlencode({'version': version})}"


def disclose_model(response: Response, model: str, version: str) -> Response:
    """Name the model version behind an inference answer, whatever its media type (JSON, the OIP
    binary extension, an SVG chart): callers and their auditors can tell which version answered
    without parsing the body, and the ``describedby`` link leads to that version's card."""
    # Registered version names are free text; percent-encoding keeps any of them a valid header
    # value (a line break or a non-Latin-1 character would otherwise fail the answer).
    response.headers[MODEL_VERSION_HEADER] = quote(version, safe="")
    response.headers["Link"] = f'<{model_card_link(model, version)}>; rel="describedby"'
    return response
