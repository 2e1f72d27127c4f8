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
