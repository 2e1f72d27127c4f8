"""A model's version history: what happened to which version, who did it, when, and why.

Events are written with the change they record (`steward.catalog.approval.RegistryWriter.commit`),
so the history and the registry never disagree. ``details`` holds routing numbers and version
names only; *why* is a reason code (`steward.catalog.lifecycle.LIFECYCLE_REASONS`), never text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: History entries read at once (newest first).
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class VersionEvent:
    """One step in a model's version history; ``details`` holds routing numbers only."""

    at: int
    event: str
    version: str
    actor: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "event": self.event,
            "version": self.version,
            "actor": self.actor,
            "reason": self.reason,
            "details": dict(self.details),
        }
