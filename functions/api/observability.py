"""Powertools Logger and Metrics shared by the api function (Tracer is opt-in, see handler)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "steward-api"
NAMESPACE = "Steward"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
