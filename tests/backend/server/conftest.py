"""Fixtures for the inference server tests: a repository of tiny models (good and bad) and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import build_tiny_repository, cpu_settings, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.server import create_app


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_repository(tmp_path_factory.mktemp("tiny-repository"))


@pytest.fixture
def client(tiny_repository: Path) -> Iterator[TestClient]:
    app = create_app(cpu_settings(tiny_repository))
    with TestClient(app) as test_client:
        wait_until_loaded(test_client)
        yield test_client
