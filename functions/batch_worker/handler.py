"""Lambda entry point of the batch worker: SQS batch jobs -> `steward.batches.worker.BatchWorker`.

Settings are validated at cold start; the worker (boto3 clients, the pepper) is built on the
first job. Logs go through the redacting formatter; events are never logged (they hold ids only,
but the rule is one rule for every function).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from steward.batches.signals import NAMESPACE
from steward.bootstrap import Lazy, build_worker, worker_settings
from steward.privacy.logs import RedactingFormatter, route_library_logs

from functions.batch_worker.processing import make_handler

SERVICE = "steward-batch-worker"
logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
route_library_logs(SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def _count(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


settings = worker_settings()
_handle = make_handler(Lazy(lambda: build_worker(settings)), _count)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handle(event, context)
