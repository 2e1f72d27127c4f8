"""The HMAC pepper for API key hashes, from Secrets Manager.

Fetched once per container and kept in memory; never logged. A local/test stage may pass the
pepper directly (``STEWARD_PEPPER``); settings refuse that anywhere else.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from steward.adapters.aws import client as aws_client

MIN_PEPPER_BYTES = 16


class PepperError(RuntimeError):
    pass


def _decode(secret: str) -> bytes:
    value = secret
    if secret.lstrip().startswith("{"):
        value = str(json.loads(secret).get("pepper", ""))
    data = value.encode()
    if len(data) < MIN_PEPPER_BYTES:
        raise PepperError("pepper is too short")
    return data


class SecretsManagerPepper:
    """Callable returning the pepper bytes; reads the secret on first call only."""

    def __init__(self, secret_id: str, *, region: str, client: Any = None) -> None:
        self._secret_id = secret_id
        self._region = region
        self._client = client
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    sm = self._client or aws_client("secretsmanager", self._region)
                    secret = sm.get_secret_value(SecretId=self._secret_id)["SecretString"]
                    self._value = _decode(secret)
        return self._value


def static_pepper(value: str) -> Callable[[], bytes]:
    data = _decode(value)
    return lambda: data
