"""Lazily created, cached boto3 clients.

boto3 costs ~0.5 s to import, so it is imported on first use rather than on the Lambda import
path. ``AWS_ENDPOINT_URL`` (moto server locally) is honoured by boto3 itself, so local runs use
exactly the AWS code path.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str, float, float, int], Any] = {}


def client(
    service: str,
    region: str,
    *,
    connect_timeout: float = 2.0,
    read_timeout: float = 5.0,
    max_attempts: int = 3,
) -> Any:
    """A shared client for ``service``; ``max_attempts=1`` where the caller retries itself."""
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
                retries={"mode": "standard", "max_attempts": max_attempts},
            )
            session: Any = boto3.session.Session()
            found = session.client(service, region_name=region, config=config)
            _clients[key] = found
    return found


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    with _lock:
        _clients.clear()


class DynamoTable:
    """Base of the DynamoDB stores: one table, a client made on first use (or injected)."""

    def __init__(self, table: str, *, region: str, client: Any = None) -> None:
        self._table = table
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb", self._region)
        return self._client
