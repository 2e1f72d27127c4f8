"""The privacy ``encrypt`` operator's key service: KMS envelope encryption, one data key per request.

Why envelope and not ``kms:Encrypt`` per value: a prompt can hold dozens of values, and one KMS
round trip per value would dominate the request. Here the first value of a request asks KMS for a
data key (``GenerateDataKey``, encryption context ``{steward:tenant}``), every value of that
request is sealed locally with AES-256-GCM, and the value's full context (tenant + entity type)
is bound as associated data. The blob carries the KMS-encrypted data key, so only a principal
allowed to ``kms:Decrypt`` under the same tenant context can open it. The plaintext data key
lives in this object only (the request's memory) and is never logged.

Blob: ``0x01 | len(edk) u16 | edk | nonce(12) | ciphertext+tag``.
``cryptography`` (AESGCM) is imported on first use, not on the Lambda import path.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

from steward.adapters.aws import client as aws_client

FORMAT_VERSION = 1
NONCE_BYTES = 12
TENANT_CONTEXT_KEY = "steward:tenant"


class KmsEnvelopeEncryptor:
    """`steward.privacy.Encryptor` over KMS data keys; create one per request and tenant."""

    def __init__(self, key_id: str, tenant_id: str, *, region: str, client: Any = None) -> None:
        self._key_id = key_id
        self._tenant_id = tenant_id
        self._region = region
        self._client = client
        self._data_key: tuple[bytes, bytes] | None = None  # (plaintext, encrypted)
        self._opened: dict[bytes, bytes] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("kms", self._region)
        return self._client

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._check_tenant(context)
        if self._data_key is None:
            answer = self.client.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=self._kms_context()
            )
            self._data_key = (answer["Plaintext"], answer["CiphertextBlob"])
        key, edk = self._data_key
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext, _aad(context))
        return struct.pack(">BH", FORMAT_VERSION, len(edk)) + edk + nonce + sealed

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._check_tenant(context)
        version, n = struct.unpack(">BH", ciphertext[:3])
        if version != FORMAT_VERSION:
            raise ValueError("unknown envelope format")
        edk = ciphertext[3 : 3 + n]
        nonce = ciphertext[3 + n : 3 + n + NONCE_BYTES]
        sealed = ciphertext[3 + n + NONCE_BYTES :]
        key = self._opened.get(edk)
        if key is None:
            answer = self.client.decrypt(
                CiphertextBlob=edk, KeyId=self._key_id, EncryptionContext=self._kms_context()
            )
            key = self._opened[edk] = answer["Plaintext"]
        return bytes(AESGCM(key).decrypt(nonce, sealed, _aad(context)))

    def _kms_context(self) -> dict[str, str]:
        return {TENANT_CONTEXT_KEY: self._tenant_id}

    def _check_tenant(self, context: Mapping[str, str]) -> None:
        if context.get(TENANT_CONTEXT_KEY) != self._tenant_id:
            raise ValueError("encryption context names another tenant")


def _aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()
