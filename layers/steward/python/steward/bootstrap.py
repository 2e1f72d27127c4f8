"""The one composition root: each function's object graph, built from its settings.

``build_api`` (the api function), ``build_authorizer``, ``build_report`` (the scheduled fairness
report), ``build_archiver`` (the audit archiver) and ``build_admin`` (the CLI, the local stack and
`steward.admin`) put the AWS adapters
(`steward.adapters`) behind the feature packages' ports. Nothing else in the layer or in
``functions/`` constructs an adapter or imports boto3 (tests/unit/test_import_rules.py).
``compose_api`` wires the use cases from any ports (tests and the local stack pass in-memory ones).
`Lazy` is the one "build once per process" idiom.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from steward.adapters.audit_archive import S3AuditArchive
from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.aws import client as aws_client
from steward.adapters.batch_store import DynamoBatchStore
from steward.adapters.control_store import DynamoControlStore
from steward.adapters.drift_store import DynamoDriftStore
from steward.adapters.fairness_store import DynamoFairnessStore
from steward.adapters.job_queue import SqsJobQueue
from steward.adapters.key_store import DynamoKeyStore
from steward.adapters.limit_store import DynamoLimitStore
from steward.adapters.object_store import S3ObjectStore
from steward.adapters.pepper import SecretsManagerPepper, static_pepper
from steward.adapters.policy_store import DynamoPolicyStore
from steward.adapters.quality_store import DynamoQualityStore
from steward.adapters.registry_store import DynamoRegistryStore
from steward.adapters.report_store import S3ReportSink
from steward.adapters.review_store import DynamoReviewStore
from steward.adapters.sagemaker_transport import SageMakerTransport
from steward.adapters.serving_stats_store import DynamoServingStatsStore
from steward.adapters.usage_policy_store import DynamoUsagePolicyStore
from steward.audit.archive import ArchivedTrail, AuditArchiver
from steward.audit.chain import AuditChain
from steward.audit.reader import AuditReader
from steward.audit.record import AuditKeys, AuditStore
from steward.auth.authorize import Authorizer, KeyStore
from steward.auth.lifecycle import KeyLedger, KeyLifecycle
from steward.batches.ports import BatchStore, JobQueue, ObjectStore
from steward.batches.sealing import Seals
from steward.batches.service import BatchLimits, BatchService
from steward.batches.worker import BatchWorker
from steward.catalog.lifecycle import LifecycleStore, ModelLifecycle
from steward.catalog.registry import Registry, RegistryStore
from steward.catalog.service import Catalog
from steward.controls.gate import AccessGate
from steward.controls.model import DEFAULT_RETENTION_DAYS, ControlStore
from steward.controls.service import ControlService
from steward.errors import UnsupportedInput
from steward.fairness.monitor import FairnessMonitor, FairnessStore
from steward.fairness.service import Fairness
from steward.inference.limits import Limits
from steward.inference.service import InferenceService
from steward.inference.serving_monitor import ServingMonitor
from steward.limits.admission import RateLimiter
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.privacy.redaction_service import RedactionService
from steward.quality.comparison import (
    DriftFigures,
    FairnessFigures,
    FigureSource,
    QualityFigures,
    ServingFigures,
    VersionReview,
)
from steward.quality.drift_monitor import DriftMonitor, DriftService, DriftSketchStore
from steward.quality.monitor import QualityStore
from steward.quality.service import QualityService
from steward.quality.serving import ServingStatsStore
from steward.review.service import ReviewService
from steward.routing.http_transport import HttpTransport
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import Transport
from steward.settings import (
    AdminSettings,
    ApiSettings,
    ArchiverSettings,
    AuthorizerSettings,
    ReportSettings,
    StewardSettings,
    WorkerSettings,
)
from steward.ttl_cache import DEFAULT_TTL_S
from steward.usage_policy.book import NoStoredUsagePolicies, UsagePolicyBook
from steward.usage_policy.engine import UsageGuard
from steward.usage_policy.service import GuardrailService

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from steward.batches.redrive import DeadLetters
    from steward.fairness.report_publisher import ReportSink
    from steward.privacy import Encryptor
    from steward.privacy.detectors import Detector

T = TypeVar("T")


class Lazy(Generic[T]):
    """Build on first use, exactly once per process, thread-safe (a uvicorn worker pool may race
    to the first request). Keeps AWS clients and secrets off the Lambda import path."""

    __slots__ = ("_built", "_factory", "_lock")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._built: list[T] = []
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._built.append(self._factory())
        return self._built[0]


#: Each function's settings, read from the ``STEWARD_*`` environment and validated once per
#: process (a bad environment fails the cold start). Tests swap in a fresh ``Lazy`` to re-read it.
api_settings: Lazy[ApiSettings] = Lazy(ApiSettings)
authorizer_settings: Lazy[AuthorizerSettings] = Lazy(AuthorizerSettings)
report_settings: Lazy[ReportSettings] = Lazy(ReportSettings)
admin_settings: Lazy[AdminSettings] = Lazy(AdminSettings)
worker_settings: Lazy[WorkerSettings] = Lazy(WorkerSettings)
archiver_settings: Lazy[ArchiverSettings] = Lazy(ArchiverSettings)


# --- shared pieces -------------------------------------------------------------------------------


def pepper_source(settings: StewardSettings) -> Callable[[], bytes]:
    """The stage's pepper: the settings' own on local/test stages, else Secrets Manager (read once)."""
    if settings.pepper is not None:
        return static_pepper(settings.pepper.get_secret_value())
    return SecretsManagerPepper(settings.pepper_secret_name, region=settings.region)


def build_registry(settings: ApiSettings) -> Registry:
    return Registry(
        DynamoRegistryStore(settings.models_table, region=settings.region),
        ttl_s=settings.registry_cache_ttl_s,
    )


def build_router(settings: ApiSettings) -> Router:
    sagemaker = partial(
        aws_client,
        "sagemaker-runtime",
        settings.region,
        connect_timeout=settings.backend_connect_timeout_s,
        read_timeout=settings.backend_try_timeout_s,
        max_attempts=1,
    )
    transports: dict[str, Transport] = {
        "http": HttpTransport(settings.backend_url, connect_timeout_s=settings.backend_connect_timeout_s),
        "sagemaker": SageMakerTransport(sagemaker),
    }
    policy = RouterPolicy(
        deadline_s=settings.backend_deadline_s,
        try_timeout_s=settings.backend_try_timeout_s,
        max_attempts=settings.backend_max_attempts,
        backoff_base_s=settings.backend_backoff_base_s,
        backoff_cap_s=settings.backend_backoff_cap_s,
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_cooldown_s=settings.breaker_cooldown_s,
    )
    return Router(transports, policy)


def build_deep_detector(settings: ApiSettings) -> Detector | None:
    """The DEEP detection path's `Detector` (backend token-classification model), or None.

    ``settings.privacy_deep_model`` names the registry model (``pii-ner`` or ``pii-ner@1``); it is
    called through its own router (same transports and policy as the data plane's). Unset: None,
    and a policy with ``detection_path: deep`` is refused with ``pii.detector_error`` (fail closed).
    """
    if not settings.privacy_deep_model:
        return None
    from steward.privacy.detectors.deep import DeepPiiDetector, registry_resolver
    from steward.privacy.detectors.names_places import NamesPlacesDetector

    registry = build_registry(settings)
    resolve = registry_resolver(registry, settings.privacy_deep_model)
    return DeepPiiDetector(build_router(settings), resolve, rules=NamesPlacesDetector())


def build_encryptor_factory(settings: ApiSettings | AdminSettings) -> Callable[[str], Encryptor]:
    """One KMS envelope encryptor per request and tenant (data key generated on first use): the
    privacy ``encrypt`` operator and the review queue's sealed texts."""
    from steward.adapters.kms_encryptor import KmsEnvelopeEncryptor

    key_id = settings.kms_key_id or settings.names.kms_alias

    def for_tenant(tenant_id: str) -> Encryptor:
        return KmsEnvelopeEncryptor(key_id, tenant_id, region=settings.region)

    return for_tenant


def build_privacy(settings: ApiSettings, pepper: Callable[[], bytes] | None = None) -> PrivacyGuard:
    policies = PolicyBook(
        DynamoPolicyStore(settings.policies_table, region=settings.region), ttl_s=settings.policy_cache_ttl_s
    )
    return PrivacyGuard(
        policies,
        pepper=pepper or pepper_source(settings),
        encryptor_for=build_encryptor_factory(settings),
        deep_detector=build_deep_detector(settings),
    )


# --- the api function --------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """The api function's use cases (handed to routes by `functions.api.deps`), and what the
    governance envelope needs: the audit store it writes to and the pepper its MACs are keyed by."""

    catalog: Catalog
    inference: InferenceService
    fairness: Fairness
    redaction: RedactionService
    audit: AuditReader
    policies: PolicyBook
    audit_store: AuditStore
    pepper: Callable[[], bytes] | None = None
    keys: KeyLifecycle | None = None  # the admin key routes; None: 501
    #: Rate limits and quotas (`steward.limits`); None: nothing limited (tests, demos).
    rate_limits: RateLimiter | None = None
    #: Tenant state and kill switches: checked per request (`gate`), administered (`controls`).
    gate: AccessGate | None = None
    controls: ControlService | None = None
    #: Usage policies: the versions (admin routes) and ``POST /v1/guardrails/apply``.
    usage_policies: UsagePolicyBook | None = None
    guardrails: GuardrailService | None = None
    #: The human review queue of ``flag`` verdicts (``/admin/reviews``); None: 501.
    reviews: ReviewService | None = None
    #: Files and batches (``/v1/files``, ``/v1/batches``); None: those routes answer 501.
    batches: BatchService | None = None
    #: Version routing, promotion and rollback (``/admin/models``); None: 501.
    lifecycle: ModelLifecycle | None = None
    #: Version comparison and the card's live figures and history.
    review: VersionReview | None = None
    #: ``GET /v1/models/{m}/quality`` (without a quality store it answers 501).
    quality: QualityService | None = None
    #: ``GET /v1/models/{m}/drift`` (label-free drift of the caller's own traffic).
    drift: DriftService | None = None


@dataclass(frozen=True)
class BatchPorts:
    """Where the Batch API keeps its files and batches and queues its jobs, and its limits."""

    store: BatchStore
    objects: ObjectStore
    seals: Seals
    queue: JobQueue
    limits: BatchLimits = field(default_factory=BatchLimits)


class _NoStoredPolicies:
    """A policy store with nothing in it: every tenant gets the built-in default policy."""

    def list_policies(self, tenant_id: str) -> list[Any]:
        return []

    def put_policy(self, policy: Any, *, author: str) -> None:
        raise UnsupportedInput("Privacy policies can't be stored on this deployment.")


class _NoControls:
    """A control store with nothing in it: no tenant suspended, no switch thrown, nothing to change."""

    def get_tenant(self, tenant_id: str) -> Any:
        return None

    def list_tenants(self) -> list[Any]:
        return []

    def list_switches(self) -> list[Any]:
        return []

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedInput("Tenants and kill switches can't be stored on this deployment.")

    create_tenant = set_tenant_status = put_switch = delete_switch = _refuse


def compose_api(
    registry: Registry,
    router: Router,
    audit_store: AuditStore,
    limits: Limits | None = None,
    fairness: FairnessMonitor | None = None,
    privacy: PrivacyGuard | None = None,
    rate_limiter: RateLimiter | None = None,
    controls: ControlStore | None = None,
    controls_ttl_s: float = DEFAULT_TTL_S,
    keys: KeyLifecycle | None = None,
    usage: UsageGuard | None = None,
    batches: BatchPorts | None = None,
    reviews: ReviewService | None = None,
    lifecycle: ModelLifecycle | None = None,
    serving_stats: ServingStatsStore | None = None,
    quality: QualityStore | None = None,
    drift: DriftMonitor | None = None,
) -> Api:
    """The api's use cases over the given ports. Never "no privacy": without a guard, the
    built-in default policy applies; without a monitor, fairness routes answer 501. With a
    review queue, ``flag`` verdicts go to it (unless the usage guard has its own sink); without
    one, a ``hold`` rule refuses its requests (fail closed) and the review routes answer 501.
    Quality counters are read from ``quality``, else from the monitor's store when it reads them."""
    limits = limits or Limits()
    privacy = privacy or PrivacyGuard(PolicyBook(_NoStoredPolicies()))
    usage = usage or UsageGuard(UsagePolicyBook(NoStoredUsagePolicies()))
    if reviews is not None and usage.flag_sink is None:
        usage = replace(usage, flag_sink=reviews)
    control_store: ControlStore = controls if controls is not None else _NoControls()
    gate = AccessGate(control_store, ttl_s=controls_ttl_s)
    catalog = Catalog(registry, fairness.store if fairness is not None else None, switches=gate)
    monitoring = Fairness(fairness)
    if lifecycle is None and isinstance(registry.store, LifecycleStore):  # a writable registry
        lifecycle = ModelLifecycle(registry.store)
    if quality is None and fairness is not None and isinstance(fairness.store, QualityStore):
        quality = fairness.store  # one store holding joins and counters (the in-memory one)
    sources: list[FigureSource] = []
    if serving_stats is not None:
        sources.append(ServingFigures(serving_stats))
    if quality is not None:
        sources.append(QualityFigures(quality))
    if fairness is not None:
        sources.append(FairnessFigures(fairness.store))
    if drift is not None and drift.store is not None:
        sources.append(DriftFigures(drift.store))
    review = VersionReview(catalog, sources, history=lifecycle.history if lifecycle is not None else None)
    inference = InferenceService(
        catalog,
        router,
        privacy,
        monitoring,
        limits,
        rate_limiter,
        usage=usage,
        serving=ServingMonitor(serving_stats),
        drift=drift,
    )
    return Api(
        catalog=catalog,
        inference=inference,
        fairness=monitoring,
        redaction=RedactionService(catalog, privacy, limits),
        audit=AuditReader(audit_store, limits.max_audit_page),
        policies=privacy.policies,
        audit_store=audit_store,
        pepper=privacy.pepper,
        rate_limits=rate_limiter,
        gate=gate,
        controls=ControlService(control_store),
        keys=keys,
        usage_policies=usage.book,
        guardrails=GuardrailService(catalog, privacy, usage, limits),
        batches=(
            BatchService(
                batches.store, batches.objects, batches.seals, batches.queue, registry, batches.limits
            )
            if batches is not None
            else None
        ),
        reviews=reviews,
        lifecycle=lifecycle,
        review=review,
        quality=QualityService(catalog, quality if fairness is not None else None),
        drift=DriftService(catalog, drift.store if drift is not None else None),
    )


def build_api(settings: ApiSettings) -> Api:
    """The api function's graph over DynamoDB, KMS, Secrets Manager and the routed backends."""
    pepper = pepper_source(settings)  # one secret read per process: privacy, fairness and audit MACs
    limits = Limits(
        max_embedding_inputs=settings.max_embedding_inputs, max_input_chars=settings.max_input_chars
    )
    fairness = FairnessMonitor(
        DynamoFairnessStore(settings.fairness_table, region=settings.region),
        pepper=pepper,  # group tokens are keyed per tenant (steward.fairness.groups)
        join_ttl_days=settings.fairness_join_ttl_days,
    )
    keys = KeyLifecycle(DynamoKeyStore(settings.api_keys_table, region=settings.region), pepper)
    return compose_api(
        build_registry(settings),
        build_router(settings),
        DynamoAuditStore(settings.audit_table, region=settings.region, chain=AuditChain(pepper)),
        limits,
        fairness,
        build_privacy(settings, pepper),
        rate_limiter=RateLimiter(
            DynamoLimitStore(settings.limits_table, region=settings.region), ttl_s=settings.limits_cache_ttl_s
        ),
        controls=DynamoControlStore(settings.control_table, region=settings.region),
        controls_ttl_s=settings.control_cache_ttl_s,
        keys=keys,
        usage=build_usage(settings),
        batches=build_batch_ports(settings),
        reviews=build_reviews(settings, pepper, keys),
        serving_stats=DynamoServingStatsStore(settings.fairness_table, region=settings.region),
        quality=DynamoQualityStore(settings.fairness_table, region=settings.region),
        drift=DriftMonitor(
            DynamoDriftStore(settings.fairness_table, region=settings.region), on_failure=_count_drift_failure
        ),
    )


def _count_drift_failure(error_type: str) -> None:
    """One ``DriftSketchFailures`` EMF count (the type is logged, never put in a dimension)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="DriftSketchFailures", unit=MetricUnit.Count, value=1, namespace="Steward"):
        pass


def build_batch_ports(settings: ApiSettings) -> BatchPorts:
    """The batches table, the batch bucket, the jobs queue and the stage key (sealing)."""
    return BatchPorts(
        store=DynamoBatchStore(settings.batches_table, region=settings.region),
        objects=S3ObjectStore(settings.batch_bucket, region=settings.region),
        seals=Seals(build_encryptor_factory(settings)),
        queue=SqsJobQueue(
            region=settings.region, url=settings.jobs_queue_url, name=settings.names.jobs_queue
        ),
        limits=BatchLimits(
            max_file_bytes=settings.max_file_bytes,
            max_lines=settings.batch_max_lines,
            chunk_lines=settings.batch_chunk_lines,
            max_dropin_bytes=settings.max_dropin_bytes,
        ),
    )


def build_reviews(
    settings: ApiSettings | AdminSettings,
    pepper: Callable[[], bytes] | None = None,
    keys: KeyLifecycle | None = None,
) -> ReviewService:
    """The review queue over its table and the stage's KMS key (texts sealed per tenant and
    item); ``keys``: what a confirmed violation's key is revoked with. The api function records
    flags and serves ``/admin/reviews``; the CLI (`steward.cli_review`) reviews."""
    from steward.review.service import DEFAULT_RETENTION_S

    # Only the api function creates items; the CLI's retention is never used.
    retention_s = DEFAULT_RETENTION_S
    if isinstance(settings, ApiSettings):
        retention_s = settings.review_retention_days * 86_400
    return ReviewService(
        DynamoReviewStore(settings.reviews_table, region=settings.region),
        build_encryptor_factory(settings),
        pepper or pepper_source(settings),
        keys=keys,
        retention_s=retention_s,
        claim_s=settings.review_claim_minutes * 60,
        release_s=settings.review_release_hours * 3600,
    )


def build_usage(settings: ApiSettings) -> UsageGuard:
    """The usage policy check: versions from the policies table (``usage#`` sort keys), read
    through a cache of ``usage_policy_cache_ttl_s``; denied topics on the embeddings of
    ``usage_topic_model`` through its own router (empty: a policy with denied topics refuses
    requests, fail closed)."""
    from steward.usage_policy.ports import TopicCheck

    store = DynamoUsagePolicyStore(settings.policies_table, region=settings.region)
    topics: TopicCheck | None = None
    if settings.usage_topic_model:
        from steward.usage_policy.topic_embedder import RouterTopicEmbedder, topic_model_resolver
        from steward.usage_policy.topics import TopicChecker

        resolve = topic_model_resolver(build_registry(settings), settings.usage_topic_model)
        topics = TopicChecker(RouterTopicEmbedder(build_router(settings), resolve))
    return UsageGuard(UsagePolicyBook(store, ttl_s=settings.usage_policy_cache_ttl_s), topics=topics)


# --- the batch worker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    """The batch worker function: the worker and where its idempotency records live."""

    worker: BatchWorker
    idempotency: BasePersistenceLayer


def compose_worker(
    api: Api,
    ports: BatchPorts,
    keys: KeyStore,
    *,
    audit_retention_days: int = 400,
    reserve_s: float = 30.0,
) -> BatchWorker:
    """The worker over the api's use cases (every line runs the synchronous path's services) and
    the batch ports; ``keys`` re-checks the batch's key when a chunk runs."""
    pepper = api.pepper
    if pepper is None:
        raise ValueError("the worker needs the pepper: its chunks are audited")
    return BatchWorker(
        store=ports.store,
        objects=ports.objects,
        seals=ports.seals,
        queue=ports.queue,
        inference=api.inference,
        keys=keys,
        gate=api.gate,
        audit_store=api.audit_store,
        audit_keys=AuditKeys(pepper),
        limits=ports.limits,
        audit_retention_days=audit_retention_days,
        reserve_s=reserve_s,
    )


