"""Settings refuse unsafe values outside local/test stages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from steward.settings import StewardSettings


def test_names_default_from_resource_names() -> None:
    settings = StewardSettings(stage="dev")
    assert settings.api_keys_table == "steward-dev-api-keys"
    assert settings.pepper_secret_name == "steward-dev/api-key-pepper"


def test_explicit_names_win() -> None:
    assert StewardSettings(stage="dev", audit_table="custom").audit_table == "custom"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_STAGE", "prod")
    monkeypatch.setenv("STEWARD_BACKEND_URL", "https://backend.example")
    assert StewardSettings().models_table == "steward-prod-models"


def test_pepper_in_environment_is_refused_outside_dev() -> None:
    with pytest.raises(ValidationError, match="STEWARD_PEPPER"):
        StewardSettings(stage="prod", pepper="p" * 32, backend_url="https://b")
    assert StewardSettings(stage="local", pepper="p" * 32).pepper is not None


def test_plain_http_backend_is_refused_outside_dev_unless_private() -> None:
    with pytest.raises(ValidationError, match="https"):
        StewardSettings(stage="prod", backend_url="http://backend.example.com")
    assert StewardSettings(stage="prod", backend_url="http://inference.steward.local:8080")


def test_deadline_must_stay_under_api_gateway_limit() -> None:
    with pytest.raises(ValidationError, match="29"):
        StewardSettings(backend_deadline_s=29.5)
    # The backend may not use the time a stalled store needs: 22 + 8 s of store stalls > 29 s
    with pytest.raises(ValidationError, match="store stalls"):
        StewardSettings(backend_deadline_s=22, backend_try_timeout_s=10)
    assert StewardSettings().backend_deadline_s <= 21
