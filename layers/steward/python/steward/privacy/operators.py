"""What happens to a detected value: placeholder, redact, mask, keyed hash, encrypt (block is
decided by the engine before any operator runs).

Placeholders are reversible only through the request's :class:`Pseudonyms`, which lives in the
request's memory on the synchronous path and is never logged (its repr hides values).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import re2

from steward.privacy.errors import DetectorFailure
from steward.privacy.policy import EntityRule, Operator

PLACEHOLDER_RE = re2.compile(r"<\s{0,2}([A-Z][A-Z0-9]*(?:_[A-Z0-9]+){0,6}_\d{1,6})\s{0,2}>")
_ENC_RE = re2.compile(r"<ENC:([A-Z][A-Z0-9_]{0,40}):([A-Za-z0-9_\-]+)>")


@runtime_checkable
class Encryptor(Protocol):
    """Envelope encryption port (KMS data key per tenant in production; a fake in tests)."""

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes: ...


@dataclass
class Pseudonyms(Mapping[str, str]):
    """Placeholder -> original value for one request; the same value gets the same placeholder."""

    _originals: dict[str, str] = field(default_factory=dict)
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)
    _reserved: set[str] = field(default_factory=set)

    def reserve_existing(self, text: str) -> None:
        """Placeholders the caller typed themselves are never reused (and never restored)."""
        for m in PLACEHOLDER_RE.finditer(text):
            if m.group(1) not in self._originals:
                self._reserved.add(m.group(1))

    def placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, value)
        name = self._by_value.get(key)
        if name is None:
            n = self._counters.get(entity_type, 0)
            while True:
                n += 1
                name = f"{entity_type}_{n}"
                if name not in self._reserved:
                    break
            self._counters[entity_type] = n
            self._by_value[key] = name
            self._originals[name] = value
        return f"<{name}>"

    def __getitem__(self, name: str) -> str:
        return self._originals[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._originals)

    def __len__(self) -> int:
        return len(self._originals)

    def __repr__(self) -> str:
        return f"Pseudonyms({len(self._originals)} placeholders)"

    __str__ = __repr__


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the original values back for every placeholder of this request found in ``text``.

    Tolerates the spacing models add inside brackets (``< PERSON_1 >``); unknown placeholders
    are left as they are.
    """
    if not mapping or "<" not in text:
        return text

    def swap(m: re2._Match) -> str:
        value = mapping.get(m.group(1))
        return value if value is not None else str(m.group(0))

    return str(PLACEHOLDER_RE.sub(swap, text))


def mask(value: str, keep_last: int, char: str = "*") -> str:
    """Mask letters and digits except the last ``keep_last``; separators keep the shape readable."""
    out = list(value)
    kept = 0
    for i in range(len(out) - 1, -1, -1):
        if out[i].isalnum():
            if kept < keep_last:
                kept += 1
            else:
                out[i] = char
    return "".join(out)


def keyed_hash(entity_type: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, f"{entity_type}\x1f{value}".encode(), hashlib.sha256).hexdigest()
    return f"<{entity_type}#{digest[:16]}>"


def encryption_context(tenant_id: str, entity_type: str) -> dict[str, str]:
    return {"steward:tenant": tenant_id, "steward:entity_type": entity_type}


def encrypt_token(entity_type: str, value: str, encryptor: Encryptor, tenant_id: str) -> str:
    blob = encryptor.encrypt(value.encode(), encryption_context(tenant_id, entity_type))
    return f"<ENC:{entity_type}:{base64.urlsafe_b64encode(blob).decode().rstrip('=')}>"


def decrypt_tokens(text: str, encryptor: Encryptor, tenant_id: str) -> str:
    """Reverse :func:`encrypt_token` for a caller holding the tenant's key (e.g. an audited export)."""

    def swap(m: re2._Match) -> str:
        entity_type, payload = str(m.group(1)), str(m.group(2))
        blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return encryptor.decrypt(blob, encryption_context(tenant_id, entity_type)).decode()

    return str(_ENC_RE.sub(swap, text))


def apply_operator(
    rule: EntityRule,
    entity_type: str,
    value: str,
    *,
    pseudonyms: Pseudonyms,
    tenant_id: str,
    hmac_key: bytes | None,
    encryptor: Encryptor | None,
) -> str:
    """The replacement text for one finding (BLOCK never gets here: the engine refuses first)."""
    op = rule.operator
    if op is Operator.PLACEHOLDER:
        return pseudonyms.placeholder(entity_type, value)
    if op is Operator.REDACT:
        return f"<{entity_type}>"
    if op is Operator.MASK:
        return mask(value, rule.mask_keep_last, rule.mask_char)
    if op is Operator.HASH:
        if not hmac_key:
            raise DetectorFailure("operator.hash: no tenant key")
        return keyed_hash(entity_type, value, hmac_key)
    if op is Operator.ENCRYPT:
        if encryptor is None:
            raise DetectorFailure("operator.encrypt: no encryptor")
        try:
            return encrypt_token(entity_type, value, encryptor, tenant_id)
        except Exception as exc:  # the key service failed: refuse, never pass through
            raise DetectorFailure("operator.encrypt") from exc
    if op is Operator.KEEP:
        return value
    raise DetectorFailure(f"operator.{op.value}")
