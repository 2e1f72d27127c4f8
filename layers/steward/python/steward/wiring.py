"""Build the production object graph from settings (AWS adapters behind domain ports)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.aws import client as aws_client
from steward.adapters.fairness_store import DynamoFairnessStore
from steward.adapters.key_store import DynamoKeyStore
from steward.adapters.pepper import SecretsManagerPepper, static_pepper
from steward.adapters.policy_store import DynamoPolicyStore
from steward.adapters.registry_store import DynamoRegistryStore
from steward.auth.authorize import Authorizer
from steward.catalog.registry import Registry
from steward.fairness.monitor import FairnessMonitor
from steward.gateway import Gateway, Limits
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.routing.http_transport import HttpTransport
from steward.routing.router import Router, RouterPolicy
from steward.routing.sagemaker_transport import SageMakerTransport
from steward.routing.transport import Transport
from steward.settings import StewardSettings

if TYPE_CHECKING:
    from steward.privacy import Encryptor
    from steward.privacy.detectors import Detector


def pepper_source(settings: StewardSettings) -> Callable[[], bytes]:
    if settings.pepper is not None:
        return static_pepper(settings.pepper.get_secret_value())
    return SecretsManagerPepper(settings.pepper_secret_name, region=settings.region)


def build_authorizer(settings: StewardSettings) -> Authorizer:
    store = DynamoKeyStore(settings.api_keys_table, region=settings.region)
    return Authorizer(store, pepper_source(settings), ttl_s=settings.auth_cache_ttl_s)


def build_router(settings: StewardSettings) -> Router:
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


def build_deep_detector(settings: StewardSettings) -> Detector | None:
    """The DEEP detection path's `Detector` (backend token-classification model), or None.

    ``settings.privacy_deep_model`` names the registry model (``pii-ner`` or ``pii-ner@1``); it is
    called through its own router (same transports and policy as the gateway's). Unset: None, and
    a policy with ``detection_path: deep`` is refused with ``pii.detector_error`` (fail closed).
    """
    if not settings.privacy_deep_model:
        return None
    from steward.privacy.detectors.deep import DeepPiiDetector, registry_resolver

    registry = Registry(
        DynamoRegistryStore(settings.models_table, region=settings.region),
        ttl_s=settings.registry_cache_ttl_s,
    )
    return DeepPiiDetector(build_router(settings), registry_resolver(registry, settings.privacy_deep_model))


def build_encryptor_factory(settings: StewardSettings) -> Callable[[str], Encryptor]:
    """One KMS envelope encryptor per request and tenant (data key generated on first use)."""
    from steward.adapters.kms_encryptor import KmsEnvelopeEncryptor

    key_id = settings.kms_key_id or settings.names.kms_alias

    def for_tenant(tenant_id: str) -> Encryptor:
        return KmsEnvelopeEncryptor(key_id, tenant_id, region=settings.region)

    return for_tenant


def build_privacy(settings: StewardSettings) -> PrivacyGuard:
    policies = PolicyBook(
        DynamoPolicyStore(settings.policies_table, region=settings.region), ttl_s=settings.policy_cache_ttl_s
    )
    return PrivacyGuard(
        policies,
        pepper=pepper_source(settings),
        encryptor_for=build_encryptor_factory(settings),
        deep_detector=build_deep_detector(settings),
    )


def build_gateway(settings: StewardSettings) -> Gateway:
    registry = Registry(
        DynamoRegistryStore(settings.models_table, region=settings.region),
        ttl_s=settings.registry_cache_ttl_s,
    )
    audit = DynamoAuditStore(settings.audit_table, region=settings.region)
    limits = Limits(
        max_embedding_inputs=settings.max_embedding_inputs, max_input_chars=settings.max_input_chars
    )
    fairness = FairnessMonitor(
        DynamoFairnessStore(settings.fairness_table, region=settings.region),
        pepper=pepper_source(settings),  # group tokens are keyed per tenant (steward.fairness.groups)
        join_ttl_days=settings.fairness_join_ttl_days,
    )
    return Gateway(registry, build_router(settings), audit, limits, fairness, build_privacy(settings))
