"""Powertools idempotency records in DynamoDB (``ResourceNames.idempotency_table``).

The batch worker wraps each job in Powertools' ``idempotent_function``: a job delivered again
after it succeeded returns the saved result without running; one delivered while it runs fails
(``IdempotencyAlreadyInProgressError``) and comes back later. The table's key is ``id`` (the hashed
job: tenant, batch, kind, chunk), its TTL attribute ``expiration``.
"""

from __future__ import annotations

from typing import Any


def dynamodb_persistence(table: str, *, region: str) -> Any:
    """A `DynamoDBPersistenceLayer` with bounded timeouts (built on first use of the worker)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=2.0,
        read_timeout=3.0,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    return DynamoDBPersistenceLayer(table_name=table, boto_config=config)
