"""One batch line through the governed path: the synchronous route's body schema, then its use case.

A line runs exactly as its synchronous request would (`steward.inference.service`): entitlement
and model state, rate limits and quotas, usage policy, privacy redaction, the routed backend,
output checks. Its answer is what the route would have answered: the JSON body, or the problem
document of the refusal (with OpenAI's ``error`` member on ``/v1/embeddings``, the OIP error
string on ``/v2``), which goes to the error file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from steward.batches.endpoints import Endpoint
from steward.context import RequestContext
from steward.errors import InvalidInput, RateLimited, StewardError, problem_for
from steward.inference.requests import EmbeddingsRequest, InferRequest
from steward.inference.service import InferenceService
from steward.privacy.logs import scrub_text

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Statuses that say "not now" rather than "not this" (backend down or slow, a store of limits,
#: controls, policies or the audit trail unreachable, a kill switch thrown): the chunk is tried
#: again later (and after the queue's receive limit goes to the dead-letter queue) instead of
#: failing the line. A per-minute rate limit (429 ``rate.limited``) is waited out.
TRANSIENT_STATUSES = frozenset({503, 504})


def is_transient(error: StewardError) -> bool:
    return error.status in TRANSIENT_STATUSES or isinstance(error, RateLimited)


@dataclass(frozen=True)
class Answer:
    """A line's response: the HTTP status and body the synchronous route would have sent."""

    status: int
    body: dict[str, Any]
    code: str | None = None  # the refusal's stable code

    @property
    def ok(self) -> bool:
        return self.status < 400


def run_line(
    inference: InferenceService, ctx: RequestContext, endpoint: Endpoint, body: Any
) -> dict[str, Any]:
    """The line's answer, or the `StewardError` its synchronous request would have raised."""
    try:
        if endpoint.is_embeddings:
            request = EmbeddingsRequest.model_validate(body)
            return inference.embed(
                ctx, request.model, request.input, request.encoding_format, request.dimensions
            )
        payload = InferRequest.model_validate(body).model_dump(exclude_none=True)
    except ValidationError as error:
        raise LineInvalid(error) from None
    assert endpoint.model is not None
    return inference.infer(ctx, endpoint.model, endpoint.version, payload)


def refusal(error: StewardError, request_id: str, endpoint: Endpoint) -> Answer:
    """The problem document the route would have answered ``error`` with."""
    extra = getattr(error, "problem_extra", None)
    document = problem_for(error, request_id, path=endpoint.path, **(extra() if callable(extra) else {}))
    return Answer(error.status, document, error.code)


class LineInvalid(InvalidInput):
    """A body its route's schema refuses (422 ``input.invalid``), with the same safe locations the
    route gives: location, type and a fixed message, never the value."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__()
        self.errors = [
            {"loc": _safe_loc(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
            for e in error.errors()[:20]
        ]

    def problem_extra(self) -> dict[str, Any]:
        return {"errors": self.errors}


def _safe_loc(loc: object) -> list[object]:
    """Indexes and field-like names as they are; any other key (caller-chosen) as ``*``."""
    parts = loc if isinstance(loc, tuple | list) else ()
    return [
        p
        if isinstance(p, int) or (isinstance(p, str) and _FIELD_NAME.match(p) and scrub_text(p) == p)
        else "*"
        for p in parts
    ]
