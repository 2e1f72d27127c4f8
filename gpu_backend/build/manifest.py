"""Manifest writing and verification (schema_version 1 of ``docs/contracts.md``).

The server has its own reader; this module only writes what the contract says and offers a
``verify_model_dir`` check so the build can skip models that are already intact.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
CARD_FIELDS = (
    "description",
    "intended_use",
    "out_of_scope_uses",
    "training_data",
    "evaluation",
    "fairness",
    "limitations",
    "owner",
    "license",
)
REQUIRED_KEYS = (
    "schema_version",
    "name",
    "version",
    "task",
    "platform",
    "model_file",
    "fp16_model_file",
    "artifacts",
    "inputs",
    "outputs",
    "preprocessing",
    "postprocessing",
    "batching",
    "allow_non_finite",
    "approval",
    "card",
)
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed so large ONNX files are not read into memory at once."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_entries(model_dir: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    """The ``artifacts`` block: sha256 and size of every file the server will read."""
    return {
        name: {"sha256": sha256_file(model_dir / name), "bytes": (model_dir / name).stat().st_size}
        for name in sorted(files)
    }


def write_manifest(model_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` last, after the artifacts, so its presence implies they are complete."""
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ValueError(f"manifest lacks {missing}")
    path = model_dir / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """Parse a manifest; raises ``ValueError`` when it is not a JSON object."""
    data = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("manifest is not a JSON object")
    return data


def _referenced_files(manifest: dict[str, Any]) -> list[str]:
    """Files the manifest points at outside ``artifacts``; each must also be listed there."""
    refs = [manifest.get("model_file"), manifest.get("fp16_model_file")]
    refs.append((manifest.get("preprocessing") or {}).get("tokenizer"))
    refs.append((manifest.get("explain") or {}).get("background"))
    ensemble = (manifest.get("postprocessing") or {}).get("ensemble") or {}
    refs.extend([ensemble.get("config"), ensemble.get("pipeline")])
    return [ref for ref in refs if isinstance(ref, str)]


def verify_model_dir(model_dir: Path) -> list[str]:
    """Problems that make a model version unloadable (empty list when intact).

    Checks the manifest shape, that every artifact exists with the recorded size and sha256, and
    that every file the manifest references is a listed artifact.
    """
    if not (model_dir / MANIFEST_FILE).is_file():
        return [f"{MANIFEST_FILE} missing"]
    try:
        manifest = read_manifest(model_dir)
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST_FILE} unreadable: {exc}"]
    problems = [f"manifest lacks '{key}'" for key in REQUIRED_KEYS if key not in manifest]
    if manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version is not {SCHEMA_VERSION}")
    card = manifest.get("card")
    if not isinstance(card, dict) or any(field not in card for field in CARD_FIELDS):
        problems.append("card fields incomplete")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict) or not artifacts:
        return [*problems, "artifacts missing or empty"]
    for ref in _referenced_files(manifest):
        if ref not in artifacts:
            problems.append(f"{ref} referenced but not in artifacts")
    for name, entry in sorted(artifacts.items()):
        path = model_dir / name
        if not isinstance(entry, dict) or "sha256" not in entry or "bytes" not in entry:
            problems.append(f"{name}: artifact entry malformed")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{name}: size {path.stat().st_size} != {entry['bytes']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{name}: sha256 mismatch")
    return problems


def text_batching() -> dict[str, Any]:
    """Dynamic batching for the BERT-sized text models: sentence-length buckets, 2 ms delay.

    One definition so the embedding and token-classification models batch alike.
    """
    return {
        "max_batch_size": 64,
        "max_queue_delay_ms": 2,
        "preferred_batch_sizes": [8, 16, 32, 64],
        "max_queue_size": 1024,
        "request_timeout_ms": 10000,
        "sequence_buckets": [16, 32, 64, 128, 256],
    }
