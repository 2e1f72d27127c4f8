"""Local stand-in for API Gateway (REST API + Lambda REQUEST authorizer) in front of the api app.

``with_authorizer(create_app(), authorize)`` served by uvicorn behaves like the deployed API: per
request it builds the REQUEST authorizer event API Gateway would send, calls the authorizer,
answers 401/403 with the same problem+json as our gateway responses, and on Allow hands the app
the proxy event (``scope["aws.event"]``) carrying ``requestContext.authorizer`` and the
``requestId``, exactly where Mangum puts it in Lambda.

The authorizer runs in its own worker-thread lane (`functions.api.lanes`), so requests stuck on a
slow backend can't hold the threads authentication needs; the request id is bound as the log
correlation id before the authorizer runs, so its lines carry it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send
from steward.errors import (
    PROBLEM_CONTENT_TYPE,
    AuthorizerFailure,
    Forbidden,
    StewardError,
    Unauthenticated,
    problem_bytes,
    problem_for,
)
from steward.resources import PUBLIC_PATHS

from functions.api.lanes import AUTHORIZER_LANE, run_in_lane
from functions.api.observability import bind_correlation_id

Authorize = Callable[[dict[str, Any]], dict[str, Any]]


def _headers(scope: Scope) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        # API Gateway keeps the client's casing; ASGI lowercases. Our code is case-insensitive.
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _query(scope: Scope) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def _request_context(scope: Scope, request_id: str, account: str, api_id: str, stage: str) -> dict[str, Any]:
    client = scope.get("client") or ("127.0.0.1", 0)
    return {
        "resourcePath": "/{proxy+}",
        "httpMethod": scope["method"],
        "path": f"/{stage}{scope['path']}",
        "accountId": account,
        "apiId": api_id,
        "stage": stage,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "identity": {"sourceIp": client[0], "userAgent": None},
        "protocol": "HTTP/1.1",
    }


def build_authorizer_event(
    scope: Scope, request_id: str, *, region: str, account: str, api_id: str, stage: str
) -> dict[str, Any]:
    """The REST API REQUEST authorizer event for this request."""
    headers, multi_headers = _headers(scope)
    query, multi_query = _query(scope)
    method, path = scope["method"], scope["path"]
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}{path}",
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": _request_context(scope, request_id, account, api_id, stage),
    }


def build_proxy_event(
    authorizer_event: dict[str, Any], authorizer_context: dict[str, Any] | None
) -> dict[str, Any]:
    """The proxy event the api Lambda would get (body omitted: the ASGI body is streamed)."""
    context = dict(authorizer_event["requestContext"])
    if authorizer_context is not None:
        context["authorizer"] = authorizer_context
    return {
        "resource": "/{proxy+}",
        "path": authorizer_event["path"],
        "httpMethod": authorizer_event["httpMethod"],
        "headers": authorizer_event["headers"],
        "multiValueHeaders": authorizer_event["multiValueHeaders"],
        "queryStringParameters": authorizer_event["queryStringParameters"],
        "multiValueQueryStringParameters": authorizer_event["multiValueQueryStringParameters"],
        "pathParameters": authorizer_event["pathParameters"],
        "stageVariables": None,
        "requestContext": context,
        "isBase64Encoded": False,
    }


def _allowed(response: dict[str, Any]) -> bool:
    statements = (response.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return "allow" in effects and "deny" not in effects


async def _send_problem(send: Send, error: StewardError, request_id: str) -> None:
    body = problem_bytes(problem_for(error, request_id))
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="steward"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def with_authorizer(
    app: ASGIApp,
    authorize: Authorize,
    *,
    region: str = "us-east-1",
    account: str = "123456789012",
    api_id: str = "local",
    stage: str = "local",
    public_paths: Iterable[str] = PUBLIC_PATHS,
) -> ASGIApp:
    """Wrap ``app`` so each HTTP request first passes a Lambda REQUEST authorizer."""
    public = frozenset(public_paths)

    async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        bind_correlation_id(request_id)
        event = build_authorizer_event(
            scope, request_id, region=region, account=account, api_id=api_id, stage=stage
        )
        context: dict[str, Any] | None = None
        if scope["path"] not in public:
            if not any(name.lower() == b"authorization" for name, _ in scope.get("headers", [])):
                # API Gateway answers 401 itself when the identity source (the Authorization
                # header, cached on) is missing: the authorizer is never invoked.
                await _send_problem(send, Unauthenticated(), request_id)
                return
            try:
                response = await run_in_lane(AUTHORIZER_LANE, authorize, event)
            except Exception as error:
                unauthorized = str(error) == "Unauthorized"
                failure: StewardError = Unauthenticated() if unauthorized else AuthorizerFailure()
                await _send_problem(send, failure, request_id)
                return
            if not _allowed(response):
                await _send_problem(send, Forbidden(), request_id)
                return
            context = {**(response.get("context") or {}), "principalId": response.get("principalId", "")}
        scope = {**scope, "aws.event": build_proxy_event(event, context)}
        await app(scope, receive, send)

    return gateway
