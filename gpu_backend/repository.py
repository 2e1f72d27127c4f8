"""Model repository: discover `<root>/<name>/<version>/` directories and verify their artifacts.

An artifact whose size or sha256 differs from its manifest raises `ModelLoadError` with a reason
a person can act on. Verified artifacts are returned as bytes, so what the runtime loads is
exactly what was hashed (no check-then-reopen window). The manifest itself (types, parsing) is
`gpu_backend.manifest`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import Artifact, Manifest, ModelSource


def verify_artifact(version_dir: Path, file_name: str, expected: Artifact) -> bytes:
    """Return the artifact's bytes if its size and sha256 match the manifest, else refuse."""
    path = version_dir / file_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"artifact {file_name!r} is listed in the manifest but missing") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read artifact {file_name!r}: {exc.strerror}") from None
    if len(data) != expected.size:
        raise ModelLoadError(
            f"integrity check failed for {file_name!r}: {len(data)} bytes on disk, "
            f"manifest says {expected.size}"
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.sha256:
        raise ModelLoadError(
            f"integrity check failed for {file_name!r}: sha256 {actual} does not match the manifest's "
            f"{expected.sha256}"
        )
    return data


def verify_all(manifest: Manifest, version_dir: Path) -> dict[str, bytes]:
    """Verify every listed artifact (also ones this device will not use): a tampered file is refused."""
    return {name: verify_artifact(version_dir, name, art) for name, art in sorted(manifest.artifacts.items())}


def discover(root: Path) -> list[ModelSource]:
    """List `<name>/<version>` directories; hidden entries and loose files (e.g. `.complete`) are skipped."""
    if not root.is_dir():
        raise FileNotFoundError(f"model repository {root} is not a directory")
    sources: list[ModelSource] = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for version_dir in sorted(
            p for p in model_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            sources.append(ModelSource(name=model_dir.name, version=version_dir.name, path=version_dir))
    return sources


def version_key(version: str) -> tuple[int, str]:
    """Sort key that puts the newest numeric version last."""
    return (int(version), version) if version.isdigit() else (-1, version)
