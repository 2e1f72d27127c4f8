"""Shared backend fixtures: one model repository per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_REPOSITORY = REPO_ROOT / "models"


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<repo>/models`` when ``make models`` finished it (``.complete``), else a fresh build in a tmp dir."""
    if (DEFAULT_MODEL_REPOSITORY / ".complete").is_file():
        return DEFAULT_MODEL_REPOSITORY
    from gpu_backend.build.registry import build_models

    output = tmp_path_factory.mktemp("models")
    build_models(output)
    return output
