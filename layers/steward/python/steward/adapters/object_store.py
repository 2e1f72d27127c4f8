"""Objects in S3: batch objects (``ResourceNames.batch_bucket``: bytes by key, already sealed)
and model versions published to the artifacts bucket (`S3ArtifactStore`).

For batches, the bucket's default encryption (SSE-KMS, the stage key) applies on top of the sealing; objects
expire by the bucket's lifecycle rules. Objects of one batch are small (a chunk of lines, a
chunk's results, the output files), so plain ``PutObject``/``GetObject`` with bounded timeouts.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from steward.adapters.aws import client as aws_client


class S3Bucket:
    """One bucket and its S3 client, made on first use (or injected) with the subclass's bounds."""

    CONNECT_TIMEOUT_S = 2.0
    READ_TIMEOUT_S = 10.0
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


class S3ObjectStore(S3Bucket):
    """`steward.batches.ports.ObjectStore` over one bucket."""

    READ_TIMEOUT_S = 10.0  # a file of a few MB

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


class S3ArtifactStore(S3Bucket):
    """`steward.catalog.publish.ArtifactStore` over the stage's artifacts bucket.

    Each upload sends ``ChecksumSHA256``: S3 computes the digest of what it received and refuses a
    mismatch (``BadDigest``), and reports it back on ``HeadObject`` with ``ChecksumMode``: an upload
    is confirmed by that digest, or by hashing the object where the store reports none. The hex
    digest is also kept as ``x-amz-meta-sha256`` for the pre-upload comparison; an object with
    neither (copied in by other tools) is read and hashed. ``If-None-Match: *`` makes the write a
    create: an object that appeared meanwhile is never overwritten. ``ExpectedBucketOwner`` refuses
    a bucket of another account of the same name (bucket names are global).
    """

    CONNECT_TIMEOUT_S = 5.0
    READ_TIMEOUT_S = 300.0  # a single PUT of a model file of hundreds of MB
    MAX_ATTEMPTS = 3
    DIGEST_METADATA = "sha256"

    def __init__(self, bucket: str, *, region: str, owner: str = "", client: Any = None) -> None:
        super().__init__(bucket, region=region, client=client)
        self._owner = {"ExpectedBucketOwner": owner} if owner else {}

    def stored_sha256(self, key: str) -> str | None:
        head = self._head(key)
        if head is None:
            return None
        metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
        return _checksum(head) or metadata.get(self.DIGEST_METADATA, "").lower() or self._hashed(key)

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self._bucket, Key=key, ChecksumMode="ENABLED", **self._owner
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head

    def _hashed(self, key: str) -> str:
        """The sha256 of the object's bytes, streamed: for objects written without one (an
        ``aws s3 sync``, the stack's own deployment of the built repository)."""
        body = self.client.get_object(Bucket=self._bucket, Key=key, **self._owner)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def upload(self, key: str, source: Path | bytes, sha256: str) -> str:
        from botocore.exceptions import ClientError

        request = {
            "Bucket": self._bucket,
            "Key": key,
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(sha256)).decode(),
            "Metadata": {self.DIGEST_METADATA: sha256},
            "IfNoneMatch": "*",
            **self._owner,
        }
        try:
            if isinstance(source, bytes):
                self.client.put_object(Body=source, **request)
            else:
                with source.open("rb") as body:
                    self.client.put_object(Body=body, **request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise
        # What S3 computed on receipt; never our own metadata claim, which would prove nothing.
        head = self._head(key)
        return "" if head is None else _checksum(head) or self._hashed(key)


def _checksum(head: dict[str, Any]) -> str:
    """The hex sha256 S3 reports for a whole object (a multipart checksum, ``<b64>-<n>``, is of
    its parts, not of the object: not used)."""
    checksum = head.get("ChecksumSHA256")
    if isinstance(checksum, str) and checksum and "-" not in checksum:
        return base64.b64decode(checksum).hex()
    return ""
