"""Per-stage deployment settings, read from the CDK context (``cdk.json`` or ``-c``).

One frozen dataclass so every construct gets typed values instead of poking at context strings,
and a typo in ``cdk.json`` fails the synth with a message rather than deploying a default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from steward.controls.model import MAX_RETENTION_DAYS
from steward.settings import CORS_ORIGIN_PATTERN, DEFAULT_TENANT_BLOCK_SHARE
from steward.ttl_cache import DEFAULT_TTL_S

STAGES_CONTEXT_KEY = "steward:stages"
#: An exact browser origin: https with a host (and port), or plain http on the loopback host.
_RETENTION = logs.RetentionDays
LOG_RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: _RETENTION.ONE_DAY,
    3: _RETENTION.THREE_DAYS,
    5: _RETENTION.FIVE_DAYS,
    7: _RETENTION.ONE_WEEK,
    14: _RETENTION.TWO_WEEKS,
    30: _RETENTION.ONE_MONTH,
    60: _RETENTION.TWO_MONTHS,
    90: _RETENTION.THREE_MONTHS,
    180: _RETENTION.SIX_MONTHS,
    365: _RETENTION.ONE_YEAR,
    400: _RETENTION.THIRTEEN_MONTHS,
    545: _RETENTION.EIGHTEEN_MONTHS,
    731: _RETENTION.TWO_YEARS,
    1827: _RETENTION.FIVE_YEARS,
    3653: _RETENTION.TEN_YEARS,
}


@dataclass(frozen=True)
class CustomDomain:
    """An optional custom domain in front of the REST API (TLS 1.2 security policy)."""

    domain_name: str
    certificate_arn: str


@dataclass(frozen=True)
class TenantAlarmThresholds:
    """Per tenant and 5 minutes: what makes a tenant's traffic an anomaly (`steward.tenant_signals`)."""

    requests: int  # requests (a spike: the default, 6000, is 20/s, 40% of the default stage throttle)
    rate_limited: int  # 429s of the tenant's plan (a client ignoring Retry-After)
    block_share: float  # blocked share of its requests tolerated ...
    block_excess: int  # ... and how many blocked requests beyond that share alarm (minimum volume)


