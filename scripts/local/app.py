"""The local gateway: the api Lambda's FastAPI app behind the authorizer Lambda's code.

Imports the function packages at call time, after the local stack has set the ``STEWARD_*``
environment they validate at cold start, exactly as Lambda would.
"""

from __future__ import annotations

from typing import Any


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    """The authorizer Lambda's code in the one-argument form the emulator calls.

    Same composition as the deployed function (its cached authorizer); only the Lambda context
    wrapper is left out, since API Gateway's emulator has no Lambda context to give.
    """
    from functions.authorizer import handler

    return handler.authorize_event(event, handler._authorizer())


def local_gateway_app() -> Any:
    """An ASGI app behaving like API Gateway (REQUEST authorizer) + the api Lambda."""
    from steward.bootstrap import api_settings

    from functions.api.app import create_app
    from scripts.local.api_gateway import with_authorizer

    settings = api_settings()
    return with_authorizer(
        create_app(settings),
        authorize,
        region=settings.region,
        account=settings.account,
        stage=settings.stage,
    )
