"""Seed the local stack: register the built models; a demo tenant with a key and an admin key.

Each model's oldest version is its default. Newer versions (credit-risk@2, the reweighed one)
are registered as their manifests say (approved) but take no traffic until an admin makes one
the default, so the routed version of a model never changes just because a build added one.
"""

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


def _version_order(path: Path) -> tuple[str, int, str]:
    """Model name, then numeric versions in number order (``2`` before ``10``), others first."""
    version = path.parent.name
    return (path.parent.parent.name, int(version) if version.isdigit() else -1, version)


def manifests(model_repository: Path) -> list[dict[str, object]]:
    """Every ``<name>/<version>/manifest.json`` in the repository, oldest version first."""
    found = []
    for path in sorted(model_repository.glob("*/*/manifest.json"), key=_version_order):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # the backend reports broken models itself; nothing to register
    return found


def seed(model_repository: Path, backend_url: str) -> Seeded:
    """Register every model version as served by the local backend; mint the demo key.

    Only the first (oldest) version of each model is registered with ``make_default``; later
    approved ones keep that default (`steward.catalog.approval.register_version`).
    """
    names: list[str] = []
    for manifest in manifests(model_repository):
        name = str(manifest["name"])
        first = name not in names
        register_from_manifest(manifest, target={"kind": "http", "url": backend_url}, make_default=first)
        if first:
            names.append(name)
    token, _record = create_api_key(DEMO_TENANT, models=["*"], name="demo key (local stack)")
    admin, _record = create_api_key(
        DEMO_TENANT, models=["*"], admin=True, name="demo admin key (local stack)"
    )
    return Seeded(tenant_id=DEMO_TENANT, api_key=token, admin_key=admin, models=names)
