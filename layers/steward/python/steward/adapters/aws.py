"""Lazily created, cached boto3 clients.

boto3 costs ~0.5 s to import, so it is imported on first use rather than on the Lambda import
path. ``AWS_ENDPOINT_URL`` (moto server locally) is honoured by boto3 itself, so local runs use
exactly the AWS code path.

Every client is bounded: a stalled endpoint (accepts, never answers) costs at most
``max_attempts x (connect_timeout + read_timeout)`` plus a backoff of milliseconds, far below API
Gateway's 29 s. botocore's own default (4 tries x 60 s) would hold a request for minutes.
``STEWARD_AWS_TIMEOUT_SCALE`` widens every bound by a factor: the local stack sets it, since moto
in one process on a small machine answers in tens to hundreds of milliseconds, not DynamoDB's few.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from steward.errors import MonitoringUnavailable

_lock = threading.Lock()
_clients: dict[tuple[str, str, float, float, int], Any] = {}


def client(
    service: str,
    region: str,
    *,
    connect_timeout: float = 1.0,
    read_timeout: float = 3.0,
    max_attempts: int = 2,
) -> Any:
    """A shared client for ``service``; ``max_attempts`` counts every try, the first included
    (``1`` where the caller retries itself)."""
    scale = _timeout_scale()
    connect_timeout, read_timeout = connect_timeout * scale, read_timeout * scale
    key = (service, region, connect_timeout, read_timeout, max_attempts)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # total_max_attempts: botocore's "max_attempts" would count retries only (one more).
                retries={"mode": "standard", "total_max_attempts": max_attempts},
            )
            session: Any = boto3.session.Session()
            found = session.client(service, region_name=region, config=config)
            _clients[key] = found
    return found


def _timeout_scale() -> float:
    """The factor from ``STEWARD_AWS_TIMEOUT_SCALE`` (1 when unset; refused unless 1 to 20)."""
    raw = os.environ.get("STEWARD_AWS_TIMEOUT_SCALE", "").strip()
    if not raw:
        return 1.0
    scale = float(raw)
    if not 1.0 <= scale <= 20.0:
        raise ValueError("STEWARD_AWS_TIMEOUT_SCALE must be between 1 and 20")
    return scale


def describe_failure(error: Exception) -> tuple[str, str] | None:
    """A botocore failure as ``(code, what to check)``, with AWS's error code but never its full
    message (the CLI's one-line errors); None for anything else."""
    if "botocore" not in sys.modules:
        return None
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return "aws.no_credentials", "no AWS credentials (set AWS_PROFILE, or run `make up` locally)"
    if isinstance(error, EndpointConnectionError):
        return "aws.unreachable", "cannot reach the AWS endpoint (is the local stack up?)"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code") or "Unknown")
        hint = " (wrong STEWARD_STAGE or region, or the stack is not deployed?)" if "NotFound" in code else ""
        return "aws.error", f"AWS {error.operation_name} failed: {code}{hint}"
    if isinstance(error, BotoCoreError):
        return "aws.error", f"AWS call failed: {type(error).__name__}"
    return None


def caller_arn(region: str) -> str:
    """The ARN of the AWS principal these credentials act as (STS ``GetCallerIdentity``, which
    needs no permission). The CLI keys its audit records to it, never storing it as is."""
    return str(client("sts", region).get_caller_identity()["Arn"])


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    with _lock:
        _clients.clear()


#: BatchGetItem's limit of keys per call, and how often unprocessed keys are asked again.
BATCH_GET_KEYS = 100
BATCH_GET_ATTEMPTS = 5


class DynamoTable:
    """Base of the DynamoDB stores: one table, a client made on first use (or injected).

    The stores sit on the request path, so a stalled table fails within about
    ``MAX_ATTEMPTS x (CONNECT_TIMEOUT_S + READ_TIMEOUT_S)`` (6 s; 4 s when it accepts and stalls)
    rather than holding the request until API Gateway gives up. DynamoDB answers in milliseconds.
    """

    CONNECT_TIMEOUT_S = 1.0
    READ_TIMEOUT_S = 2.0
    MAX_ATTEMPTS = 2

    def __init__(self, table: str, *, region: str, client: Any = None) -> None:
        self._table = table
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._bounded_client(self.MAX_ATTEMPTS)
        return self._client

    def _pages(self, operation: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a ``query`` or ``scan``, following ``LastEvaluatedKey`` until the data
        ends or the caller stops iterating. ``request`` is sent again for each page, so a caller
        may change it between pages (a shrinking ``Limit``)."""
        call = getattr(self.client, operation)
        while True:
            page: dict[str, Any] = call(**request)
            yield page
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def _batch_get(self, keys: list[dict[str, Any]], *, consistent: bool = False) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist (any order), 100 keys per ``BatchGetItem``; keys left
        unprocessed (throttling) are asked again with backoff, and `MonitoringUnavailable` (503) is raised
        rather than a partial answer that would understate what was counted."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self._table: {"Keys": keys[start : start + BATCH_GET_KEYS], "ConsistentRead": consistent}
            }
            for attempt in range(BATCH_GET_ATTEMPTS):
                answer = self.client.batch_get_item(RequestItems=request)
                items.extend(answer.get("Responses", {}).get(self._table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise MonitoringUnavailable()
        return items

    def _bounded_client(self, max_attempts: int) -> Any:
        return client(
            "dynamodb",
            self._region,
            connect_timeout=self.CONNECT_TIMEOUT_S,
            read_timeout=self.READ_TIMEOUT_S,
            max_attempts=max_attempts,
        )
