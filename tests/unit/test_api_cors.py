"""Browser access: an allowed origin can read the disclosure headers of an inference answer (and
of a refusal); other origins get no CORS headers; with no origins configured there is no CORS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.bootstrap import Api
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.api.cors import CorsSettings
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer

from .conftest import MINILM, bearer

ORIGIN = "https://console.example.com"
EMBED = {"model": MINILM, "input": "hello"}


def app_client(settings: ApiSettings, use_cases: Api, authorizer: Authorizer, origins: str) -> TestClient:
    app = create_app(settings, use_cases, cors_settings=CorsSettings(allow_origins=origins))
    return TestClient(with_authorizer(app, lambda event: authorize_event(event, authorizer)))


@pytest.fixture
def browser(settings: ApiSettings, use_cases: Api, authorizer: Authorizer) -> Iterator[TestClient]:
    with app_client(settings, use_cases, authorizer, ORIGIN) as client:
        yield client


def exposed(headers: Mapping[str, str]) -> set[str]:
    raw = headers.get("access-control-expose-headers") or ""
    return {h.strip().lower() for h in raw.split(",") if h.strip()}


def test_an_allowed_origin_can_read_the_version_and_link_of_an_answer(
    browser: TestClient, api_key: str
) -> None:
    response = browser.post("/v1/embeddings", json=EMBED, headers={**bearer(api_key), "Origin": ORIGIN})

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"x-steward-model-version", "link"} <= exposed(response.headers)
    assert response.headers["x-steward-model-version"]


def test_a_refusal_by_the_app_is_readable_by_the_allowed_origin_too(
    browser: TestClient, api_key: str
) -> None:
    # (API Gateway's own refusals, 401 without a key, carry the headers by its gateway responses)
    response = browser.post(
        "/v1/embeddings",
        json={"model": "not-yours", "input": "x"},
        headers={**bearer(api_key), "Origin": ORIGIN},
    )

    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_another_origin_gets_no_cors_headers(browser: TestClient, api_key: str) -> None:
    response = browser.post(
        "/v1/embeddings",
        json=EMBED,
        headers={**bearer(api_key), "Origin": "https://evil.example.net"},
    )

    assert "access-control-allow-origin" not in response.headers


def test_without_origins_there_are_no_cors_headers(
    settings: ApiSettings, use_cases: Api, authorizer: Authorizer, api_key: str
) -> None:
    with app_client(settings, use_cases, authorizer, "") as client:
        response = client.post("/v1/embeddings", json=EMBED, headers={**bearer(api_key), "Origin": ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("origins", ["*", "http://app.example.com", "https://a.example.com,*"])
def test_wildcards_and_plain_http_origins_are_refused_at_cold_start(origins: str) -> None:
    with pytest.raises(ValueError, match="exact https origins"):
        CorsSettings(allow_origins=origins)
