"""The port every backend adapter implements, and the failures it may report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from steward.catalog.registry import Target


@dataclass(frozen=True)
class BackendRequest:
    """An Open Inference Protocol v2 request (inference or explanation) for one backend model version."""

    model: str
    version: str
    payload: Mapping[str, Any]
    #: ``infer`` or ``explain`` (the backend's ``/explain`` route; on SageMaker a custom attribute).
    operation: str = "infer"


@dataclass(frozen=True)
class BackendResponse:
    status: int
    body: bytes


class TransportError(Exception):
    """The call failed below HTTP. The message is for logs only, never for callers."""


class ConnectFailed(TransportError):
    """The request never reached the backend, so retrying it is safe."""


class TransportTimeout(TransportError):
    """The backend took too long; retrying would only burn the deadline and add load."""


class Transport(Protocol):
    def send(self, target: Target, request: BackendRequest, timeout_s: float) -> BackendResponse: ...
