"""Per-tenant anomaly signals: what each governed request counts for its tenant.

``Requests``; ``Blocked``, refused by a guardrail (a usage-policy ``block`` rule or a PII type the
privacy policy blocks); ``RateLimited``, refused by the tenant's plan (429 ``rate.limited`` or
``quota.exceeded``); ``Flagged``, let through with a usage-policy flag in its audit record. The
api function emits them as CloudWatch metrics with a ``Tenant`` dimension
(`functions.api.tenant_metrics`), and each stage alarm watches every tenant with one Metrics
Insights query (cdk/observability.py): tenants are created at run time, after the deploy.

``BlockedExcess`` (``blocked - share`` per request) is for the block-rate alarm. Summed over a
window it is ``blocked - share * requests``, the blocked requests beyond the tolerated share; it
reaches ``c`` only when ``blocked >= share * requests + c``, i.e. the block rate is above
``share`` *and* at least ``c / (1 - share)`` requests were blocked, so one refused call can't alarm.
CloudWatch evaluates one Metrics Insights query per alarm, so a ratio of two sums with a volume
gate can't be one alarm per tenant; this single sum can.

The dimension value never comes from the request: it is the tenant id the authorizer read from a
stored key (validated when an admin issued it). A caller without a valid key counts as
``_unauthenticated``; an id outside the tenant-id pattern (no key can hold one) as ``_invalid``.
So there is one value per tenant holding a key, plus these two: each costs one custom metric per
signal, and a Metrics Insights query reads at most 10,000 series (docs/observability.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from steward.audit.record import ANONYMOUS_TENANT
from steward.controls.model import TENANT_ID
from steward.errors import QuotaExceeded, RateLimited
from steward.privacy.errors import PiiBlocked
from steward.usage_policy.errors import DeniedPattern, DeniedTopic, DeniedWord

NAMESPACE = "Steward/Tenants"
TENANT_DIMENSION = "Tenant"
#: Powertools adds it to every metric of a function with a service name (POWERTOOLS_SERVICE_NAME).
SERVICE_DIMENSION = "service"
REQUESTS = "Requests"
BLOCKED = "Blocked"
RATE_LIMITED = "RateLimited"
FLAGGED = "Flagged"
BLOCKED_EXCESS = "BlockedExcess"
INVALID_TENANT = "_invalid"

BLOCK_CODES = frozenset({DeniedWord.code, DeniedPattern.code, DeniedTopic.code, PiiBlocked.code})
RATE_LIMIT_CODES = frozenset({RateLimited.code, QuotaExceeded.code})
#: Reason code prefix of a usage-policy flag (`steward.usage_policy.engine.record`).
FLAG_PREFIX = "policy.flagged_"


def tenant_dimension(tenant_id: str) -> str:
    """The dimension value for ``tenant_id``: itself, the fixed anonymous value, or ``_invalid``."""
    if tenant_id == ANONYMOUS_TENANT or TENANT_ID.fullmatch(tenant_id):
        return tenant_id
    return INVALID_TENANT


@dataclass(frozen=True, slots=True)
class TenantSignals:
    """One request's signals; ``error_code`` is what the caller got (a withheld block is a 503)."""

    tenant: str
    blocked: bool
    rate_limited: bool
    flagged: bool

    @classmethod
    def of(cls, tenant_id: str, error_code: str, reason_codes: Iterable[str]) -> TenantSignals:
        return cls(
            tenant=tenant_dimension(tenant_id),
            blocked=error_code in BLOCK_CODES,
            rate_limited=error_code in RATE_LIMIT_CODES,
            flagged=any(code.startswith(FLAG_PREFIX) for code in reason_codes),
        )

    def values(self, block_share: float) -> dict[str, float]:
        """Metric name -> value; zeros too, so ``AVG(Blocked)`` is the tenant's block rate."""
        return {
            REQUESTS: 1.0,
            BLOCKED: float(self.blocked),
            RATE_LIMITED: float(self.rate_limited),
            FLAGGED: float(self.flagged),
            BLOCKED_EXCESS: float(self.blocked) - block_share,
        }


__all__ = [
    "BLOCKED",
    "BLOCKED_EXCESS",
    "FLAGGED",
    "NAMESPACE",
    "RATE_LIMITED",
    "REQUESTS",
    "TENANT_DIMENSION",
    "TenantSignals",
    "tenant_dimension",
]
