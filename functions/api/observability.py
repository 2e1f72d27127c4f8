"""Powertools Logger and Metrics shared by the api function (Tracer is opt-in, see handler)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from steward.log_redaction import RedactingFormatter, route_library_logs

SERVICE = "steward-api"
NAMESPACE = "Steward"

# Every line this function writes goes through the redacting formatter (no PII in logs).
logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
route_library_logs(SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