@dataclass(frozen=True)
class StageSettings:
    """What differs between stages; defaults are the safe values for a shared ``dev`` account."""

    stage: str = "dev"
    log_retention_days: int = 30
    removal_policy: str = "destroy"  # "destroy" | "retain"
    log_level: str = "INFO"
    # Inference endpoint (SageMaker real-time).
    deploy_inference: bool = True
    sagemaker_instance_type: str = "ml.g5.xlarge"
    initial_instance_count: int = 1
    min_instance_count: int = 1
    max_instance_count: int = 2
    invocations_per_instance_target: int = 600  # per minute, the SageMaker predefined metric
    container_startup_timeout_s: int = 600
    model_download_timeout_s: int = 1200
    # The built model repository (`python -m gpu_backend.build --output models`) shipped to the
    # endpoint's ``models/`` prefix at deploy, so a fresh endpoint never starts empty: relative to
    # the repository root, or absolute; null ships nothing (versions come by `steward models
    # publish` only). Missing at synth: a warning, and nothing shipped.
    model_repository: str | None = "models"
    # API.
    api_throttle_rate: float = 50.0
    api_throttle_burst: int = 100
    waf_rate_limit: int = 2000  # requests per client IP per 5 minutes (WAF rate-based rule)
    # API Gateway's authorizer result cache (seconds, per Authorization header value). It adds to
    # the authorizer function's key cache, so the two share the in-process part of the 5 s
    # freshness promise (steward.ttl_cache): 0 (the default) leaves it all to the function, which
    # keeps DynamoDB reads at one per key per TTL; each request then invokes the authorizer.
    authorizer_cache_ttl_s: int = 0
    api_memory_mb: int = 1024
    authorizer_memory_mb: int = 512
    api_reserved_concurrency: int | None = None
    authorizer_reserved_concurrency: int | None = None
    custom_domain: CustomDomain | None = None
    # Browser origins allowed to call the API (CORS); empty: no CORS at all (the default: callers
    # are services holding keys). Each an exact https origin, or http on localhost.
    cors_allow_origins: tuple[str, ...] = ()
    # An HTTPS (or in-VPC *.internal) OIP backend for registry targets of kind "http", if any.
    backend_url: str | None = None
    # Privacy: the registry model (``name@version``) serving the deep PII path, for tenant
    # policies that ask for it; empty means such policies are refused (fail closed).
    privacy_deep_model: str = "pii-ner@1"
    # Batches (cdk/events.py): the worker's concurrency cap (its reserved concurrency and the event
    # source's maximum concurrency: bounds what batches take from the backend and the tables), its
    # memory, lines per chunk, and how long files and batch objects are kept (days).
    batch_worker_concurrency: int = 10
    batch_worker_memory_mb: int = 1024
    batch_chunk_lines: int = 50
    batch_file_retention_days: int = 30
    # Observability.
    alarm_email: str | None = None
    api_p99_latency_ms: int = 5000
    # Per-tenant anomaly alarms (TenantAlarmThresholds): each tenant is one contributor of a
    # Metrics Insights alarm. The block share also goes to the api function, which emits
    # ``BlockedExcess`` against it (STEWARD_TENANT_BLOCK_SHARE).
    tenant_requests_alarm: int = 6000
    tenant_rate_limited_alarm: int = 100
    tenant_block_share_alarm: float = DEFAULT_TENANT_BLOCK_SHARE
    tenant_block_excess_alarm: int = 10
    # Fairness reports: run interval, daily windows looked back on, and the alarm threshold on the
    # lowest demographic parity ratio across model versions (four-fifths rule by default).
    fairness_report_interval_hours: int = 6
    fairness_lookback_days: int = 7
    fairness_dp_ratio_alarm: float = 0.8
    # Audit: records of a tenant without a plan (and unauthenticated callers) expire after this,
    # and it is the audit bucket's default Object Lock retention. The lock mode: GOVERNANCE lets
    # an operator allowed to bypass it delete locked objects (a dev stage can be torn down);
    # COMPLIANCE lets no one, not even the root user, until the date passes (prod, cdk.json).
    audit_retention_days: int = 400
    audit_lock_mode: str = "GOVERNANCE"

    def __post_init__(self) -> None:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days must be one of {sorted(LOG_RETENTION_DAYS)}")
        if self.removal_policy not in {"destroy", "retain"}:
            raise ValueError(f"removal_policy must be 'destroy' or 'retain', got {self.removal_policy!r}")
        if not 0 <= self.authorizer_cache_ttl_s <= DEFAULT_TTL_S:
            raise ValueError(
                f"authorizer_cache_ttl_s must be within 0..{DEFAULT_TTL_S:g}: a revoked key must stop "
                "working within 5 s, and the edge cache adds to the authorizer's own"
            )
        if not 1 <= self.min_instance_count <= self.max_instance_count:
            raise ValueError("need 1 <= min_instance_count <= max_instance_count")
        if not 1 <= self.fairness_report_interval_hours <= 24:
            raise ValueError("fairness_report_interval_hours must be within 1..24")
        if not 0 < self.fairness_dp_ratio_alarm <= 1:
            raise ValueError("fairness_dp_ratio_alarm must be within (0, 1]")
        if not 2 <= self.batch_worker_concurrency <= 1000:
            raise ValueError("batch_worker_concurrency must be within 2..1000 (SQS maximum concurrency)")
        if not 1 <= self.batch_chunk_lines <= 1000:
            raise ValueError("batch_chunk_lines must be within 1..1000")
        if (
            min(self.tenant_requests_alarm, self.tenant_rate_limited_alarm, self.tenant_block_excess_alarm)
            < 1
        ):
            raise ValueError("tenant request, rate-limited and block-excess alarms must be at least 1")
        if not 0 < self.tenant_block_share_alarm < 1:
            raise ValueError("tenant_block_share_alarm must be within (0, 1)")
        if not 1 <= self.audit_retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"audit_retention_days must be within 1..{MAX_RETENTION_DAYS}")
        if self.audit_lock_mode not in {"GOVERNANCE", "COMPLIANCE"}:
            raise ValueError(
                f"audit_lock_mode must be GOVERNANCE or COMPLIANCE, got {self.audit_lock_mode!r}"
            )
        for origin in self.cors_allow_origins:
            if not CORS_ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError(
                    f"cors_allow_origins: {origin!r} is not an exact https origin (or http://localhost)"
                )
        if not self.sagemaker_instance_type.startswith("ml."):
            raise ValueError(
                f"sagemaker_instance_type must be an ml.* type, got {self.sagemaker_instance_type!r}"
            )

    @property
    def authorizer_function_cache_ttl_s(self) -> float:
        """The authorizer function's key cache TTL: what the edge cache leaves of the budget."""
        return DEFAULT_TTL_S - self.authorizer_cache_ttl_s

    @property
    def tenant_alarms(self) -> TenantAlarmThresholds:
        return TenantAlarmThresholds(
            requests=self.tenant_requests_alarm,
            rate_limited=self.tenant_rate_limited_alarm,
            block_share=self.tenant_block_share_alarm,
            block_excess=self.tenant_block_excess_alarm,
        )

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION_DAYS[self.log_retention_days]

    @property
    def cdk_removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.removal_policy == "retain" else RemovalPolicy.DESTROY

    @classmethod
    def from_context(cls, stage: str, stages: dict[str, Any] | None) -> StageSettings:
        """Settings for ``stage`` from the ``steward:stages`` context map (camelCase keys)."""
        raw = dict((stages or {}).get(stage) or {})
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {"stage": stage}
        for key, value in raw.items():
            name = _snake(key)
            if name not in known or name == "stage":
                raise ValueError(f"unknown setting {key!r} for stage {stage!r} in {STAGES_CONTEXT_KEY}")
            values[name] = value
        if isinstance(values.get("cors_allow_origins"), list):
            values["cors_allow_origins"] = tuple(values["cors_allow_origins"])
        domain = values.get("custom_domain")
        if isinstance(domain, dict):
            values["custom_domain"] = CustomDomain(
                domain_name=domain["domainName"], certificate_arn=domain["certificateArn"]
            )
        return cls(**values)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