def build_worker(settings: WorkerSettings) -> Worker:
    from steward.adapters.idempotency import dynamodb_persistence

    api = build_api(settings)
    ports = api_batch_ports(api) or build_batch_ports(settings)
    worker = compose_worker(
        api,
        ports,
        DynamoKeyStore(settings.api_keys_table, region=settings.region),
        audit_retention_days=settings.audit_retention_days,
        reserve_s=settings.worker_reserve_s,
    )
    return Worker(worker, dynamodb_persistence(settings.idempotency_table, region=settings.region))


def api_batch_ports(api: Api) -> BatchPorts | None:
    """The ports the api's batch use cases were built over (shared, not built twice)."""
    service = api.batches
    if service is None:
        return None
    return BatchPorts(service.store, service.objects, service.seals, service.queue, service.limits)


# --- the other functions -------------------------------------------------------------------------


def build_limits(settings: AdminSettings) -> RateLimiter:
    """Tenant plans and usage for the CLI (`steward.cli_limits`); the client is made on first use."""
    return RateLimiter(DynamoLimitStore(settings.limits_table, region=settings.region))


def build_dead_letters(settings: AdminSettings) -> DeadLetters:
    """The jobs dead-letter queue and the jobs queue, by name (`steward batches redrive`)."""
    from steward.adapters.job_queue import SqsDeadLetters

    return SqsDeadLetters(
        region=settings.region,
        dead_letter_queue=settings.names.jobs_dead_letter_queue,
        jobs_queue=settings.names.jobs_queue,
    )


