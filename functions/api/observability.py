"""Powertools Logger and Metrics shared by the api function (Tracer is opt-in, see handler)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from steward.privacy.logs import RedactingFormatter, route_library_logs

SERVICE = "steward-api"
NAMESPACE = "Steward"

# Every line this function writes goes through the redacting formatter (no PII in logs).
logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
route_library_logs(SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def bind_correlation_id(request_id: str) -> None:
    """Tag this request's log lines, and only this request's, with its id.

    ``logger.set_correlation_id`` writes a process-wide key: under a server running requests
    concurrently, one request's lines would carry another's id. Powertools' thread-safe keys live
    in a ContextVar read by every Powertools formatter (this logger's, the authorizer's, the
    ``steward`` library handler's): each ASGI request task has its own copy, and anyio copies it
    into the worker threads the request runs blocking work on.
    """
    logger.thread_safe_append_keys(correlation_id=request_id)
