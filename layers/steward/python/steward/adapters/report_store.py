"""Fairness reports to the results bucket, encrypted with the stage's customer-managed key."""

from __future__ import annotations

from typing import Any

from steward.adapters.aws import client as aws_client


class S3ReportSink:
    """Writes report objects with SSE-KMS under ``kms_key_id`` (the bucket default when empty)."""

    def __init__(self, bucket: str, *, region: str, kms_key_id: str = "", client: Any = None) -> None:
        self._bucket = bucket
        self._region = region
        self._kms_key_id = kms_key_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3", self._region)
        return self._client

    def put(self, key: str, body: bytes, content_type: str) -> None:
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
        }
        if self._kms_key_id:  # "aws:kms" without a key id would mean the AWS-managed key
            kwargs["ServerSideEncryption"] = "aws:kms"
            kwargs["SSEKMSKeyId"] = self._kms_key_id
        self.client.put_object(**kwargs)