def build_batch_store(settings: AdminSettings) -> BatchStore:
    """The batches table, for operators (`steward batches show`)."""
    return DynamoBatchStore(settings.batches_table, region=settings.region)


def build_controls(settings: AdminSettings) -> ControlService:
    """Tenants and kill switches for the CLI (`steward.controls.cli`); the client is made on first use."""
    return ControlService(DynamoControlStore(settings.control_table, region=settings.region))


def build_authorizer(settings: AuthorizerSettings) -> Authorizer:
    store = DynamoKeyStore(settings.api_keys_table, region=settings.region)
    return Authorizer(store, pepper_source(settings), ttl_s=settings.auth_cache_ttl_s)


@dataclass(frozen=True)
class Report:
    """The scheduled fairness report's ports: the registry it lists, the counters it reads, where
    reports go. It never needs the pepper: groups are named from the declared labels."""

    registry: RegistryStore
    counters: FairnessStore
    sink: ReportSink
    quality: QualityStore | None = None  # the quality counters (same table); None: no quality section
    #: Drift sketches (the fairness table's ``drift#`` items); None: no drift section.
    drift: DriftSketchStore | None = None


def build_report(settings: ReportSettings) -> Report:
    return Report(
        registry=DynamoRegistryStore(settings.models_table, region=settings.region),
        counters=DynamoFairnessStore(settings.fairness_table, region=settings.region),
        sink=S3ReportSink(settings.results_bucket, region=settings.region, kms_key_id=settings.kms_key_id),
        quality=DynamoQualityStore(settings.fairness_table, region=settings.region),
        drift=DynamoDriftStore(settings.fairness_table, region=settings.region),
    )


