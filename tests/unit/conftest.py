"""Unit fixtures: the whole governed path wired to in-memory ports (no sockets, no AWS)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from steward import admin, bootstrap
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.bootstrap import AdminAudit, Api, compose_api
from steward.catalog.registry import Registry
from steward.review.service import ReviewService
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FAKE_AUDIT_PEPPER,
    FakeEncryptor,
    FakeTransport,
    InMemoryAuditStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    InMemoryReviewStore,
    InMemoryServingStatsStore,
    demo_model,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"
PEPPER = b"unit-test-pepper-0123456789abcdef"
MINILM = "all-minilm-l6-v2"
CREDIT = "credit-risk"
#: The AWS identity the CLI runs as in unit tests (an IAM user: it names a person).
OPERATOR_ARN = "arn:aws:iam::123456789012:user/alice.operator"


def load_event(name: str, **replacements: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    for key, value in replacements.items():
        text = text.replace("{{" + key + "}}", value)
    event: dict[str, Any] = json.loads(text)
    return event


@pytest.fixture
def settings() -> ApiSettings:
    return ApiSettings(stage="test", pepper=PEPPER.decode())


@pytest.fixture
def key_store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def registry_store() -> InMemoryRegistryStore:
    store = InMemoryRegistryStore()
    for entry, version in (demo_model(MINILM), demo_model(CREDIT, task="tabular-classification")):
        store.put_entry(entry)
        store.put_version(version)
    return store


@pytest.fixture
def audit_store() -> InMemoryAuditStore:
    return InMemoryAuditStore()


@pytest.fixture
def cli_audit(monkeypatch: pytest.MonkeyPatch) -> InMemoryAuditStore:
    """Where the ``steward`` CLI writes its own audit records: an in-memory chained table, keyed
    by the pepper its chain uses (as on a stage, one pepper for both), run as `OPERATOR_ARN`."""
    store = InMemoryAuditStore()
    ports = AdminAudit(store, lambda: FAKE_AUDIT_PEPPER, lambda: OPERATOR_ARN, retention_days=400)
    monkeypatch.setattr(bootstrap, "build_admin_audit", lambda settings: ports)
    return store


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def review_store() -> InMemoryReviewStore:
    return InMemoryReviewStore()


def review_queue(store: InMemoryReviewStore, keys: KeyLifecycle | None = None) -> ReviewService:
    """The review queue over ``store``, texts sealed by a fake key service (bound to the context)."""
    encryptor = FakeEncryptor()
    return ReviewService(store, lambda _tenant: encryptor, lambda: PEPPER, keys=keys)


@pytest.fixture
def use_cases(
    registry_store: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    transport: FakeTransport,
    sleeps: list[float],
    key_store: InMemoryKeyStore,
    review_store: InMemoryReviewStore,
) -> Api:
    router = Router({"http": transport}, RouterPolicy(breaker_threshold=2), sleep=sleeps.append)
    keys = KeyLifecycle(key_store, lambda: PEPPER)  # the admin key routes, over the authorizer's store
    reviews = review_queue(review_store, keys)
    return compose_api(
        Registry(registry_store),
        router,
        audit_store,
        keys=keys,
        reviews=reviews,
        serving_stats=InMemoryServingStatsStore(),
    )


@pytest.fixture
def authorizer(key_store: InMemoryKeyStore) -> Authorizer:
    return Authorizer(key_store, lambda: PEPPER)


@pytest.fixture
def make_key(key_store: InMemoryKeyStore, settings: ApiSettings) -> Callable[..., str]:
    def make(tenant: str = "acme", models: tuple[str, ...] = ("*",), **kwargs: Any) -> str:
        token, _ = admin.create_api_key(
            tenant, models=models, settings=settings, store=key_store, pepper=lambda: PEPPER, **kwargs
        )
        return token

    return make


@pytest.fixture
def api_key(make_key: Callable[..., str]) -> str:
    return make_key("acme", (MINILM,))


@pytest.fixture
def client(settings: ApiSettings, use_cases: Api, authorizer: Authorizer) -> Iterator[TestClient]:
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
