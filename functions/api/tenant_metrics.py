"""The per-tenant signals of one request as one CloudWatch EMF record (`steward.tenant_signals`).

Powertools' ``EphemeralMetrics`` rather than the shared ``metrics``: the shared set is flushed once
per invocation with no tenant dimension (fleet-wide ``Requests``, ``Latency``...), and a second
dimension set on it would multiply every one of those by the number of tenants. One record per
request, written at once, also keeps concurrent requests (local server) from sharing a dimension.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from steward.tenant_signals import NAMESPACE, TENANT_DIMENSION, TenantSignals

from functions.api.observability import SERVICE


def emit_tenant_signals(signals: TenantSignals, block_share: float) -> None:
    record = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    record.add_dimension(name=TENANT_DIMENSION, value=signals.tenant)
    for name, value in signals.values(block_share).items():
        record.add_metric(name=name, unit=MetricUnit.Count, value=value)
    record.flush_metrics()


__all__ = ["emit_tenant_signals"]
