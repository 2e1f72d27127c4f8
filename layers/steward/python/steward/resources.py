"""Names and key schemas of every AWS resource Steward owns.

One module read by the CDK constructs (to create the resources), by the Lambda settings (to find
them) and by the local stack (to create the same resources in moto). Change a name here and all
three follow, so local runs and AWS never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOCAL_ACCOUNT = "123456789012"  # moto's default account id
DEFAULT_REGION = "us-east-1"
#: The API's only routes without a key: unauthenticated GETs that hold no tenant data. API Gateway
#: (CDK), the local emulator and the api function's middleware all read this one tuple.
PUBLIC_PATHS = ("/health", "/openapi.json")
#: The key table's index by tenant (`ResourceNames.api_keys_table`).
KEYS_TENANT_INDEX = "by-tenant"
#: The batches table's sparse index of batches not yet ended, by when their window ends.
OPEN_BATCHES_INDEX = "open-until"
#: Receives of a batch job before the jobs queue moves it to its dead-letter queue (CDK and local).
JOBS_MAX_RECEIVES = 5
#: The review table's indexes (`ResourceNames.reviews_table`): a tenant's items per state, in
#: order; an item by id alone.
REVIEWS_QUEUE_INDEX = "by-queue"
REVIEWS_ID_INDEX = "by-id"
#: Where archived audit records go in the audit bucket (`steward.audit.archive`): the archiver
#: may write there and nowhere else.
AUDIT_ARCHIVE_PREFIX = "audit/"


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: partition/sort key names (all string keys), its TTL attribute and its
    stream's view type (``NEW_IMAGE``), if any."""

    name: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)
    stream: str | None = None


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index (string keys, all attributes projected)."""

    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class ResourceNames:
    """Every resource name for one stage (e.g. ``dev``, ``prod``, ``local``)."""

    stage: str = "local"
    account: str = LOCAL_ACCOUNT
    region: str = DEFAULT_REGION

    @property
    def prefix(self) -> str:
        return f"steward-{self.stage}"

    # --- DynamoDB -------------------------------------------------------------------------
    @property
    def api_keys_table(self) -> TableSpec:
        """API keys: only the keyed hash of the secret is stored, never the secret. The tenant
        index lists a tenant's keys (``steward keys list``, ``GET /admin/keys``)."""
        return TableSpec(
            f"{self.prefix}-api-keys",
            partition_key="key_id",
            indexes=(IndexSpec(KEYS_TENANT_INDEX, partition_key="tenant_id"),),
        )

    @property
    def models_table(self) -> TableSpec:
        """Model registry: one item per model version plus a ``#model`` item per model."""
        return TableSpec(f"{self.prefix}-models", partition_key="model", sort_key="version")

    @property
    def audit_table(self) -> TableSpec:
        """Audit trail, partitioned by tenant so reads are tenant-scoped by construction. Its
        stream (new images) feeds the archive (`audit_bucket`) as records are written, so each is
        archived long before its TTL removes it."""
        return TableSpec(
            f"{self.prefix}-audit",
            partition_key="tenant_id",
            sort_key="sk",
            ttl_attribute="expires_at",
            stream="NEW_IMAGE",
        )

    @property
    def fairness_table(self) -> TableSpec:
        """Fairness monitoring: aggregate outcome counters per model/version/window/group, the
        short-lived feedback join items (TTL) and the latest report summary per model version."""
        return TableSpec(
            f"{self.prefix}-fairness", partition_key="pk", sort_key="sk", ttl_attribute="expires_at"
        )

    @property
    def policies_table(self) -> TableSpec:
        """Privacy policies per tenant: ``policy_key`` is ``default#v<n>`` or ``model#<name>#v<n>``
        (zero-padded versions, never overwritten: every change is a new version)."""
        return TableSpec(f"{self.prefix}-policies", partition_key="tenant_id", sort_key="policy_key")

    @property
    def control_table(self) -> TableSpec:
        """Operator controls (`steward.controls`): tenants (``pk = "tenants"``, sk the tenant id)
        and kill switches (``pk = "switches"``, sk the scope), read by the api function through
        a short cache, written by the CLI and the platform-admin routes."""
        return TableSpec(f"{self.prefix}-control", partition_key="pk", sort_key="sk")

    @property
    def limits_table(self) -> TableSpec:
        """Rate-limit counters (``usage#<tenant>`` / ``<window>#<scope>``, TTL after the window)
        and tenant plans (``plan#<tenant>``), `steward.adapters.limit_store`."""
        return TableSpec(
            f"{self.prefix}-limits", partition_key="pk", sort_key="sk", ttl_attribute="expires_at"
        )

    @property
    def batches_table(self) -> TableSpec:
        """Files and batches of the Batch API (`steward.batches`): partitioned by the owner tenant,
        so every read is tenant-scoped by construction; ``sk`` is ``file#<id>`` or ``batch#<id>``
        (batch ids sort by creation time, so a tenant's batches list newest first by Query)."""
        return TableSpec(
            f"{self.prefix}-batches",
            partition_key="tenant_id",
            sort_key="sk",
            ttl_attribute="expires_at",
            # Only batches that have not ended carry the index's keys (a sparse index): the expiry
            # sweep reads the ones whose 24 h window is over without scanning the table.
            indexes=(IndexSpec(OPEN_BATCHES_INDEX, partition_key="open", sort_key="open_until"),),
        )

    @property
    def idempotency_table(self) -> TableSpec:
        """Powertools idempotency records of the batch worker (one per job message, hashed key,
        expiring after the queue's retention): a redelivered job returns the saved result."""
        return TableSpec(f"{self.prefix}-idempotency", partition_key="id", ttl_attribute="expiration")

    @property
    def reviews_table(self) -> TableSpec:
        """The human review queue (`steward.adapters.review_store`): per tenant, items (``rv_<id>``),
        their sealed texts (``rv_<id>#text``) and text marks (``mark#<mac>``), all expiring (TTL).
        The queue index lists a tenant's items per state in time order (``queue`` is
        ``<tenant>#<state>``, so no partition is shared across tenants); the id index finds an item
        for operators and platform admins."""
        return TableSpec(
            f"{self.prefix}-reviews",
            partition_key="tenant_id",
            sort_key="sk",
            ttl_attribute="expires_at",
            indexes=(
                IndexSpec(REVIEWS_QUEUE_INDEX, partition_key="queue", sort_key="queued_at"),
                IndexSpec(REVIEWS_ID_INDEX, partition_key="review_id"),
            ),
        )

    @property
    def tables(self) -> tuple[TableSpec, ...]:
        return (
            self.api_keys_table,
            self.models_table,
            self.audit_table,
            self.fairness_table,
            self.policies_table,
            self.control_table,
            self.limits_table,
            self.batches_table,
            self.idempotency_table,
            self.reviews_table,
        )

    # --- SQS ----------------------------------------------------------------------------------
    @property
    def jobs_queue(self) -> str:
        """Batch jobs (plan a batch, run one chunk): ids only, the lines stay in S3."""
        return f"{self.prefix}-batch-jobs"

    @property
    def jobs_dead_letter_queue(self) -> str:
        """Jobs that failed ``maxReceiveCount`` times (redrive after the cause is fixed)."""
        return f"{self.prefix}-batch-jobs-dlq"

    # --- S3 / KMS / secrets ---------------------------------------------------------------------
    @property
    def artifacts_bucket(self) -> str:
        """Model repository (one prefix per model/version) the inference endpoint loads."""
        return f"{self.prefix}-artifacts-{self.account}-{self.region}"

    @property
    def results_bucket(self) -> str:
        """Fairness reports (JSON and HTML per tenant, model version and window)."""
        return f"{self.prefix}-results-{self.account}-{self.region}"

    @property
    def batch_bucket(self) -> str:
        """Batch API files (input, chunks, per-chunk results, output and error files), each
        object sealed under its tenant (`steward.batches`), expiring by lifecycle."""
        return f"{self.prefix}-batches-{self.account}-{self.region}"

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.artifacts_bucket, self.results_bucket, self.batch_bucket)

    @property
    def audit_bucket(self) -> str:
        """The audit archive: every audit record as written, in JSON lines objects under
        `AUDIT_ARCHIVE_PREFIX`, versioned and under S3 Object Lock (`steward.audit.archive`)."""
        return f"{self.prefix}-audit-{self.account}-{self.region}"

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def pepper_secret(self) -> str:
        """Secrets Manager secret holding the HMAC pepper for API key hashes."""
        return f"{self.prefix}/api-key-pepper"