def build_archiver(settings: ArchiverSettings) -> AuditArchiver:
    """The audit archiver: the stream's records into the audit bucket, under the stage's lock."""
    sink = S3AuditArchive(
        settings.audit_bucket,
        region=settings.region,
        kms_key_id=settings.kms_key_id,
        lock_mode=settings.audit_lock_mode,
    )
    return AuditArchiver(sink, default_retention_days=settings.audit_retention_days)


@dataclass(frozen=True)
class AdminPorts:
    """What `steward.admin` writes to: API keys, the registry, and the pepper new keys are hashed with."""

    keys: KeyLedger
    registry: LifecycleStore
    pepper: Callable[[], bytes]


def build_audit_trail(settings: AdminSettings, pepper: Callable[[], bytes] | None = None) -> DynamoAuditStore:
    """The audit table read back (``steward audit``), chained under the stage's pepper."""
    chain = AuditChain(pepper or pepper_source(settings))
    return DynamoAuditStore(settings.audit_table, region=settings.region, chain=chain)


@dataclass(frozen=True)
class AdminAudit:
    """What the CLI's own audit records need (`steward.cli_record`): the chained audit table, the
    pepper their MACs are keyed by (the api's, so one chain holds both), who is acting (the AWS
    principal's ARN, MACed before it is stored) and how long records are kept."""

    store: AuditStore
    pepper: Callable[[], bytes]
    caller: Callable[[], str]
    retention_days: int


