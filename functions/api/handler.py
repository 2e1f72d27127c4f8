"""Lambda entry point of the api function: API Gateway REST (v1) proxy event -> FastAPI app.

Import cost is kept to FastAPI, Mangum and Powertools Logger/Metrics: boto3 and urllib3 load on
the first request that needs them, and the X-Ray SDK only when ``STEWARD_TRACING`` is on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from steward.bootstrap import Lazy, api_settings

from functions.api.app import create_app
from functions.api.observability import SERVICE, logger, metrics

settings = api_settings()  # validated at cold start: a bad environment fails the init phase
app = create_app(settings, inline_blocking=True)
# problem+json and SVG charts go back as text; anything else (the OIP binary tensor extension's
# application/octet-stream) as base64, which API Gateway decodes (binary media type */*).
_asgi = Mangum(
    app,
    lifespan="off",
    text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/problem+json", "image/svg+xml"],
)


def _warm() -> None:
    """Compile the PII patterns and load the name lists, on the first invocation.

    Not at import: ``privacy.warm()`` costs ~1 s of CPU, which would break the handler's import
    budget (``scripts/bench_gateway.py``); the first request pays it instead of a later one.
    """
    from steward import privacy

    privacy.warm()


def _tracer() -> Any:
    """Opt-in X-Ray: patches botocore/urllib3 so backend and DynamoDB calls become subsegments."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=("botocore", "urllib3"))


_warm_privacy = Lazy(_warm)
_start_tracing = Lazy(_tracer)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if settings.tracing:
        _start_tracing()
    _warm_privacy()
    return _asgi(event, context)
