"""Runtime settings of the Lambda side, read from ``STEWARD_*`` environment variables.

Validated once at cold start so a misconfigured function fails on deploy, not on the first
customer request. Explicit argument > environment variable > default derived from
:class:`~steward.resources.ResourceNames`.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steward.resources import DEFAULT_REGION, LOCAL_ACCOUNT, ResourceNames
from steward.ttl_cache import DEFAULT_TTL_S, FRESHNESS_BOUND_S

#: Stages where developer conveniences (a pepper in an env var, plain-HTTP backends) are allowed.
DEV_STAGES = frozenset({"local", "test"})
#: API Gateway REST integrations time out after 29 s; the whole backend call must end before.
API_GATEWAY_LIMIT_S = 29.0
#: What a request may spend outside the backend call when every store stalls: a registry or
#: policy read (~3 s each, bounded in `steward.adapters.aws`) and the audit write (~4 s).
STORE_STALL_BUDGET_S = 8.0
#: The largest batch input file: Lambda's 6 MB request limit holds the file base64-encoded.
MAX_FILE_BYTES = 4_500_000
LOCAL_BACKEND_URL = "http://127.0.0.1:8080"
#: The share of a tenant's requests that may be blocked before the block-rate alarm counts them
#: (``BlockedExcess``, `steward.tenant_signals`); the stage's ``tenantBlockShareAlarm``.
#: A browser origin the API may allow (CORS): an exact https origin, or http on localhost. The
#: CDK stage settings and the api function check it with this same pattern.
CORS_ORIGIN_PATTERN = re.compile(
    r"https://[a-z0-9.-]+(:[0-9]{1,5})?|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?"
)
DEFAULT_TENANT_BLOCK_SHARE = 0.2


class StewardSettings(BaseSettings):
    """What every function reads: its stage, account and region, and where the pepper comes from.

    Each function reads its own subclass (`ApiSettings`, `AuthorizerSettings`, `ReportSettings`,
    `AdminSettings`) from the same ``STEWARD_*`` environment, so a deployment passes a function
    only the variables its model declares; one environment can build every model (local stack).
    """

    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore", frozen=True)

    stage: str = "local"
    region: str = Field(default=DEFAULT_REGION)
    account: str = LOCAL_ACCOUNT
    # Empty means "derive from ResourceNames(stage)" (every resource-name field below too).
    pepper_secret_name: str = ""
    # Only for local/test stages: the pepper itself. Refused elsewhere (secrets live in AWS).
    pepper: SecretStr | None = None

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(stage=self.stage, account=self.account, region=self.region)

    @property
    def is_dev(self) -> bool:
        return self.stage in DEV_STAGES

    @model_validator(mode="before")
    @classmethod
    def _fill_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        stage = str(data.get("stage") or "local")
        names = ResourceNames(
            stage=stage,
            account=str(data.get("account") or LOCAL_ACCOUNT),
            region=str(data.get("region") or DEFAULT_REGION),
        )
        defaults = {
            "api_keys_table": names.api_keys_table.name,
            "models_table": names.models_table.name,
            "audit_table": names.audit_table.name,
            "fairness_table": names.fairness_table.name,
            "policies_table": names.policies_table.name,
            "limits_table": names.limits_table.name,
            "control_table": names.control_table.name,
            "batches_table": names.batches_table.name,
            "idempotency_table": names.idempotency_table.name,
            "batch_bucket": names.batch_bucket,
            "reviews_table": names.reviews_table.name,
            "results_bucket": names.results_bucket,
            "audit_bucket": names.audit_bucket,
            "pepper_secret_name": names.pepper_secret,
        }
        if stage in DEV_STAGES:
            defaults["backend_url"] = LOCAL_BACKEND_URL
        for key, value in defaults.items():
            if key in cls.model_fields and not data.get(key):
                data[key] = value
        return data

    @model_validator(mode="after")
    def _refuse_env_pepper(self) -> Self:
        if not self.is_dev and self.pepper is not None:
            raise ValueError("STEWARD_PEPPER is only allowed in local/test stages; use Secrets Manager")
        return self


def _review_retention() -> Any:
    """How long a review item (its sealed texts, its marks) is kept, in days (the table's TTL)."""
    return Field(default=30, ge=1, le=365)


def _review_claim() -> Any:
    """How long a claim gives one reviewer an item, in minutes."""
    return Field(default=15, ge=1, le=240)


def _review_release() -> Any:
    """How long a reviewer's approval releases a held text for its tenant, in hours."""
    return Field(default=24, ge=1, le=720)


def _cache_ttl() -> Any:
    """A per-warm-process cache TTL, capped at the 5 s freshness promise (steward.ttl_cache)."""
    return Field(default=DEFAULT_TTL_S, ge=0, le=FRESHNESS_BOUND_S)


class ApiSettings(StewardSettings):
    """The api function: its tables, backend calls, request limits, caches and privacy paths."""

    models_table: str = ""
    api_keys_table: str = ""  # the admin key routes (steward.auth.lifecycle)
    audit_table: str = ""
    fairness_table: str = ""
    policies_table: str = ""
    control_table: str = ""  # tenants and kill switches (steward.controls)
    limits_table: str = ""  # rate-limit counters and tenant plans (steward.limits)
    reviews_table: str = ""  # the human review queue of flagged requests (steward.review)

    # Backend used by registry targets of kind ``http`` that carry no URL of their own
    # (local/test stages default to a backend on localhost:8080).
    backend_url: str = ""

    # Request limits.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=6 * 1024 * 1024)
    max_embedding_inputs: int = Field(default=128, ge=1, le=2048)
    max_input_chars: int = Field(default=32_768, ge=1)

    # Backend calls: a total deadline below API Gateway's 29 s and a per-attempt timeout.
    backend_deadline_s: float = Field(default=18.0, gt=0)
    backend_try_timeout_s: float = Field(default=10.0, gt=0)
    backend_connect_timeout_s: float = Field(default=2.0, gt=0)
    backend_max_attempts: int = Field(default=3, ge=1, le=5)
    backend_backoff_base_s: float = Field(default=0.05, ge=0)
    backend_backoff_cap_s: float = Field(default=1.0, ge=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=10.0, gt=0)

    # Caches (seconds), per warm process. A change in a table is in force within the TTL: a
    # retired, approved or re-defaulted version (``registry``), a new privacy policy version
    # (``policy``).
    registry_cache_ttl_s: float = _cache_ttl()
    policy_cache_ttl_s: float = _cache_ttl()
    # A new tenant plan (limits and quotas, steward.limits).
    limits_cache_ttl_s: float = _cache_ttl()
    # A suspended tenant or a thrown kill switch (steward.controls.gate).
    control_cache_ttl_s: float = _cache_ttl()
    # Deep privacy path: the registry model (``name`` or ``name@version``) serving PERSON /
    # LOCATION / STREET_ADDRESS token classification (built as ``pii-ner``). Empty: no deep path,
    # and a policy asking for it is refused (fail closed).
    privacy_deep_model: str = ""
    # Usage policies (``usage#`` items of the policies table): cache TTL, and the registry model
    # (``name`` or ``name@version``) whose sentence embeddings the denied-topic check compares.
    usage_policy_cache_ttl_s: float = _cache_ttl()
    usage_topic_model: str = "all-minilm-l6-v2"
    # The review queue of ``flag`` verdicts (steward.review): retention, claims, releases.
    review_retention_days: int = _review_retention()
    review_claim_minutes: int = _review_claim()
    review_release_hours: int = _review_release()

    audit_retention_days: int = Field(default=400, ge=1, le=3650)
    # The block-rate alarm's tolerated share (``DEFAULT_TENANT_BLOCK_SHARE``), set with the alarm.
    tenant_block_share: float = Field(default=DEFAULT_TENANT_BLOCK_SHARE, gt=0, lt=1)
    # Fairness monitoring: how long a prediction waits for its ground-truth label (the join item
    # holding the group expires after this), and the window length of the counters.
    fairness_join_ttl_days: int = Field(default=7, ge=1, le=90)
    # The stage's customer-managed key (ARN or id) for the privacy ``encrypt`` operator's data
    # keys (empty: the stage's alias, ``alias/steward-<stage>``).
    kms_key_id: str = ""
    # Opt-in: Powertools Tracer loads the X-Ray SDK (~0.5 s) so it stays off by default.
    tracing: bool = False

    # The Batch API (`steward.batches`): where files and batches live, the jobs queue (empty URL:
    # looked up by its name once), and the limits of one input file. A file travels through API
    # Gateway and Lambda base64-encoded (binary media types), and Lambda takes at most 6 MB per
    # request, hence a little over 4.5 MB of file at most.
    batches_table: str = ""
    batch_bucket: str = ""
    jobs_queue_url: str = ""
    max_file_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=MAX_FILE_BYTES)
    batch_max_lines: int = Field(default=50_000, ge=1, le=50_000)
    # A file dropped into ``incoming/<tenant>/`` of the batch bucket (`steward.batches.dropin`):
    # read whole by the worker, so bounded well inside its memory.
    max_dropin_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    # Lines per chunk (one SQS message, one S3 object each): small enough that ten chunks (one
    # SQS batch) finish well inside the worker's timeout, large enough to keep messages few.
    batch_chunk_lines: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _refuse_unsafe_backend(self) -> Self:
        if self.backend_deadline_s + STORE_STALL_BUDGET_S > API_GATEWAY_LIMIT_S:
            raise ValueError(
                f"backend_deadline_s must leave {STORE_STALL_BUDGET_S:.0f} s for store stalls "
                f"under API Gateway's {API_GATEWAY_LIMIT_S:.0f} s limit"
            )
        if self.backend_try_timeout_s > self.backend_deadline_s:
            raise ValueError("backend_try_timeout_s must not exceed backend_deadline_s")
        url = self.backend_url
        if not self.is_dev and url and not url.startswith("https://") and not _is_private_http(url):
            raise ValueError("backend_url must use https outside local/test stages")
        return self


