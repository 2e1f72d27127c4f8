"""Errors that carry their HTTP status and a stable machine-readable ``code``.

One handler in the api function turns any :class:`StewardError` into an RFC 9457 problem
document. ``detail`` is written by Steward, never copied from caller input or a backend, so an
error body can't leak personal data, key material or backend internals. On the OpenAI routes the
document also carries an OpenAI-style ``error`` object (an RFC 9457 extension member), which is
what OpenAI SDKs read for the exception's message and code.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://steward.dev/problems/"


class StewardError(Exception):
    """Base class: subclasses fix ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal.error"
    title: ClassVar[str] = "Internal error"
    default_detail: ClassVar[str] = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)


class Unauthenticated(StewardError):
    status, code, title = 401, "auth.invalid_key", "Invalid or missing API key"
    default_detail = "Provide a valid API key as 'Authorization: Bearer <key>'."


class Forbidden(StewardError):
    status, code, title = 403, "auth.forbidden", "Forbidden"
    default_detail = "The API key is not allowed to perform this action."


class ModelNotFound(StewardError):
    """Same body whether the model does not exist or the caller may not use it."""

    status, code, title = 404, "model.not_found", "Model not found"
    default_detail = "The model does not exist or is not available to this API key."


class RouteNotFound(StewardError):
    status, code, title = 404, "route.not_found", "Not found"
    default_detail = "No such route."


class MethodNotAllowed(StewardError):
    status, code, title = 405, "route.method_not_allowed", "Method not allowed"
    default_detail = "The route does not support this HTTP method."


class InvalidInput(StewardError):
    status, code, title = 422, "input.invalid", "Invalid input"
    default_detail = "The request body does not match the expected schema."


class MalformedJson(StewardError):
    status, code, title = 400, "input.malformed_json", "Malformed JSON"
    default_detail = "The request body is not valid JSON."


class UnsupportedInput(StewardError):
    status, code, title = 400, "input.unsupported", "Unsupported input"


class TaskMismatch(StewardError):
    status, code, title = 400, "model.task_mismatch", "Model does not support this operation"


class InputTooLarge(StewardError):
    status, code, title = 413, "input.too_large", "Request body too large"
    default_detail = "The request body exceeds the size limit."


class UnsupportedMediaType(StewardError):
    status, code, title = 415, "input.unsupported_media_type", "Unsupported media type"
    default_detail = "Send the request body as application/json."


class InputRejectedByModel(StewardError):
    status, code, title = 400, "input.rejected_by_model", "Input rejected by the model"
    default_detail = "The model rejected the input (check input names, datatypes and shapes)."


class Throttled(StewardError):
    """The edge's request-rate limit (API Gateway stage throttling) refused the call."""

    status, code, title = 429, "rate_limit.exceeded", "Too many requests"
    default_detail = "The request rate limit was exceeded; retry later."


class RateLimited(StewardError):
    """A per-minute limit of the tenant's plan (key, tenant or model) is reached (`steward.limits`)."""

    status, code, title = 429, "rate.limited", "Rate limit reached"
    default_detail = "The per-minute request limit is reached; retry after the time in Retry-After."


class QuotaExceeded(StewardError):
    """A daily or monthly quota (requests or units) of the tenant's plan is used up."""

    status, code, title = 429, "quota.exceeded", "Quota exceeded"
    default_detail = "The daily or monthly quota is used up; retry after the time in Retry-After."


class LimitsUnavailable(StewardError):
    """The rate-limit counters could not be charged: refuse rather than admit uncounted (fail closed)."""

    status, code, title = 503, "limits.unavailable", "Rate limits unavailable"
    default_detail = "The request could not be counted against its limits, so it was refused. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class BackendUnavailable(StewardError):
    status, code, title = 503, "backend.unavailable", "Model backend unavailable"
    default_detail = "The model backend is temporarily unavailable. Retry later."


class ModelNotReady(StewardError):
    status, code, title = 503, "model.not_ready", "Model not ready"
    default_detail = "The model version is registered but its backend is not serving it yet."


