"""Settings refuse unsafe values outside local/test stages; each function reads its own model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from steward.settings import AdminSettings, ApiSettings, AuthorizerSettings, ReportSettings, StewardSettings

MODELS: tuple[type[StewardSettings], ...] = (ApiSettings, AuthorizerSettings, ReportSettings, AdminSettings)


def test_names_default_from_resource_names() -> None:
    settings = AdminSettings(stage="dev")
    assert settings.api_keys_table == "steward-dev-api-keys"
    assert settings.pepper_secret_name == "steward-dev/api-key-pepper"
    assert ReportSettings(stage="dev").results_bucket == ApiSettings(stage="dev").names.results_bucket


def test_explicit_names_win() -> None:
    assert ApiSettings(stage="dev", audit_table="custom").audit_table == "custom"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_STAGE", "prod")
    monkeypatch.setenv("STEWARD_BACKEND_URL", "https://backend.example")
    assert ApiSettings().models_table == "steward-prod-models"


@pytest.mark.parametrize("model", MODELS)
def test_pepper_in_environment_is_refused_outside_dev(model: type[StewardSettings]) -> None:
    with pytest.raises(ValidationError, match="STEWARD_PEPPER"):
        model(stage="prod", pepper="p" * 32, backend_url="https://b")
    assert model(stage="local", pepper="p" * 32).pepper is not None


def test_plain_http_backend_is_refused_outside_dev_unless_private() -> None:
    with pytest.raises(ValidationError, match="https"):
        ApiSettings(stage="prod", backend_url="http://backend.example.com")
    assert ApiSettings(stage="prod", backend_url="http://inference.steward.local:8080")


def test_deadline_must_stay_under_api_gateway_limit() -> None:
    with pytest.raises(ValidationError, match="29"):
        ApiSettings(backend_deadline_s=29.5)
    # The backend may not use the time a stalled store needs: 22 + 8 s of store stalls > 29 s
    with pytest.raises(ValidationError, match="store stalls"):
        ApiSettings(backend_deadline_s=22, backend_try_timeout_s=10)
    assert ApiSettings().backend_deadline_s <= 21


def test_one_environment_builds_every_function_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given one environment holding every function's variables (the local stack, the CLI)
    monkeypatch.setenv("STEWARD_STAGE", "dev")
    monkeypatch.setenv("STEWARD_AUTH_CACHE_TTL_S", "2")
    monkeypatch.setenv("STEWARD_FAIRNESS_LOOKBACK_DAYS", "3")
    monkeypatch.setenv("STEWARD_BACKEND_URL", "https://backend.example")
    # When each function reads its model, Then it takes its own fields and ignores the others'
    api, authorizer, report = ApiSettings(), AuthorizerSettings(), ReportSettings()
    assert authorizer.auth_cache_ttl_s == 2 and report.fairness_lookback_days == 3
    assert api.backend_url == "https://backend.example" and api.models_table == report.models_table
    assert "backend_url" not in AuthorizerSettings.model_fields
    assert "results_bucket" not in ApiSettings.model_fields  # the api reads no report bucket


def test_the_backend_rules_are_the_api_s_alone() -> None:
    # A deadline the api would refuse is no concern of a function that never calls the backend
    for model in (AuthorizerSettings, ReportSettings, AdminSettings):
        assert model(stage="prod", backend_deadline_s=29.5, backend_url="http://x.example").stage == "prod"
