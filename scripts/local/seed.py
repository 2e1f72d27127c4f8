"""Seed the local stack: register the built models; a demo tenant with a key and an admin key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from steward.admin import create_api_key, register_from_manifest

DEMO_TENANT = "demo"


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    api_key: str
    admin_key: str
    models: list[str]


def manifests(model_repository: Path) -> list[dict[str, object]]:
    """Every ``<name>/<version>/manifest.json`` in the repository, oldest version first."""
    found = []
    for path in sorted(model_repository.glob("*/*/manifest.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # the backend reports broken models itself; nothing to register
    return found


def seed(model_repository: Path, backend_url: str) -> Seeded:
    """Register every model version as served by the local backend; mint the demo key."""
    names: list[str] = []
    for manifest in manifests(model_repository):
        register_from_manifest(manifest, target={"kind": "http", "url": backend_url})
        if str(manifest["name"]) not in names:
            names.append(str(manifest["name"]))
    token, _record = create_api_key(DEMO_TENANT, models=["*"], name="demo key (local stack)")
    admin, _record = create_api_key(
        DEMO_TENANT, models=["*"], admin=True, name="demo admin key (local stack)"
    )
    return Seeded(tenant_id=DEMO_TENANT, api_key=token, admin_key=admin, models=names)
