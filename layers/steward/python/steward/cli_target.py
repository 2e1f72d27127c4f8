"""Which stage the ``steward`` CLI targets when no environment is set: the local stack's.

``make up`` writes ``.steward/local.json`` (`scripts.local.stack.LocalStackState`): the moto
endpoint and the settings that name the stack's tables and secret. When the environment selects
no target itself (no ``STEWARD_*`` variable, no AWS endpoint, profile or credentials: see
`TARGET_VARIABLES`), the CLI uses that file; otherwise explicit environment wins and the file
is ignored, so a leftover state file can never redirect commands meant for AWS.

Only the file format lives here (the CLI ships in the layer); the stack that writes it is
development tooling under ``scripts/local`` and is never imported from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from steward.resources import DEFAULT_REGION

#: moto accepts any credentials; these keep boto3 from looking for real ones (the local stack
#: starts its services with the same).
#: moto in one process answers a busy local stack in up to seconds, not DynamoDB's milliseconds:
#: every AWS client's bound is widened (`steward.adapters.aws`), for the stack's functions and for
#: the CLI pointed at it alike, so a busy local stack is not an outage.
LOCAL_TIMEOUTS = {"STEWARD_AWS_TIMEOUT_SCALE": "4"}
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "steward-local",
    "AWS_SECRET_ACCESS_KEY": "steward-local",
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_REGION": DEFAULT_REGION,
}

#: Only these settings are taken from the file (names of local resources, never behaviour).
STATE_SETTINGS = frozenset(
    {
        "stage",
        "region",
        "account",
        "api_keys_table",
        "models_table",
        "policies_table",
        "control_table",
        "limits_table",
        "audit_table",
        "reviews_table",
        "batches_table",
        "pepper_secret_name",
    }
)
#: The local stack only ever listens on loopback.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: AWS variables that choose an account or endpoint (a region, CA bundle or pager does not).
TARGET_VARIABLES = frozenset(
    {
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    }
)
_TARGET_PREFIXES = ("STEWARD_", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS")


class LocalStateError(ValueError):
    """The state file exists but is not a local stack's (unreadable, malformed, not loopback)."""


class _StateFile(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    aws_endpoint_url: str
    settings: dict[str, str] | None = None


@dataclass(frozen=True)
class ClientConfig:
    """``AdminSettings`` fields and process environment (endpoint, moto's placeholder
    credentials) that point the CLI at the local stack."""

    settings: dict[str, str]
    environment: dict[str, str]


def environment_selects_target(environ: Mapping[str, str]) -> bool:
    """Any ``STEWARD_*`` variable, AWS endpoint, profile or credentials means "use the env"."""
    return any(name in TARGET_VARIABLES or name.startswith(_TARGET_PREFIXES) for name in environ)


def load(path: Path, environ: Mapping[str, str]) -> ClientConfig | None:
    """The local stack's client config, or None when the environment decides (or no file)."""
    if environment_selects_target(environ) or not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        state = _StateFile.model_validate(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LocalStateError(f"cannot read {path}: {type(error).__name__}") from None
    except ValidationError as error:
        # Name the fields only: the file also holds the demo keys, which must not be echoed.
        fields = sorted({".".join(str(p) for p in e["loc"]) or "document" for e in error.errors()})
        raise LocalStateError(
            f"{path} is not a local stack state file (invalid: {', '.join(fields)})"
        ) from None
    endpoint = state.aws_endpoint_url
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise LocalStateError(f"{path} names an endpoint that is not on this machine; refusing to use it")
    settings = {k: v for k, v in (state.settings or {}).items() if k in STATE_SETTINGS}
    environment = {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, **LOCAL_TIMEOUTS}
    return ClientConfig(settings=settings, environment=environment)
