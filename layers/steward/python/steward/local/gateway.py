"""The local gateway: the api Lambda's FastAPI app behind the authorizer Lambda's code.

Imports the function packages at call time, after the local stack has set the ``STEWARD_*``
environment they validate at cold start, exactly as Lambda would.
"""

from __future__ import annotations

from typing import Any


def local_gateway_app() -> Any:
    """An ASGI app behaving like API Gateway (REQUEST authorizer) + the api Lambda."""
    from functions.api.app import create_app
    from functions.api.local_gateway import with_authorizer
    from functions.authorizer.handler import authorize
    from steward.settings import get_settings

    settings = get_settings()
    return with_authorizer(
        create_app(settings),
        authorize,
        region=settings.region,
        account=settings.account,
        stage=settings.stage,
    )
