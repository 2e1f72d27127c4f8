"""Free text an operator types (an API key's name, a suspension's or kill switch's note) as it
may be stored: every entity the detection engine finds replaced by its type, ``<EMAIL_ADDRESS>``.

No personal data reaches a table, whatever an operator writes ("paged by jane@corp.com"). The
same fast-path detection and the same redact-only policy as the logs (`steward.privacy.logs`): a
stored label has no one to restore a placeholder for, so nothing reversible is kept. Pure Python,
no AWS: the domain services call it (`steward.auth.lifecycle`, `steward.controls.service`), so
the admin API and the CLI store the same thing. A check that errors stores `REDACTION_FAILED`
instead of the text: a kill switch must still be thrown when its note can't be checked.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steward.privacy import PrivacyPolicy

REDACTION_FAILED = "[REDACTION_FAILED]"
FREE_TEXT_TENANT = "_free_text"  # the redaction context's tenant (no tenant key is ever used)


@lru_cache(maxsize=1)
def redact_only_policy() -> PrivacyPolicy:
    """Every entity type removed for good (no placeholders to restore, nothing reversible)."""
    from steward.privacy import ENTITY_TYPES, Direction, EntityRule, Operator, PrivacyPolicy

    rule = EntityRule(operator=Operator.REDACT, apply_to=frozenset({Direction.INPUT}))
    return PrivacyPolicy(version=1, entities={t: rule for t in ENTITY_TYPES})


def redact_free_text(text: str) -> str:
    """``text`` with every detected entity replaced by ``<TYPE>``; `REDACTION_FAILED` on error."""
    if not text:
        return text
    try:
        from steward.privacy import RedactionContext, redact

        return redact(text, redact_only_policy(), RedactionContext(tenant_id=FREE_TEXT_TENANT)).text
    except Exception:
        return REDACTION_FAILED