class WorkerSettings(ApiSettings):
    """The batch worker: everything the governed path reads (it runs the same use cases per
    line), plus its idempotency table and how much of its time a chunk may use."""

    idempotency_table: str = ""
    # Seconds of the invocation left unused: a line is only started with more than this left
    # (one backend deadline, the audit write and the result write), else the chunk is saved and
    # handed back to the queue.
    worker_reserve_s: float = Field(default=30.0, ge=1)


class AuthorizerSettings(StewardSettings):
    """The authorizer function: the key table and how long a revoked key may still pass."""

    api_keys_table: str = ""
    # A revoked key is refused everywhere within this TTL (with API Gateway's result cache).
    auth_cache_ttl_s: float = _cache_ttl()


class ReportSettings(StewardSettings):
    """The scheduled fairness report: what it reads, where reports go, what it alarms on."""

    models_table: str = ""
    fairness_table: str = ""
    results_bucket: str = ""
    # The stage's customer-managed key (ARN or id) for the report objects written to S3.
    kms_key_id: str = ""
    # Daily windows looked back on, and the alarm threshold it reports against.
    fairness_lookback_days: int = Field(default=7, ge=1, le=90)
    fairness_dp_ratio_threshold: float = Field(default=0.8, gt=0, le=1)


#: S3 Object Lock modes: GOVERNANCE (users allowed to bypass it may shorten or delete) or
#: COMPLIANCE (no one can, the root user included, until the date passes).
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]


