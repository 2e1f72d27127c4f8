"""Fairness groups at rest: a keyed hash per tenant, and the label set a tenant admin declares.

A caller's ``parameters.group`` value is personal data (it describes the person behind the row),
so it is never stored. Only values the tenant's admin declared beforehand are accepted; each is
stored as ``HMAC(tenant group key, label)`` in counters and join items. The tenant key is derived
from the pepper (as `steward.privacy.guard.tenant_hash_key`, with its own label): nothing new to
manage, stable per tenant, different across tenants (no cross-tenant linkage of counters) and
useless without the pepper. The declared set keeps ``token -> label`` for every label ever
declared, so reports stay readable without the report function ever holding the pepper.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from steward.errors import InvalidInput

GROUP_KEY_LABEL = b"steward-fairness-group:"
#: Hex digits kept of the HMAC-SHA256 (128 bits: no collision among a tenant's few labels).
TOKEN_HEX = 32
MAX_LABELS = 64
MAX_LABEL_LENGTH = 64

Label = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_LABEL_LENGTH, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    ),
]


def tenant_group_key(pepper: bytes, tenant_id: str) -> bytes:
    """The tenant's key for group tokens: HMAC(pepper, label + tenant)."""
    return hmac.new(pepper, GROUP_KEY_LABEL + tenant_id.encode(), hashlib.sha256).digest()


def group_token(key: bytes, label: str) -> str:
    """What is stored for a group: a keyed hash, fixed length, lowercase hex."""
    return hmac.new(key, label.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def is_token(value: str) -> bool:
    return len(value) == TOKEN_HEX and all(c in "0123456789abcdef" for c in value)


class GroupDeclaration(BaseModel):
    """``PUT /admin/fairness/{tenant}/groups``: the complete set of accepted labels."""

    model_config = ConfigDict(extra="forbid", strict=True)
    labels: list[Label] = Field(max_length=MAX_LABELS)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels


def parse_declaration(document: Any) -> list[str]:
    """The declared labels, or `InvalidInput` naming only locations (never the caller's text)."""
    try:
        return GroupDeclaration.model_validate(document).labels
    except ValidationError as error:
        # Only the known field name: an extra key is the caller's text and is not echoed.
        problems = sorted({"labels" if e["loc"][:1] == ("labels",) else "body" for e in error.errors()})
        raise InvalidInput(
            f'Send {{"labels": [...]}}: at most {MAX_LABELS} unique labels of 1 to {MAX_LABEL_LENGTH} '
            f"printable characters (problem at: {', '.join(problems)})."
        ) from None


@dataclass(frozen=True)
class GroupLabels:
    """A tenant's declared labels; ``names`` maps the token of every label ever declared to it."""

    tenant_id: str
    labels: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    revision: int = 0
    updated_at: str = ""
    updated_by: str = ""

    def display_name(self, token: str) -> str:
        """The declared label of a stored token; the token itself if it was never declared."""
        return self.names.get(token, token)

    def view(self) -> dict[str, Any]:
        """What the admin route answers: the labels, never the tokens (they are key material-ish)."""
        return {
            "object": "fairness.groups",
            "tenant_id": self.tenant_id,
            "labels": list(self.labels),
            "revision": self.revision,
            "updated_at": self.updated_at or None,
            "updated_by": self.updated_by or None,
        }
