"""OIP v2 over HTTP (local backend, ECS service) with a pooled urllib3 client.

urllib3 ships with botocore anyway; it is imported on first use to keep cold starts short.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

import orjson

from steward.catalog.registry import Target
from steward.routing.transport import (
    BackendRequest,
    BackendResponse,
    ConnectFailed,
    TransportError,
    TransportTimeout,
)

OPERATIONS = frozenset({"infer", "explain"})


def infer_path(model: str, version: str, operation: str = "infer") -> str:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown backend operation {operation!r}")
    path = f"/v2/models/{quote(model, safe='')}"
    if version:
        path += f"/versions/{quote(version, safe='')}"
    return f"{path}/{operation}"


class HttpTransport:
    def __init__(self, default_url: str, *, connect_timeout_s: float = 2.0, max_size: int = 16) -> None:
        self._default_url = default_url.rstrip("/")
        self._connect_timeout_s = connect_timeout_s
        self._max_size = max_size
        self._pool: Any = None
        self._lock = threading.Lock()

    def _manager(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    import urllib3

                    self._pool = urllib3.PoolManager(maxsize=self._max_size, retries=False)
        return self._pool

    def send(self, target: Target, request: BackendRequest, timeout_s: float) -> BackendResponse:
        import urllib3
        from urllib3 import exceptions as ux

        base = (target.url or self._default_url).rstrip("/")
        if not base:
            raise ConnectFailed("no backend URL configured")
        url = base + infer_path(request.model, request.version, request.operation)
        body = orjson.dumps(request.payload)
        timeout = urllib3.Timeout(connect=min(self._connect_timeout_s, timeout_s), read=timeout_s)
        try:
            response = self._manager().request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=timeout,
                redirect=False,
            )
        except (ux.ConnectTimeoutError, ux.NewConnectionError) as error:
            raise ConnectFailed(type(error).__name__) from None
        except ux.ReadTimeoutError:
            raise TransportTimeout("read timeout") from None
        except ux.ProtocolError as error:
            # Mostly a pooled keep-alive connection the server had closed; inference is a pure
            # function of its input, so sending it again is safe.
            raise ConnectFailed(type(error).__name__) from None
        except ux.HTTPError as error:
            raise TransportError(type(error).__name__) from None
        return BackendResponse(status=response.status, body=response.data)