class ArchiverSettings(StewardSettings):
    """The audit archiver (``functions/audit_archiver``): the bucket, the key and the lock mode."""

    audit_bucket: str = ""
    # The stage's customer-managed key (ARN or id) for the archived objects (SSE-KMS).
    kms_key_id: str = ""
    audit_lock_mode: LockMode = "GOVERNANCE"
    # Lock for a record without an ``expires_at`` (none is written so): the stage's default.
    audit_retention_days: int = Field(default=400, ge=1, le=3650)


class AdminSettings(StewardSettings):
    """The ``steward`` CLI and `steward.admin`: the tables they write, and the audit table every
    command leaves its record in (`steward.cli_record`)."""

    api_keys_table: str = ""
    models_table: str = ""
    control_table: str = ""  # tenants and kill switches (`steward tenants`, `steward kill`)
    limits_table: str = ""  # tenant plans and usage (`steward limits`, `steward usage`)
    audit_table: str = ""  # the audit trail (`steward audit`) and every command's own record
    policies_table: str = ""  # usage policies (`steward policies usage`)
    batches_table: str = ""  # batches (`steward batches show`); the jobs queues go by their names
    # How long the CLI's own audit records are kept: the api's setting, same default and bounds.
    audit_retention_days: int = Field(default=400, ge=1, le=3650)
    reviews_table: str = ""  # the review queue (`steward review`)
    # The stage's customer-managed key (ARN or id) that seals review texts (empty: the stage's
    # alias); `steward review show` opens them with it.
    kms_key_id: str = ""
    # As the api function's: claims and releases made with `steward review` last as long.
    review_claim_minutes: int = _review_claim()
    review_release_hours: int = _review_release()
    audit_bucket: str = ""  # the audit archive (``--archive``; `steward.audit.archive`)
    # The authorizers' key cache TTL, stated when a key is revoked (it is not enforced here).
    auth_cache_ttl_s: float = _cache_ttl()


def _is_private_http(url: str) -> bool:
    """Plain HTTP is tolerated only to in-VPC service-discovery names (ECS Service Connect)."""
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return host.endswith(".local") or host.endswith(".internal")
