"""Privacy policy per tenant and model: which types, which operator, which direction, threshold.

Policies are versioned documents (admin API, stored per tenant); the version used is recorded in
the audit record. A missing policy means :func:`default_policy`, never "no checks".
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from steward.privacy.entities import ENTITY_TYPES, SECRET_TYPES
from steward.privacy.errors import PolicyError

DEFAULT_THRESHOLD = 0.5


class Operator(StrEnum):
    PLACEHOLDER = "placeholder"  # <PERSON_1>, restored in the model's output
    REDACT = "redact"  # <PERSON>, gone for good
    MASK = "mask"  # ************1111
    HASH = "hash"  # <PERSON#9f86d081884c7d65>, HMAC-SHA256 under the tenant's key
    ENCRYPT = "encrypt"  # <ENC:PERSON:...>, envelope-encrypted under the tenant's data key
    BLOCK = "block"  # refuse the request with pii.blocked
    KEEP = "keep"  # detected and counted, left as is


class Direction(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


class DetectionPath(StrEnum):
    FAST = "fast"  # lists + cues in the Lambda
    DEEP = "deep"  # token-classification model on the backend for PERSON/LOCATION/STREET_ADDRESS


_BOTH = frozenset({Direction.INPUT, Direction.OUTPUT})


class EntityRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: Operator = Operator.PLACEHOLDER
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    apply_to: frozenset[Direction] = _BOTH
    mask_keep_last: int = Field(default=4, ge=0, le=32)
    mask_char: str = Field(default="*", min_length=1, max_length=1)


class PrivacyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    version: int = Field(default=1, ge=1)
    tenant_id: str | None = None
    model: str | None = None
    detection_path: DetectionPath = DetectionPath.FAST
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    entities: dict[str, EntityRule] = Field(default_factory=dict)
    restore_output: bool = True

    @field_validator("entities")
    @classmethod
    def _known_types(cls, value: dict[str, EntityRule]) -> dict[str, EntityRule]:
        unknown = sorted(set(value) - ENTITY_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {', '.join(unknown)}")
        return value

    @property
    def policy_id(self) -> str:
        scope = f"{self.tenant_id or '*'}/{self.model or '*'}"
        return f"{scope}@v{self.version}"

    def rule_for(self, entity_type: str, direction: Direction) -> EntityRule | None:
        rule = self.entities.get(entity_type)
        if rule is None or direction not in rule.apply_to:
            return None
        return rule

    def types_for(self, direction: Direction) -> frozenset[str]:
        return frozenset(t for t, r in self.entities.items() if direction in r.apply_to)

    def threshold_for(self, entity_type: str) -> float:
        rule = self.entities.get(entity_type)
        return self.threshold if rule is None or rule.threshold is None else rule.threshold


def default_policy(tenant_id: str | None = None, model: str | None = None) -> PrivacyPolicy:
    """Every PII type pseudonymised both ways; every secret removed for good."""
    entities = {t: EntityRule() for t in ENTITY_TYPES - SECRET_TYPES}
    entities.update({t: EntityRule(operator=Operator.REDACT) for t in SECRET_TYPES})
    return PrivacyPolicy(version=1, tenant_id=tenant_id, model=model, entities=entities)


def parse_policy(document: object) -> PrivacyPolicy:
    """Validate an admin-supplied policy document; errors name fields, never values."""
    try:
        return PrivacyPolicy.model_validate(document)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise PolicyError("Invalid privacy policy fields: " + ", ".join(fields)) from None


def select_policy(policies: Iterable[PrivacyPolicy], tenant_id: str, model: str | None) -> PrivacyPolicy:
    """Most specific wins (tenant+model, then tenant, then global), newest version within a scope."""
    best: PrivacyPolicy | None = None
    best_key: tuple[int, int] = (-1, -1)
    for p in policies:
        if p.tenant_id not in (None, tenant_id) or p.model not in (None, model):
            continue
        key = ((p.tenant_id is not None) * 2 + (p.model is not None), p.version)
        if key > best_key:
            best, best_key = p, key
    return best if best is not None else default_policy(tenant_id, model)
