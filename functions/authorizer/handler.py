"""API Gateway REST REQUEST authorizer: API key -> tenant, scopes, models (as context).

A bad, unknown, revoked or expired key raises ``Exception("Unauthorized")``, which API Gateway
turns into a 401 (rendered as problem+json by the gateway responses). A valid key gets an Allow
on the whole stage; entitlement to a particular model is decided by the api function.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from steward.auth.authorize import Authorizer, extract_token
from steward.auth.policy import policy, stage_wildcard
from steward.bootstrap import Lazy, authorizer_settings, build_authorizer
from steward.errors import Unauthenticated
from steward.privacy.logs import RedactingFormatter

logger = Logger(service="steward-authorizer", logger_formatter=RedactingFormatter())


#: Built on the first invocation (its key cache then lives as long as the process).
_authorizer = Lazy(lambda: build_authorizer(authorizer_settings()))


def authorize_event(event: dict[str, Any], authorizer: Authorizer) -> dict[str, Any]:
    """The authorizer response for a REQUEST event; raises ``Exception("Unauthorized")``."""
    headers = event.get("headers") or {}
    try:
        principal = authorizer.authorize(extract_token(headers))
        resource = stage_wildcard(str(event.get("methodArn", "")))
    except (Unauthenticated, ValueError):
        logger.info("key rejected")  # never log the key or any part of it
        raise Exception("Unauthorized") from None
    logger.info("key accepted", extra={"tenant_id": principal.tenant_id, "key_id": principal.key_id})
    response: dict[str, Any] = policy(principal.key_id, "Allow", resource, principal.to_context())
    return response


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize_event(event, _authorizer())
