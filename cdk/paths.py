"""Repository paths the constructs package as assets (absolute, so synth works from any cwd)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
STEWARD_LAYER_DIR = REPO_ROOT / "layers" / "steward"
DEPS_LAYER_SOURCE_DIR = REPO_ROOT / "layers" / "deps"
DEPS_LAYER_BUILD_DIR = REPO_ROOT / ".build" / "layers" / "deps"
GPU_BACKEND_DOCKERFILE = "gpu_backend/Dockerfile"  # relative to REPO_ROOT, the build context

# Never part of any asset: caches, local state, build outputs and the environment itself.
ALWAYS_EXCLUDED = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache"]
