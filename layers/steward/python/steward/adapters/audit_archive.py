"""The audit archive in S3 (``ResourceNames.audit_bucket``): `steward.audit.archive`'s sink and
source.

Writes create only (``If-None-Match: *``): an object's key names its content, so finding it there
(412) means this very object was written before, and a redelivered batch costs one refused PUT.
Each object carries its own Object Lock retention (mode and retain-until date) and, when a key is
given, SSE-KMS under the stage's key (the bucket's default encryption is the same key).

The lock mode is the deployment's setting (``STEWARD_AUDIT_LOCK_MODE``) in the archiver; where it
is not given (the CLI's backfill) it is read once from the bucket's default retention, so a
backfill can't lock objects more weakly than the stage does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from steward.adapters.aws import client as aws_client
from steward.audit.archive import ArchiveObject

#: S3's answers to a conditional create that found the key taken.
_EXISTS = frozenset({"PreconditionFailed", "412"})


class S3AuditArchive:
    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        kms_key_id: str = "",
        lock_mode: str | None = None,
        client: Any = None,
    ) -> None:
        self._bucket = bucket
        self._region = region
        self._kms_key_id = kms_key_id
        self._lock_mode = lock_mode
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3", self._region, read_timeout=10.0, max_attempts=3)
        return self._client

    def lock_mode(self) -> str:
        if self._lock_mode is None:
            config = self.client.get_object_lock_configuration(Bucket=self._bucket)
            rule = config.get("ObjectLockConfiguration", {}).get("Rule", {})
            mode = rule.get("DefaultRetention", {}).get("Mode")
            if mode not in ("GOVERNANCE", "COMPLIANCE"):
                raise ValueError(f"the audit bucket {self._bucket} has no Object Lock default retention")
            self._lock_mode = str(mode)
        return self._lock_mode

    def put(self, obj: ArchiveObject) -> bool:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": obj.key,
            "Body": obj.body,
            "ContentType": "application/x-ndjson",
            "IfNoneMatch": "*",
            "ObjectLockMode": self.lock_mode(),
            "ObjectLockRetainUntilDate": datetime.fromtimestamp(obj.retain_until, tz=UTC),
            "ChecksumAlgorithm": "SHA256",  # S3 requires a checksum on a PUT with a lock
        }
        if self._kms_key_id:  # "aws:kms" without a key id would mean the AWS-managed key
            kwargs["ServerSideEncryption"] = "aws:kms"
            kwargs["SSEKMSKeyId"] = self._kms_key_id
        try:
            self.client.put_object(**kwargs)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _EXISTS:
                return False
            raise
        return True

    def bodies(self, prefix: str, *, start_after: str | None) -> Iterator[tuple[str, bytes]]:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if start_after:
            request["KeyMarker"] = start_after
        while True:
            page = self.client.list_object_versions(**request)
            for version in page.get("Versions", []):
                found = self.client.get_object(
                    Bucket=self._bucket, Key=version["Key"], VersionId=version["VersionId"]
                )
                yield str(version["Key"]), bytes(found["Body"].read())
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["VersionIdMarker"] = page["NextVersionIdMarker"]