class BackendTimeout(StewardError):
    status, code, title = 504, "backend.timeout", "Model backend timed out"
    default_detail = "The model backend did not answer in time."


class BackendError(StewardError):
    status, code, title = 502, "backend.error", "Model backend error"
    default_detail = "The model backend failed to process the request."


class AuditUnavailable(StewardError):
    """Governed responses are only released once audited (fail closed)."""

    status, code, title = 503, "audit.unavailable", "Audit trail unavailable"
    default_detail = "The request could not be audited, so its result is withheld. Retry later."


class AuthorizerFailure(StewardError):
    """What API Gateway answers when the authorizer itself fails (not a bad key): the key store
    is unreachable, so the answer is "unavailable, retry" (503), never a bare 500."""

    status, code, title = 503, "auth.unavailable", "Authorization unavailable"
    default_detail = "The request could not be authorized right now. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class CardIncomplete(StewardError):
    """A model version is approved only with a complete model card (``steward.catalog.cards``)."""

    status, code, title = 409, "card.incomplete", "Model card incomplete"
    default_detail = "The model card is incomplete, so the version cannot be approved."

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__("The model card is missing: " + ", ".join(self.missing) + ".")


class VersionNotFound(StewardError, LookupError):
    """Admin operations: the named model version is not registered."""

    status, code, title = 404, "model.version_not_found", "Model version not found"
    default_detail = "The model version is not registered."


class DefaultVersionConflict(StewardError):
    """A change would leave a model's default on a version that is not approved (model offline)."""

    status, code, title = 409, "model.default_conflict", "Default version conflict"
    default_detail = "The change would leave the model's default on a version that is not approved."


class VersionNotRoutable(StewardError):
    """Traffic, a shadow copy or the default for a version that is not approved."""

    status, code, title = 409, "model.version_not_routable", "Version not routable"
    default_detail = "Only approved versions take traffic."


class ModelChanged(StewardError):
    """Another admin changed the model between this change's read and its write."""

    status, code, title = 409, "model.concurrent_change", "Model changed concurrently"
    default_detail = "Another change to this model landed first; read its routing again and retry."


class MonitoringUnavailable(StewardError):
    """Monitoring counters could not all be read (the store kept throttling): no partial figures."""

    status, code, title = 503, "monitoring.unavailable", "Monitoring figures unavailable"
    default_detail = "The monitoring figures could not be read completely. Retry later."


class RollbackUnavailable(StewardError):
    """``rollback`` with no earlier default recorded and no version named."""

    status, code, title = 409, "model.rollback_unavailable", "Nothing to roll back to"
    default_detail = "No earlier default is recorded for this model; name the version to roll back to."


class KeyNotFound(StewardError, LookupError):
    """Admin operations: no API key has this id."""

    status, code, title = 404, "key.not_found", "API key not found"
    default_detail = "No API key has this id."


class KeyConflict(StewardError):
    """Rotation of a key that is revoked, expired or already rotated (perhaps concurrently)."""

    status, code, title = 409, "key.conflict", "API key can't be rotated"
    default_detail = "The key is revoked, expired or already rotated; rotate its successor instead."


class KeyEscalation(StewardError):
    """A key may not grant (or manage a key holding) more than it holds itself."""

    status, code, title = 403, "key.escalation", "Key escalation refused"
    default_detail = (
        "A key can't create or manage a key with more scopes, models or looser limits than its own."
    )


class FeedbackNotFound(StewardError):
    """Same answer for an unknown, expired or another tenant's request id."""

    status, code, title = 404, "feedback.not_found", "Prediction not found"
    default_detail = (
        "No prediction awaiting feedback has this request id (unknown, expired, not a monitored "
        "classifier prediction, or made by another tenant)."
    )


class FeedbackDuplicate(StewardError):
    status, code, title = 409, "feedback.duplicate", "Feedback already recorded"
    default_detail = "Ground truth for this request id was already recorded."


