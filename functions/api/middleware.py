"""The governance envelope around every request (pure ASGI, no per-request task overhead).

For each request it: takes the request id from API Gateway (correlation id), reads the identity
the authorizer put in ``requestContext.authorizer`` (fail closed: none -> 401), enforces the body
size limit, MACs input and output under the tenant's audit key, and writes exactly one audit record
*before* releasing the response - if the record can't be written the result is withheld (503
``audit.unavailable``) and the record is corrected to say so (``steward.audit``). The record
expires after the tenant plan's retention (`steward.controls.gate.AccessGate.note_retention`),
else the stage default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
from aws_lambda_powertools.metrics import MetricUnit
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from steward.audit.record import (
    AuditDraft,
    AuditKeys,
    AuditStore,
    Corrections,
    build_record,
    mac_hex,
    opaque_name,
)
from steward.auth.principal import Principal
from steward.errors import AuditUnavailable, InputTooLarge, InternalError, StewardError, Unauthenticated
from steward.resources import PUBLIC_PATHS
from steward.settings import DEFAULT_TENANT_BLOCK_SHARE
from steward.tenant_signals import TenantSignals

from functions.api.deps import SCOPE_AUDIT, SCOPE_BODY, SCOPE_PRINCIPAL, SCOPE_REQUEST_ID
from functions.api.json_guard import check_json, json_part
from functions.api.observability import bind_correlation_id, logger, metrics
from functions.api.problems import render
from functions.api.tenant_metrics import emit_tenant_signals

UNMATCHED_ROUTE = "<unmatched>"
T = TypeVar("T")


def request_id_of(scope: Scope) -> str:
    event = scope.get("aws.event") or {}
    rid = (event.get("requestContext") or {}).get("requestId")
    return str(rid) if rid else str(uuid.uuid4())


def principal_of(scope: Scope) -> Principal | None:
    event = scope.get("aws.event") or {}
    context = (event.get("requestContext") or {}).get("authorizer")
    return Principal.from_context(context) if isinstance(context, dict) else None


class _Response:
    """Holds the response until the audit record is written."""

    def __init__(self, request_id: str, path: str) -> None:
        self.request_id = request_id
        self.path = path  # problems on OpenAI routes carry OpenAI's ``error`` object too
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True

    def set_problem(self, error: StewardError) -> None:
        answer = render(error, self.request_id, self.path)
        headers = answer.asgi_headers()
        self.start = {"type": "http.response.start", "status": answer.status, "headers": headers}
        self.chunks = [answer.body]
        self.complete = True

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    async def flush(self, send: Send, extra: dict[str, str] | None = None) -> None:
        """Send the held response; ``extra``: headers the draft asked for (``RateLimit-*``),
        unless the response already has them (a refusal's own)."""
        assert self.start is not None
        headers = [
            (k, v)
            for k, v in self.start.get("headers", [])
            if k.lower() not in (b"content-length", b"x-request-id")
        ]
        body = b"".join(self.chunks)
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"x-request-id", self.request_id.encode()))
        present = {k.lower() for k, _ in headers}
        for name, value in (extra or {}).items():
            if name.lower().encode() not in present:
                headers.append((name.lower().encode(), value.encode()))
        await send({**self.start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


class GovernanceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        audit_store: Callable[[], AuditStore],
        audit_keys: AuditKeys,
        max_body_bytes: int,
        retention_days: int,
        note_retention: Callable[[AuditDraft], None] | None = None,
        inline_blocking: bool = False,
        body_limits: Mapping[str, int] | None = None,
        block_share: float = DEFAULT_TENANT_BLOCK_SHARE,
    ) -> None:
        self.inline_blocking = inline_blocking
        self.block_share = block_share
        self.app = app
        self.audit_store = audit_store
        self.audit_keys = audit_keys
        self.corrections = Corrections()
        self.max_body_bytes = max_body_bytes
        #: Paths whose bodies may be larger than ``max_body_bytes`` (file uploads), by exact path.
        self.body_limits = dict(body_limits or {})
        self.retention_days = retention_days  # the stage default
        self.note_retention = note_retention

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope[SCOPE_REQUEST_ID] = request_id
        bind_correlation_id(request_id)
        response = _Response(request_id, scope["path"])
        if scope["path"] in PUBLIC_PATHS:
            await self._run(scope, receive, response)
            await response.flush(send)
            return

        started, t0 = time.time(), time.perf_counter()
        draft = AuditDraft(
            request_id=request_id, method=scope["method"], route=scope["path"], started_at=started
        )
        scope[SCOPE_AUDIT] = draft
        key: bytes | None = None
        try:
            principal = principal_of(scope)
            if principal is not None:  # named even if the audit key fails (log line, tenant metrics)
                draft.tenant_id, draft.key_id = principal.tenant_id, principal.key_id
            # First, so a request that can't be audited never runs (fail closed).
            key = await self._audit_key(principal.tenant_id if principal else None)
            if principal is None:
                raise Unauthenticated()
            draft.policy_version = principal.policy_version
            scope[SCOPE_PRINCIPAL] = principal
            body = await self._read_body(scope, receive)
            draft.input_hmac, draft.input_bytes = mac_hex(key, body), len(body)
            scope[SCOPE_BODY] = body
            json_text = json_part(scope.get("headers", []), body, scope["path"]) if body else None
            if json_text is not None:
                check_json(json_text)  # strict JSON before any route: a 400, never a 500 later
        except StewardError as error:
            draft.error_code = error.code
            response.set_problem(error)
        else:
            await self._run(scope, _replay(body), response)

        route = scope.get("route")
        # An unmatched path and an unresolved model name are caller input, not Steward's names:
        # neither reaches the audit record or the log as typed (detection can't vouch for them).
        draft.route = getattr(route, "path_format", None) or UNMATCHED_ROUTE
        if key is None:  # no audit key, so no record can be written; the 503 says why
            logger.error("audit key unavailable")
            metrics.add_metric(name="AuditWriteFailures", unit=MetricUnit.Count, value=1)
        else:
            if draft.model and not draft.model_version:
                draft.model = opaque_name(key, draft.model)
            await self._audit(draft, key, response, t0)
        await response.flush(send, draft.response_headers)
        self._observe(draft, response.status, (time.perf_counter() - t0) * 1000.0)

    async def _audit(self, draft: AuditDraft, key: bytes, response: _Response, t0: float) -> None:
        """Write the record; if its outcome is unknown, withhold the result and correct the record.

        The first write only creates, the correction replaces: whichever lands last, the stored
        record says what the caller got (503), never the withheld outcome.
        """
        store = self.audit_store()
        try:
            await self._blocking(self._put, store, draft, key, response, t0)
        except Exception as error:
            logger.error("audit write failed", extra={"error_type": type(error).__name__})
            metrics.add_metric(name="AuditWriteFailures", unit=MetricUnit.Count, value=1)
            draft.withheld(AuditUnavailable.code)
            response.set_problem(AuditUnavailable())
            correction = self._record(draft, key, response, t0)
            if not await self._blocking(self.corrections.write, store, correction):
                logger.error("audit correction pending", extra={"pending": len(self.corrections)})
                metrics.add_metric(name="AuditCorrectionsPending", unit=MetricUnit.Count, value=1)
        else:
            if self.corrections:  # the store answers again: settle what earlier requests left
                await self._blocking(self.corrections.flush, store)

    def _put(self, store: AuditStore, draft: AuditDraft, key: bytes, response: _Response, t0: float) -> None:
        """The tenant plan's retention (cached; read only if no route looked), then the write:
        one blocking call, so both share one thread hop."""
        if self.note_retention is not None:
            self.note_retention(draft)
        store.put(self._record(draft, key, response, t0))

    def _record(self, draft: AuditDraft, key: bytes, response: _Response, t0: float) -> dict[str, Any]:
        output = b"".join(response.chunks)
        return build_record(
            draft,
            status=response.status,
            output_hmac=mac_hex(key, output),
            output_bytes=len(output),
            latency_ms=(time.perf_counter() - t0) * 1000.0,
            retention_days=self.retention_days,
        )

    async def _audit_key(self, tenant_id: str | None) -> bytes:
        """The tenant's audit key; only the first request per tenant and process pays for it."""
        cached = self.audit_keys.cached(tenant_id)
        if cached is not None:
            return cached
        return await self._blocking(self.audit_keys.key, tenant_id)

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking I/O: inline on Lambda (one request per process), else in the thread pool."""
        if self.inline_blocking:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    async def _run(self, scope: Scope, receive: Receive, response: _Response) -> None:
        try:
            await self.app(scope, receive, response.send)
        except Exception:
            logger.exception("unhandled error")  # the traceback holds no request content
            draft = scope.get(SCOPE_AUDIT)
            if isinstance(draft, AuditDraft):
                draft.error_code = InternalError.code
            response.set_problem(InternalError())
        if response.start is None or not response.complete:
            response.set_problem(InternalError())

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    raise InputTooLarge(f"The request body may be at most {limit} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise InputTooLarge(f"The request body may be at most {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _observe(self, draft: AuditDraft, status: int, latency_ms: float) -> None:
        logger.info(
            "request",
            extra={
                "route": f"{draft.method} {draft.route}",
                "status": status,
                "code": draft.error_code or None,
                "tenant_id": draft.tenant_id,
                "key_id": draft.key_id,
                "model": draft.model or None,
                "model_version": draft.model_version or None,
                "latency_ms": round(latency_ms, 3),
                "backend_latency_ms": draft.backend_latency_ms,
            },
        )
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
        if status >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        elif status >= 400:
            metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
        if draft.backend_latency_ms is not None:
            metrics.add_metric(
                name="BackendLatency", unit=MetricUnit.Milliseconds, value=draft.backend_latency_ms
            )
        signals = TenantSignals.of(draft.tenant_id, draft.error_code, draft.reason_codes)
        emit_tenant_signals(signals, self.block_share)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


__all__ = ["GovernanceMiddleware", "principal_of", "request_id_of"]
