"""What the inference image can hold: its build context, as CDK stages it and as `docker build` sends it.

The runtime stage copies only `gpu_backend/` out of the context, so what the context leaves out
(the model build, the benchmark, tests, scripts, the environment) cannot reach the serving image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from docker.utils.build import exclude_paths

from cdk.paths import GPU_BACKEND_DOCKERFILE, REPO_ROOT

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

DOCKERIGNORE = REPO_ROOT / f"{GPU_BACKEND_DOCKERFILE}.dockerignore"
#: Served modules the context must hold (an empty or misplaced context fails here, not at deploy).
SERVED = {
    "gpu_backend/__main__.py",
    "gpu_backend/server.py",
    "gpu_backend/models/base.py",
    "gpu_backend/manifest.py",
}
#: The build stage reads these to install the locked dependencies; the runtime stage never copies them.
BUILD_INPUTS = {"pyproject.toml", "uv.lock", "README.md"}
DEV_ONLY = re.compile(
    r"^(gpu_backend/build/|gpu_backend/bench\.py$|tests/|scripts/|\.venv/|models/)"
    r"|(^|/)(test_[^/]*\.py|[^/]*_test\.py|conftest\.py)$"
)


def dev_only(files: set[str]) -> list[str]:
    return sorted(f for f in files if DEV_ONLY.search(f))


def staged_image_context(synth: Synth) -> set[str]:
    """Every file of the image asset CDK staged into the cloud assembly (the deploy-time context)."""
    outdir = Path(synth.app.synth().directory)
    images = [
        image
        for assets in outdir.glob("*.assets.json")
        for image in json.loads(assets.read_text()).get("dockerImages", {}).values()
    ]
    assert len(images) == 1, images
    root = outdir / images[0]["source"]["directory"]
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def docker_build_context() -> set[str]:
    """Every file `docker build -f gpu_backend/Dockerfile .` sends from the repository root."""
    rules = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    paths = exclude_paths(str(REPO_ROOT), rules, dockerfile=GPU_BACKEND_DOCKERFILE)
    return {p for p in paths if (REPO_ROOT / p).is_file()}


def test_the_staged_image_context_holds_serving_code_only(synth: Synth) -> None:
    # Given the image asset as `cdk synth` stages it
    files = staged_image_context(synth)
    # Then it holds the served package and the dependency lock, and no build, benchmark or test code
    assert files >= SERVED
    assert dev_only(files) == []
    assert {f for f in files if not f.startswith("gpu_backend/")} == BUILD_INPUTS


def test_docker_build_sends_the_same_context_as_cdk_stages(synth: Synth) -> None:
    # Given the context a local `docker build` sends (BuildKit reads the Dockerfile's .dockerignore)
    files = docker_build_context()
    # Then it is the staged asset less the ignore file itself, free of development code
    assert files >= SERVED
    assert dev_only(files) == []
    assert files == staged_image_context(synth) - {DOCKERIGNORE.relative_to(REPO_ROOT).as_posix()}


def test_the_runtime_stage_copies_only_the_served_package() -> None:
    # Given the Dockerfile's last stage (the image that runs)
    dockerfile = (REPO_ROOT / GPU_BACKEND_DOCKERFILE).read_text()
    runtime = dockerfile.split("\nFROM ")[-1]
    # When its COPY instructions that read the context are listed
    sources = [
        line.split()[1:-1]
        for line in runtime.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    # Then the only thing taken from the context is gpu_backend/
    assert sources == [["gpu_backend/"]]