class UnknownFairnessGroup(StewardError):
    """A ``parameters.group`` value the tenant has not declared: refused, counted, never stored."""

    status, code, title = 400, "fairness.unknown_group", "Undeclared fairness group"
    default_detail = (
        "'parameters.group' holds a value this tenant has not declared. A tenant admin declares "
        "the group labels with PUT /admin/fairness/{tenant}/groups."
    )


class FairnessLabelsConflict(StewardError):
    status, code, title = 409, "fairness.labels_conflict", "Group labels changed concurrently"
    default_detail = "The tenant's group labels were changed by another request at the same time. Retry."


class PolicyUnavailable(StewardError):
    """The tenant's privacy policy could not be read: refuse rather than guess (fail closed)."""

    status, code, title = 503, "pii.policy_unavailable", "Privacy policy unavailable"
    default_detail = "The privacy policy could not be loaded, so the request was refused. Retry later."


class FeatureNotConfigured(StewardError):
    """The deployment runs without the feature the route needs (not the caller's doing, and
    retrying won't help): 501, RFC 9110's "does not support the functionality required"."""

    status, code, title = 501, "feature.not_configured", "Feature not configured"
    default_detail = "This deployment does not have the feature this request needs."


class TenantSuspended(StewardError):
    """Every key of a suspended tenant (or one under a tenant kill switch), on every route. The
    body names the operator's reason code (`steward.controls.model.REASON_CODES`), never a note."""

    status, code, title = 403, "tenant.suspended", "Tenant suspended"
    default_detail = "Access for this tenant is suspended."

    def __init__(self, reason: str = "other") -> None:
        self.reason = reason
        super().__init__(f"Access for this tenant is suspended (reason: {reason}).")

    def problem_extra(self) -> dict[str, Any]:
        return {"reason": self.reason}


class ServiceDisabled(StewardError):
    """A kill switch (global, model or model version) is thrown; the reason code, never the note."""

    status, code, title = 503, "service.disabled", "Service disabled"
    default_detail = "The service is disabled by its operators."

    def __init__(self, reason: str = "other", scope: str = "global") -> None:
        self.reason, self.scope = reason, scope
        what = "The service" if scope == "global" else "This model"
        detail = f"{what} is disabled by its operators (reason: {reason})."
        super().__init__(detail, headers={"Retry-After": "60"})

    def problem_extra(self) -> dict[str, Any]:
        return {"reason": self.reason}


class ControlUnavailable(StewardError):
    """The tenant state or kill switches could not be read: refuse rather than guess (fail closed)."""

    status, code, title = 503, "control.unavailable", "Access controls unavailable"
    default_detail = "The access controls could not be read, so the request was refused. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class TenantNotFound(StewardError, LookupError):
    status, code, title = 404, "tenant.not_found", "Tenant not found"
    default_detail = "No tenant has this id."


class TenantExists(StewardError):
    status, code, title = 409, "tenant.exists", "Tenant already exists"
    default_detail = "A tenant with this id already exists."


class FileNotFound(StewardError):
    """Same answer whether the file does not exist, was deleted or belongs to another tenant."""

    status, code, title = 404, "file.not_found", "File not found"
    default_detail = "No file with this id is available to this API key."


class BatchNotFound(StewardError):
    """Same answer whether the batch does not exist or belongs to another tenant."""

    status, code, title = 404, "batch.not_found", "Batch not found"
    default_detail = "No batch with this id is available to this API key."


class BatchConflict(StewardError):
    """A batch operation its current status does not allow (cancelling a finished batch)."""

    status, code, title = 409, "batch.conflict", "Batch state conflict"
    default_detail = "The batch's status does not allow this operation."


class QueueUnavailable(StewardError):
    """The job queue refused the batch's first message: the batch is not accepted (fail closed)."""

    status, code, title = 503, "queue.unavailable", "Job queue unavailable"
    default_detail = "The batch could not be queued, so it was not accepted. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class StorageUnavailable(StewardError):
    """The batch store or the file bucket could not be read or written."""

    status, code, title = 503, "storage.unavailable", "Storage unavailable"
    default_detail = "The file or batch store is temporarily unavailable. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class ReviewNotFound(StewardError, LookupError):
    """Same answer for an unknown, expired or another tenant's review item (no existence oracle)."""

    status, code, title = 404, "review.not_found", "Review item not found"
    default_detail = "No review item with this id is available to this API key."


