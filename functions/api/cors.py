"""Browser access (CORS) to the API, off unless the stage names its origins.

API Gateway answers the preflight (``OPTIONS``, no key: `cdk.api`); the app adds the CORS headers
to every actual answer, errors included, so a browser client can read them. Only exact origins
from ``STEWARD_CORS_ALLOW_ORIGINS`` (comma-separated, set by the stack from ``corsAllowOrigins``)
are allowed, never ``*``, and no credentials mode: the key travels in ``Authorization``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from steward.settings import CORS_ORIGIN_PATTERN

#: Response headers a browser client may read: the disclosure of what answered
#: (`docs/contracts.md`), the rate-limit state and when to retry.
EXPOSED_HEADERS = (
    "X-Steward-Model-Version",
    "Link",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
#: Request headers a browser may send (the preflight's answer lists the same, `cdk.api`).
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Inference-Header-Content-Length")
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")
PREFLIGHT_MAX_AGE_S = 3600


class CorsSettings(BaseSettings):
    """``STEWARD_CORS_ALLOW_ORIGINS``: validated at cold start like the function's other settings."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_CORS_", extra="ignore", frozen=True)

    allow_origins: str = ""

    @field_validator("allow_origins")
    @classmethod
    def _exact(cls, value: str) -> str:
        for origin in filter(None, (o.strip() for o in value.split(","))):
            if not CORS_ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError("CORS origins must be exact https origins (or http on localhost)")
        return value

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.allow_origins.split(",") if o.strip()]


def install(app: FastAPI, settings: CorsSettings | None = None) -> None:
    """Add the CORS middleware (outermost, so refusals carry the headers too) when origins are set."""
    origins = (settings or CorsSettings()).origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=list(ALLOWED_METHODS),
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE_S,
        )
