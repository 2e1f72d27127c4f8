"""Batch objects in S3 (``ResourceNames.batch_bucket``): bytes by key, already sealed.

The bucket's default encryption (SSE-KMS, the stage key) applies on top of the sealing; objects
expire by the bucket's lifecycle rules. Objects of one batch are small (a chunk of lines, a
chunk's results, the output files), so plain ``PutObject``/``GetObject`` with bounded timeouts.
"""

from __future__ import annotations

from typing import Any

from steward.adapters.aws import client as aws_client


class S3ObjectStore:
    """`steward.batches.ports.ObjectStore` over one bucket."""

    CONNECT_TIMEOUT_S = 2.0
    READ_TIMEOUT_S = 10.0  # a file of a few MB
    MAX_ATTEMPTS = 3

    def __init__(self, bucket: str, *, region: str, client: Any = None) -> None:
        self._bucket = bucket
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client(
                "s3",
                self._region,
                connect_timeout=self.CONNECT_TIMEOUT_S,
                read_timeout=self.READ_TIMEOUT_S,
                max_attempts=self.MAX_ATTEMPTS,
            )
        return self._client

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes | None:
        found = self.read(key)
        return found[0] if found is not None else None

    def read(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        try:
            answer = self.client.get_object(Bucket=self._bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body, {str(k).lower(): str(v) for k, v in (answer.get("Metadata") or {}).items()}

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self._bucket, Key=key)
