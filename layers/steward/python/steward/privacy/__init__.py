"""PII and secret detection, redaction and reversible pseudonymisation.

Public API (imported lazily so ``import steward.privacy`` stays cheap at cold start)::

    detect(text, *, entity_types=None, threshold=0.5) -> list[Finding]
    redact(text, policy, context) -> RedactionResult          # raises PiiBlocked / DetectorFailure
    restore(text, mapping) -> str
    process_output(text, policy, context) -> RedactionResult  # output rules, then restore
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.privacy.engine import (
        DetectionEngine,
        RedactionContext,
        RedactionResult,
        default_engine,
        detect,
        process_output,
        redact,
        restore,
    )
    from steward.privacy.entities import ENTITY_TYPES, NER_TYPES, PII_TYPES, SECRET_TYPES, STRUCTURED_TYPES
    from steward.privacy.errors import DetectorFailure, PiiBlocked, PolicyError
    from steward.privacy.findings import Finding
    from steward.privacy.operators import Encryptor, Pseudonyms
    from steward.privacy.policy import (
        DetectionPath,
        Direction,
        EntityRule,
        Operator,
        PrivacyPolicy,
        default_policy,
        parse_policy,
        select_policy,
    )

_EXPORTS = {
    "DetectionEngine": "engine", "RedactionContext": "engine", "RedactionResult": "engine",
    "default_engine": "engine", "detect": "engine", "process_output": "engine", "redact": "engine",
    "restore": "engine", "ENTITY_TYPES": "entities", "NER_TYPES": "entities", "PII_TYPES": "entities",
    "SECRET_TYPES": "entities", "STRUCTURED_TYPES": "entities", "DetectorFailure": "errors",
    "PiiBlocked": "errors", "PolicyError": "errors", "Finding": "findings", "Encryptor": "operators",
    "Pseudonyms": "operators", "DetectionPath": "policy", "Direction": "policy", "EntityRule": "policy",
    "Operator": "policy", "PrivacyPolicy": "policy", "default_policy": "policy", "parse_policy": "policy",
    "select_policy": "policy",
}  # fmt: skip

__all__ = [
    "ENTITY_TYPES", "NER_TYPES", "PII_TYPES", "SECRET_TYPES", "STRUCTURED_TYPES", "DetectionEngine",
    "DetectionPath", "DetectorFailure", "Direction", "Encryptor", "EntityRule", "Finding", "Operator",
    "PiiBlocked", "PolicyError", "PrivacyPolicy", "Pseudonyms", "RedactionContext", "RedactionResult",
    "default_engine", "default_policy", "detect", "parse_policy", "process_output", "redact", "restore",
    "select_policy",
]  # fmt: skip
assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'steward.privacy' has no attribute {name!r}")
    value = getattr(import_module(f"steward.privacy.{module}"), name)
    globals()[name] = value
    return value


def warm() -> None:
    """Cold-start hook: compile every pattern, load the name/place lists and the phone numbering
    plans now."""
    from steward.privacy import lexicons
    from steward.privacy.detectors import phones
    from steward.privacy.engine import default_engine

    default_engine()
    lexicons.warm()
    phones.warm()