class ReviewClaimed(StewardError):
    """Another reviewer holds a live claim on the item."""

    status, code, title = 409, "review.claimed", "Review item claimed"
    default_detail = "Another reviewer holds this item; retry once their claim lapses."


class ReviewNotClaimed(StewardError):
    """Resolving needs the resolver's own claim (live, or lapsed with nobody claiming since)."""

    status, code, title = 409, "review.not_claimed", "Review item not claimed"
    default_detail = "Claim the item before resolving it (POST /admin/reviews/{id}/claim)."


class ReviewResolved(StewardError):
    status, code, title = 409, "review.resolved", "Review item resolved"
    default_detail = "The item is already resolved."


class ReviewUnavailable(StewardError):
    """The review queue (its table or the key service) could not be reached."""

    status, code, title = 503, "review.unavailable", "Review queue unavailable"
    default_detail = "The review queue could not be reached. Retry later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers or {"Retry-After": "1"})


class InternalError(StewardError):
    pass


#: The OpenAI-compatible routes: ``/v1/embeddings``, ``/v1/models[/{id}]``, ``/v1/files[/...]``
#: and ``/v1/batches[/...]``.
OPENAI_PATH = re.compile(
    r"/v1/(?:embeddings|models(?:/[^/]+)?|files(?:/[^/]+(?:/content)?)?|batches(?:/[^/]+(?:/cancel)?)?)/?"
)


def is_openai_path(path: str | None) -> bool:
    return path is not None and OPENAI_PATH.fullmatch(path) is not None


def is_oip_path(path: str | None) -> bool:
    """Open Inference Protocol routes, whose clients (tritonclient) read ``{"error": "..."}``."""
    return path is not None and (path == "/v2" or path.startswith("/v2/"))


def openai_error_type(status: int) -> str:
    """OpenAI's ``error.type`` for a status (what OpenAI tooling branches on)."""
    if status >= 500:
        return "server_error"
    return {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(
        status, "invalid_request_error"
    )


def problem(
    status: int, code: str, title: str, detail: str, request_id: str, *, path: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An RFC 9457 problem document with Steward's ``code`` and ``request_id`` members.

    ``path`` is the request's: on an OpenAI route the document also carries ``error``
    (``message`` = ``detail``, ``type``, ``param``, ``code``) for OpenAI clients; on an OIP route
    ``error`` is a string (the detail and the code), the protocol's own error shape, which
    tritonclient shows.
    """
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    body.update(extra)
    if is_openai_path(path):
        body["error"] = {"message": detail, "type": openai_error_type(status), "param": None, "code": code}
    elif is_oip_path(path):
        body["error"] = f"{detail} [{code}]"
    return body


def problem_for(
    error: StewardError, request_id: str, *, path: str | None = None, **extra: Any
) -> dict[str, Any]:
    return problem(error.status, error.code, error.title, error.detail, request_id, path=path, **extra)


def problem_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class TensorMismatch(StewardError):
    """A tensor's ``data`` does not match its ``datatype`` and ``shape``."""

    status, code, title = 400, "input.tensor_mismatch", "Tensor does not match its datatype or shape"
    default_detail = "An input tensor's data does not match its datatype and shape."


class InvalidTensorName(StewardError):
    """A tensor name the model does not declare, or a name that is not an identifier."""

    status, code, title = 400, "input.invalid_tensor_name", "Invalid tensor name"
    default_detail = "A tensor name is not one the model declares."


class InvalidParameter(StewardError):
    """A ``parameters`` key that is not an identifier, or a value that is not a scalar."""

    status, code, title = 400, "input.invalid_parameter", "Invalid parameter"
    default_detail = "A parameter is not valid."
