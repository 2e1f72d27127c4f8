"""Privacy policy per tenant and model: which types, which operator, which direction, threshold.

Policies are versioned documents (admin API, stored per tenant); the version used is recorded in
the audit record. A missing policy means :func:`default_policy`, never "no checks".

A stored document is a *layer over the built-in default* (:func:`layered`), never a replacement:
every field it leaves out keeps the built-in value, every entity type it does not name keeps the
built-in rule. What a tenant may change is bounded:

- PII types: any operator, threshold or direction, but only by naming the type. ``keep`` (detected,
  counted in the audit, left as is) is the explicit, versioned way to let a type through. So the
  policy-wide ``threshold`` may only be lowered (raised, it would drop every unnamed type's
  findings, uncounted: at 1.0 names, phone numbers and addresses passed), and a rule applies to
  at least one direction (``apply_to: []`` switched a type off uncounted). Such a document is
  refused (``pii.policy_invalid``); one stored before this rule is read back with the threshold at
  the default and an empty ``apply_to`` as ``keep`` (the value still passes, now counted).
- Secret types (:data:`SECRET_TYPES`): only operators that never let the value through
  (:data:`SECRET_OPERATORS`), both directions, threshold at most :data:`DEFAULT_THRESHOLD`. A
  document that asks for less is refused (``pii.policy_invalid``); a stored one read back (written
  before this rule) gets the built-in secret rule instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    ValidationError,
    field_validator,
)

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


# Documents arrive as JSON: numbers, booleans and strings keep their JSON types ("0.5", true or
# 1 are not a threshold, a flag or a count), as the API's schema states (``functions.api.schemas``).
def _integral(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is required")
    return value


JsonInt = Annotated[int, Strict(), BeforeValidator(_integral)]


#: Operators that never let a secret's value through to the model or back to the caller.
SECRET_OPERATORS: frozenset[Operator] = frozenset(
    {Operator.REDACT, Operator.HASH, Operator.ENCRYPT, Operator.BLOCK}
)


class EntityRule(BaseModel):
    """What happens to one entity type. Absent fields: see each field's comment.

    In an admin document an absent ``operator`` means the built-in operator of the type
    (``placeholder`` for PII, ``redact`` for secrets; filled in by :func:`parse_policy`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: Operator = Operator.PLACEHOLDER
    threshold: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)  # absent: the policy's threshold
    apply_to: frozenset[Direction] = _BOTH  # absent: input and output
    mask_keep_last: JsonInt = Field(default=4, ge=0, le=32)  # absent: 4 (mask only)
    mask_char: str = Field(default="*", min_length=1, max_length=1)  # absent: "*" (mask only)


