"""Every stored byte of a file or batch is sealed under its tenant.

A batch file holds the caller's content (personal data included: it is only redacted when a
line runs), and file names and metadata are caller-chosen strings. The bucket's and the table's
own encryption at rest protects them from the disk; sealing protects them from everything that
can read the bucket or the table: each object is AES-GCM encrypted with a data key the key
service issues under the tenant's encryption context (`steward.privacy.Encryptor`, KMS envelope
in AWS), and bound to what it is (``steward:object``: its object key, or the record it belongs
to). A sealed object copied to another tenant's key or another file's key does not open.
"""

from __future__ import annotations

from collections.abc import Callable

from steward.privacy.operators import Encryptor

TENANT_CONTEXT = "steward:tenant"
OBJECT_CONTEXT = "steward:object"


class TenantSeal:
    """Seal and open one tenant's objects; one data key for everything it seals (create one per
    request or chunk, as `steward.adapters.kms_encryptor.KmsEnvelopeEncryptor` expects)."""

    def __init__(self, tenant_id: str, encryptor: Encryptor) -> None:
        self.tenant_id = tenant_id
        self._encryptor = encryptor

    def _context(self, what: str) -> dict[str, str]:
        return {TENANT_CONTEXT: self.tenant_id, OBJECT_CONTEXT: what}

    def seal(self, what: str, data: bytes) -> bytes:
        return self._encryptor.encrypt(data, self._context(what))

    def open(self, what: str, blob: bytes) -> bytes:
        return self._encryptor.decrypt(blob, self._context(what))


class Seals:
    """A `TenantSeal` per use, from the deployment's encryptor factory."""

    def __init__(self, encryptor_for: Callable[[str], Encryptor]) -> None:
        self._encryptor_for = encryptor_for

    def for_tenant(self, tenant_id: str) -> TenantSeal:
        return TenantSeal(tenant_id, self._encryptor_for(tenant_id))
