"""Admin bodies parsed after the caller is checked.

Admin routes take their body as a plain object and parse it in the route, once the key may use
the route: a plain key gets the same 403 whatever it sends, and learns nothing about the body's
schema. The OpenAPI document still shows each body's model (``WithJsonSchema``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from functions.api.deps import CallContext

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], document: Any, context: CallContext) -> M:
    """The body as ``model`` (422 ``input.invalid`` as FastAPI's own); its ``reason`` code, if
    any, is noted on the audit draft."""
    try:
        parsed = model.model_validate(document)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    reason = getattr(parsed, "reason", None)
    if isinstance(reason, str):
        context.draft.reason_codes.append(f"reason.{reason}")
    return parsed
