"""Errors that carry their HTTP status, so one handler maps every failure to an OIP error body.

Anything that is not a `BackendError` reaching the handler is a bug and becomes a 500.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base class: `status_code` is what the client sees, `message` goes into `{"error": ...}`."""

    status_code = 500
    #: Short, fixed label for metrics (never user-provided text, so label cardinality stays bounded).
    reason = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(BackendError):
    """The request is malformed or does not match the model's inputs."""

    status_code = 400
    reason = "invalid_input"


class ModelNotFoundError(BackendError):
    """No model or version with that name exists in the repository."""

    status_code = 404
    reason = "not_found"


class PayloadTooLargeError(BackendError):
    """The body is over the configured size limit."""

    status_code = 413
    reason = "too_large"


class UnavailableError(BackendError):
    """The server cannot take the request now; retrying later (or elsewhere) may succeed."""

    status_code = 503
    reason = "unavailable"


class ModelNotReadyError(UnavailableError):
    """The model exists but did not load (integrity, manifest, runtime) or is still loading."""

    reason = "not_ready"


class QueueFullError(UnavailableError):
    """The model's bounded queue is full: back-pressure instead of unbounded latency."""

    reason = "queue_full"


class RequestTimeoutError(UnavailableError):
    """The request waited in the queue longer than its timeout and was never executed."""

    reason = "timeout"


class DrainingError(UnavailableError):
    """The server received SIGTERM and takes no new inference requests."""

    reason = "draining"


class ModelLoadError(Exception):
    """Why a model version could not be loaded; shown in its metadata and logged."""
