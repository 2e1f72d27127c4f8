"""Publishing one model version: verify it on disk, copy it to the stage's model repository, then
register it (``steward models publish``).

The order is the guarantee. Every artifact's sha256 and size are checked against the manifest
before anything is uploaded, so a corrupt or tampered directory never reaches the bucket; each
object is checked again after upload (the store reports the digest S3 computed); the version is
registered only once all of it is in place, so the registry never routes to files that are not
there. Re-publishing identical content is a no-op upload; different bytes under a version already
in the repository are refused: a version names one set of bytes, forever.

No AWS here: the repository is the `ArtifactStore` port (`steward.adapters.object_store`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from steward.catalog.names import NAME_PATTERN as NAME_PATTERN
from steward.catalog.names import check_name as check_name
from steward.errors import InvalidInput, StewardError

MANIFEST_FILE = "manifest.json"
#: The endpoint's model repository in the artifacts bucket (`cdk.inference.MODELS_PREFIX`).
MODELS_PREFIX = "models/"
#: Model and version names: conservative, so each is one safe S3 key segment and header value.
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class ArtifactIntegrity(StewardError):
    """A file is missing, or its bytes differ from what the manifest (or the upload) says."""

    status, code, title = 422, "artifact.integrity", "Artifact integrity check failed"
    default_detail = "An artifact does not match its manifest."


class ArtifactConflict(StewardError):
    """The repository already holds different bytes under this model version."""

    status, code, title = 409, "artifact.conflict", "Model version already published"
    default_detail = "The model version is already published with different content."


@dataclass(frozen=True)
class Artifact:
    """One file of a version: its name in the manifest, where it is on disk, its digest."""

    name: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class VersionDirectory:
    """A verified ``<name>/<version>/`` directory: the manifest (bytes as read) and its artifacts."""

    name: str
    version: str
    manifest: Mapping[str, Any]
    manifest_bytes: bytes
    artifacts: tuple[Artifact, ...]

    @property
    def prefix(self) -> str:
        return f"{MODELS_PREFIX}{self.name}/{self.version}/"

    def objects(self) -> list[tuple[str, Path | bytes, str]]:
        """``(key, source, sha256)`` of everything uploaded: the artifacts, then the manifest (last,
        so a reader that sees the manifest finds every file it lists)."""
        listed: list[tuple[str, Path | bytes, str]] = [
            (self.prefix + a.name, a.path, a.sha256) for a in self.artifacts
        ]
        manifest_digest = hashlib.sha256(self.manifest_bytes).hexdigest()
        listed.append((self.prefix + MANIFEST_FILE, self.manifest_bytes, manifest_digest))
        return listed


class ArtifactStore(Protocol):
    """The stage's model repository (an S3 bucket)."""

    def stored_sha256(self, key: str) -> str | None:
        """Hex sha256 of the object at ``key`` as the store recorded it; None if there is none."""
        ...

    def upload(self, key: str, source: Path | bytes, sha256: str) -> str:
        """Store ``source`` at ``key``, asking the store to verify ``sha256``; the hex sha256 the
        store reports for what it now holds."""
        ...


@dataclass(frozen=True)
class PublishResult:
    """What a publish did: the version, its prefix, which keys were uploaded or already there."""

    name: str
    version: str
    prefix: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_version_directory(directory: Path) -> VersionDirectory:
    """Read and verify ``directory`` (``<name>/<version>/``) against its manifest.

    The manifest names the version (and must match the directory's own two names, so a copied
    directory can't publish under another name); every listed artifact must exist inside the
    directory with the listed size and sha256. Any failure names the file, never its content.
    """
    manifest_path = directory / MANIFEST_FILE
    try:
        manifest_bytes = manifest_path.read_bytes()
    except OSError:
        raise ArtifactIntegrity(f"{manifest_path} is missing or unreadable.") from None
    try:
        manifest = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput(f"{manifest_path} is not valid JSON.") from None
    if not isinstance(manifest, dict):
        raise InvalidInput(f"{manifest_path} must be a JSON object.")
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise InvalidInput(f"{manifest_path} needs string 'name' and 'version'.")
    check_name(name, "model")
    check_name(version, "version")
    resolved = directory.resolve()
    if (resolved.parent.name, resolved.name) != (name, version):
        raise InvalidInput(
            f"{directory} must be the manifest's <name>/<version> directory ({name}/{version})."
        )
    return VersionDirectory(
        name=name,
        version=version,
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        artifacts=tuple(_verified(resolved, file, entry) for file, entry in _listed(manifest, manifest_path)),
    )


def _listed(manifest: Mapping[str, Any], where: Path) -> list[tuple[str, Any]]:
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict) or not artifacts:
        raise InvalidInput(f"{where} lists no artifacts.")
    return sorted(artifacts.items())


def _verified(root: Path, file: str, entry: Any) -> Artifact:
    """One artifact, checked: a relative path inside ``root``, present, listed size and sha256."""
    relative = PurePosixPath(file)
    if (
        not file
        or relative.is_absolute()
        or ".." in relative.parts
        or "\\" in file
        or relative.name == MANIFEST_FILE
    ):
        raise InvalidInput(f"artifact {file!r} must be a relative path inside the version directory.")
    if not isinstance(entry, dict):
        raise InvalidInput(f"artifact {file!r} needs 'sha256' and 'bytes' in the manifest.")
    expected, size = entry.get("sha256"), entry.get("bytes")
    if not isinstance(expected, str) or not _SHA256.fullmatch(expected.lower()):
        raise InvalidInput(f"artifact {file!r}: the manifest's sha256 must be 64 hex digits.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"artifact {file!r}: the manifest's bytes must be a whole number.")
    path = root / relative
    if not path.is_file() or path.is_symlink():
        raise ArtifactIntegrity(f"artifact {file!r} is listed in the manifest but missing.")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ArtifactIntegrity(
            f"artifact {file!r} is {actual_size} bytes; the manifest says {size}. Nothing was uploaded."
        )
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ArtifactIntegrity(
            f"artifact {file!r} has sha256 {actual}; the manifest says {expected.lower()}. "
            "Nothing was uploaded."
        )
    return Artifact(name=file, path=path, sha256=actual, size=size)


class Publisher:
    """Copies a verified version into the repository: all or nothing new, never an overwrite."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def publish(self, version: VersionDirectory) -> PublishResult:
        """Upload what is missing after checking nothing differs; verify each upload."""
        planned = version.objects()
        present = {key: self._store.stored_sha256(key) for key, _, _ in planned}
        differing = [key for key, _, digest in planned if present[key] not in (None, digest)]
        if differing:
            raise ArtifactConflict(
                f"{version.name}@{version.version} is already published with different content "
                f"({', '.join(k.removeprefix(version.prefix) for k in differing)}); publish a new "
                "version instead."
            )
        uploaded: list[str] = []
        for key, source, digest in planned:
            if present[key] == digest:
                continue
            stored = self._store.upload(key, source, digest)
            if stored != digest:
                raise ArtifactIntegrity(
                    f"{key} was stored with sha256 {stored or 'unknown'}, not {digest}; the version "
                    "is not registered."
                )
            uploaded.append(key)
        unchanged = tuple(key for key, _, _ in planned if key not in uploaded)
        return PublishResult(
            name=version.name,
            version=version.version,
            prefix=version.prefix,
            uploaded=tuple(uploaded),
            unchanged=unchanged,
        )
