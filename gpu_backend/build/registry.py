"""Which models the build knows, and the atomic build-or-skip loop that writes them.

A model is built in a staging directory next to its destination and renamed into place only
after its manifest (written last) is complete, so an interrupted build never leaves a directory
that looks like a valid model version. An existing version whose digests verify is skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gpu_backend.build.manifest import verify_model_dir, write_manifest
from gpu_backend.build.options import BuildOptions

Builder = Callable[[Path, BuildOptions], dict[str, Any]]
STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    builder: Builder


@dataclass(frozen=True)
class BuildResult:
    name: str
    version: str
    status: Literal["built", "skipped"]
    seconds: float
    path: Path


def _minilm(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    from gpu_backend.build import minilm

    return minilm.build(model_dir, options)


def _pii_ner(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    from gpu_backend.build import pii_ner

    return pii_ner.build(model_dir, options)


def _tabular(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    from gpu_backend.build import tabular

    return tabular.build(model_dir, options)


def _tabular_reweighed(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    from gpu_backend.build import tabular

    return tabular.build_reweighed(model_dir, options)


# Names and versions are repeated here (not imported) so listing models stays import-light.
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("all-minilm-l6-v2", "1", _minilm),
    ModelSpec("credit-risk", "1", _tabular),
    ModelSpec("credit-risk", "2", _tabular_reweighed),
    ModelSpec("pii-ner", "1", _pii_ner),
)
#: Every shipped version of each model, oldest first.
MODELS: dict[str, tuple[ModelSpec, ...]] = {
    name: tuple(spec for spec in SPECS if spec.name == name) for name in dict.fromkeys(s.name for s in SPECS)
}


def model_names() -> list[str]:
    return list(MODELS)


def select(selectors: list[str]) -> list[ModelSpec]:
    """``name`` selects every version of a model, ``name@version`` one; unknown ones raise ``KeyError``."""
    selected: list[ModelSpec] = []
    unknown: list[str] = []
    for selector in selectors:
        name, _, version = selector.partition("@")
        specs = [spec for spec in MODELS.get(name, ()) if not version or spec.version == version]
        if not specs:
            unknown.append(selector)
        selected.extend(spec for spec in specs if spec not in selected)
    if unknown:
        known = [f"{spec.name}@{spec.version}" for spec in SPECS]
        raise KeyError(f"unknown model(s) {unknown}; known: {model_names()} (versions {known})")
    return selected


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(output: Path) -> None:
    """Delete staging and moved-aside dirs left by builds that were killed (their pid is gone)."""
    for path in [*output.glob(f"{STAGING_PREFIX}*"), *output.glob(f"*/{OLD_PREFIX}*")]:
        pid_text = path.name.rsplit("-", 2)[-2] if path.name.count("-") >= 3 else ""
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging``; the old version is moved aside first, then deleted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old: Path | None = None
    if target.exists():
        old = target.with_name(f"{OLD_PREFIX}{target.name}-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _attach_drift_reference(model_dir: Path, manifest: dict[str, Any]) -> None:
    """Every manifest gets its drift reference (`gpu_backend.build.drift_reference`)."""
    from gpu_backend.build import drift_reference

    drift_reference.attach(model_dir, manifest)


def build_one(spec: ModelSpec, output: Path, options: BuildOptions, *, force: bool = False) -> BuildResult:
    """Build one model version unless an intact copy is already there."""
    started = time.perf_counter()
    target = output / spec.name / spec.version
    if not force and target.is_dir() and not verify_model_dir(target):
        return BuildResult(spec.name, spec.version, "skipped", time.perf_counter() - started, target)
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{spec.name}-{spec.version}-{os.getpid()}-", dir=output)
    )
    try:
        manifest = spec.builder(staging, options)
        if manifest["name"] != spec.name or manifest["version"] != spec.version:
            raise RuntimeError(f"builder for {spec.name} wrote {manifest['name']}@{manifest['version']}")
        _attach_drift_reference(staging, manifest)
        for leftover in staging.glob("*.tmp"):
            leftover.unlink()
        write_manifest(staging, manifest)
        problems = verify_model_dir(staging)
        if problems:
            raise RuntimeError(f"{spec.name}@{spec.version} failed verification: {problems}")
        staging.chmod(0o755)  # mkdtemp makes it 0700; the server may run as another user
        _swap_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(spec.name, spec.version, "built", time.perf_counter() - started, target)


def build_models(
    output: Path,
    names: list[str] | None = None,
    *,
    force: bool = False,
    options: BuildOptions | None = None,
) -> list[BuildResult]:
    """Build the named models (default: all) into ``output``; see `select` for the name forms."""
    selected = select(names or model_names())
    output.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        _remove_stale_staging(output)
    return [build_one(spec, output, options or BuildOptions(), force=force) for spec in selected]