class PrivacyPolicy(BaseModel):
    """A policy document; as stored, a layer over the built-in default (see :func:`layered`).

    Absent fields: ``detection_path`` fast, ``threshold`` 0.5, ``restore_output`` true,
    ``entities`` nothing overridden (every type keeps its built-in rule once layered).
    ``version``, ``tenant_id`` and ``model`` are set by the store, never by the document.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Annotated[Literal[1], BeforeValidator(_not_bool)] = 1
    version: int = Field(default=1, ge=1)
    tenant_id: str | None = None
    model: str | None = None
    detection_path: DetectionPath = DetectionPath.FAST
    threshold: StrictFloat = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    entities: dict[str, EntityRule] = Field(default_factory=dict)  # only the types it overrides
    restore_output: StrictBool = True

    @field_validator("entities")
    @classmethod
    def _known_types(cls, value: dict[str, EntityRule]) -> dict[str, EntityRule]:
        unknown = sorted(set(value) - ENTITY_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {', '.join(unknown)}")
        return value

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


def builtin_rule(entity_type: str) -> EntityRule:
    """The built-in rule of a type: PII pseudonymised both ways, secrets removed for good."""
    return _SECRET_RULE if entity_type in SECRET_TYPES else _PII_RULE


_PII_RULE = EntityRule()
_SECRET_RULE = EntityRule(operator=Operator.REDACT)


def default_policy(tenant_id: str | None = None, model: str | None = None) -> PrivacyPolicy:
    """Every PII type pseudonymised both ways; every secret removed for good."""
    entities = {t: builtin_rule(t) for t in ENTITY_TYPES}
    return PrivacyPolicy(version=1, tenant_id=tenant_id, model=model, entities=entities)


def layered(policy: PrivacyPolicy) -> PrivacyPolicy:
    """The policy in force for a stored document: the built-in rule for every type it does not
    name, its own rule for the rest, a secret rule never weaker than the built-in one, and nothing
    switched off uncounted (see the module docstring).

    Applied on every read, so documents stored before these rules existed are covered too.
    """
    entities = {t: builtin_rule(t) for t in ENTITY_TYPES}
    for entity_type, rule in policy.entities.items():
        if entity_type in SECRET_TYPES:
            if not _secret_weakenings(rule):
                entities[entity_type] = rule
        elif not rule.apply_to:  # old documents only: the value still passes, but is counted
            entities[entity_type] = rule.model_copy(update={"operator": Operator.KEEP, "apply_to": _BOTH})
        else:
            entities[entity_type] = rule
    threshold = min(policy.threshold, DEFAULT_THRESHOLD)
    return policy.model_copy(update={"entities": entities, "threshold": threshold})


def _secret_weakenings(rule: EntityRule) -> list[str]:
    """The fields of a secret's rule that would let its value through (empty: the rule is safe)."""
    weak: list[str] = []
    if rule.operator not in SECRET_OPERATORS:
        weak.append("operator")
    if rule.apply_to != _BOTH:
        weak.append("apply_to")
    if rule.threshold is not None and rule.threshold > DEFAULT_THRESHOLD:
        weak.append("threshold")
    return weak


def parse_policy(document: object) -> PrivacyPolicy:
    """Validate an admin-supplied policy document; errors name fields, never values.

    A rule without ``operator`` gets the built-in operator of its type; a secret rule that would
    let the value through (see :data:`SECRET_OPERATORS`) is refused, naming the fields.
    """
    try:
        policy = PrivacyPolicy.model_validate(_with_builtin_operators(document))
    except ValidationError as exc:
        fields = sorted({_location(err["loc"]) for err in exc.errors()})
        raise PolicyError("Invalid privacy policy fields: " + ", ".join(fields)) from None
    weak = sorted(
        f"entities.{entity_type}.{name}"
        for entity_type, rule in policy.entities.items()
        if entity_type in SECRET_TYPES
        for name in _secret_weakenings(rule)
    )
    if weak:
        raise PolicyError(
            "Secret types must stay removed (operator redact, hash, encrypt or block; both directions; "
            f"threshold at most {DEFAULT_THRESHOLD}): " + ", ".join(weak)
        )
    quiet = ["threshold"] if policy.threshold > DEFAULT_THRESHOLD else []
    quiet += sorted(f"entities.{t}.apply_to" for t, rule in policy.entities.items() if not rule.apply_to)
    if quiet:
        raise PolicyError(
            f"A policy may not switch detection off unnamed or uncounted: the policy-wide threshold is "
            f"at most {DEFAULT_THRESHOLD} (raise it per type in entities.<TYPE>.threshold), and a rule "
            "applies to input, output or both (let a type through with operator keep, which is still "
            "counted): " + ", ".join(quiet)
        )
    return policy


#: Location parts an error may name: Steward's field and type names. Any other key is the
#: caller's text (an e-mail address typed as a key, say) and is shown as ``*``.
_KNOWN_NAMES = frozenset(PrivacyPolicy.model_fields) | frozenset(EntityRule.model_fields) | ENTITY_TYPES


def _location(loc: Iterable[int | str]) -> str:
    return ".".join(str(p) if isinstance(p, int) or p in _KNOWN_NAMES else "*" for p in loc)


def _with_builtin_operators(document: object) -> object:
    """Fill in the built-in operator where a rule leaves it out (malformed shapes pass through)."""
    if not isinstance(document, dict) or not isinstance(document.get("entities"), dict):
        return document
    entities = {
        t: {"operator": builtin_rule(t).operator.value, **rule}
        if isinstance(rule, dict) and "operator" not in rule
        else rule
        for t, rule in document["entities"].items()
    }
    return {**document, "entities": entities}


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
