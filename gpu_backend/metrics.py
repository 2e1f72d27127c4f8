"""Prometheus metrics, after Triton's: request/failure counts, queue/compute/total latency,
executed batch sizes and the execution provider of every model.

Labels are only model names and versions from the repository and fixed reason strings, never text
from a request, so cardinality stays bounded and nothing a client sent ends up in a metric.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
UNKNOWN_MODEL = "_unknown"

# The `_created` timestamp series double the exposition size and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """One registry per app, so tests and several apps in one process do not share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["model", "version"]
        self.requests = Counter(
            "steward_backend_inference_requests",
            "Inference requests received, per model.",
            labels,
            registry=self.registry,
        )
        self.failures = Counter(
            "steward_backend_inference_failures",
            "Inference requests that failed, per model and reason.",
            [*labels, "reason"],
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "steward_backend_queue_duration_seconds",
            "Time a request waited in the batcher queue.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compute_seconds = Histogram(
            "steward_backend_compute_duration_seconds",
            "Time the batch holding a request spent in the model (pre/post-processing and ORT).",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "steward_backend_request_duration_seconds",
            "Time from request received to response ready (decode, queue, compute, encode).",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "steward_backend_batch_size",
            "Rows per executed batch.",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.executions = Counter(
            "steward_backend_batch_executions",
            "Model executions (batches run).",
            labels,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "steward_backend_queue_depth",
            "Requests waiting in the batcher queue.",
            labels,
            registry=self.registry,
        )
        self.model_ready = Gauge(
            "steward_backend_model_ready",
            "1 when the model version is loaded and ready.",
            labels,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "steward_backend_model_info",
            "Execution provider and precision a model version runs with (value 1).",
            [*labels, "execution_provider", "precision"],
            registry=self.registry,
        )
        self.server_ready = Gauge(
            "steward_backend_ready", "1 when the server takes inference requests.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