def build_admin_audit(settings: AdminSettings) -> AdminAudit:
    """The secret and STS are reached on first use only."""
    from steward.adapters.aws import caller_arn

    pepper = pepper_source(settings)
    return AdminAudit(
        store=build_audit_trail(settings, pepper),
        pepper=pepper,
        caller=partial(caller_arn, settings.region),
        retention_days=settings.audit_retention_days,
    )


def build_usage_policies(settings: AdminSettings) -> UsagePolicyBook:
    """Usage policy versions for the CLI (`steward.cli_policies`), read through (no cache)."""
    return UsagePolicyBook(DynamoUsagePolicyStore(settings.policies_table, region=settings.region), ttl_s=0)


@dataclass(frozen=True)
class AuditArchivePorts:
    """``steward audit ... --archive`` and ``steward audit archive``: the table (its chain head and
    records), the archive read back and the archiver that writes to it."""

    table: DynamoAuditStore
    archived: ArchivedTrail
    archiver: AuditArchiver


def build_audit_archive(settings: AdminSettings) -> AuditArchivePorts:
    """The audit bucket under the stage's pepper; a backfill locks objects in the bucket's own
    default mode (read from the bucket), never in a weaker one."""
    table = build_audit_trail(settings)
    archive = S3AuditArchive(settings.audit_bucket, region=settings.region)
    return AuditArchivePorts(
        table=table,
        archived=ArchivedTrail(archive, table),
        archiver=AuditArchiver(archive, default_retention_days=DEFAULT_RETENTION_DAYS),
    )


def build_admin(settings: AdminSettings) -> AdminPorts:
    """Clients and the secret are reached on first use only, so building this costs nothing."""
    return AdminPorts(
        keys=DynamoKeyStore(settings.api_keys_table, region=settings.region),
        registry=DynamoRegistryStore(settings.models_table, region=settings.region),
        pepper=pepper_source(settings),
    )
