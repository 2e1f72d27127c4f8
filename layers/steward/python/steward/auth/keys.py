"""API key format, checksum and keyed hashing.

A key reads ``stw_<key_id>_<secret>_<checksum>``: ``key_id`` (12 chars) is the database key,
``secret`` (40 chars, ~206 bits) is what proves possession and ``checksum`` (CRC32 of the rest)
lets the authorizer reject typos and junk without a database read. Only
``HMAC-SHA256(pepper, key)`` is stored, so a leaked table is useless without the pepper kept in
Secrets Manager.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
import zlib
from dataclasses import dataclass, field

PREFIX = "stw"
KEY_ID_LEN = 12
SECRET_LEN = 40
_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"^stw_([a-z0-9]{12})_([a-z0-9]{40})_([0-9a-f]{8})$")
#: Scope granting the admin routes (for the key's own tenant).
ADMIN_SCOPE = "admin"
#: Scope granting the admin routes for every tenant (operators of the platform).
PLATFORM_ADMIN_SCOPE = "platform-admin"
#: ``models`` value granting every model of the registry.
ALL_MODELS = "*"
DEFAULT_POLICY_VERSION = "baseline-1"


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    token: str  # the full presented key; never logged


@dataclass(frozen=True)
class KeyLimits:
    """A key's own limits (``None``: no per-key limit; the tenant's plan still applies).

    Stored on the key record and carried in the authorizer context (`Principal.limits`), so the
    rate limiter reads them without another table read: requests per minute, per day, per month.
    """

    rpm: int | None = None
    daily: int | None = None
    monthly: int | None = None

    def within(self, ceiling: KeyLimits) -> bool:
        """Whether every limit of ``ceiling`` is also held here, no looser (no escalation)."""
        pairs = ((self.rpm, ceiling.rpm), (self.daily, ceiling.daily), (self.monthly, ceiling.monthly))
        return all(cap is None or (mine is not None and mine <= cap) for mine, cap in pairs)


NO_LIMITS = KeyLimits()


@dataclass(frozen=True)
class KeyRecord:
    """What the key store holds for one key (never the secret itself)."""

    key_id: str
    tenant_id: str
    secret_hash: str
    models: tuple[str, ...] = (ALL_MODELS,)
    scopes: tuple[str, ...] = ()
    expires_at: int | None = None  # epoch seconds; None = no expiry
    revoked: bool = False
    created_at: int = field(default_factory=lambda: int(time.time()))
    name: str = ""
    policy_version: str = DEFAULT_POLICY_VERSION
    limits: KeyLimits = NO_LIMITS
    rotated_from: str = ""  # the key this one succeeded (rotation), if any
    rotated_to: str = ""  # the successor, once rotated: this key then expires at the overlap's end
    revoked_at: int | None = None

    def is_active(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    return f"{zlib.crc32(body.encode()) & 0xFFFFFFFF:08x}"


def format_key(key_id: str, secret: str) -> str:
    body = f"{PREFIX}_{key_id}_{secret}"
    return f"{body}_{checksum(body)}"


def parse_key(token: str) -> ParsedKey | None:
    """The key's parts if it is well formed and its checksum matches, else ``None``."""
    if len(token) > 80:
        return None
    match = _KEY_RE.match(token)
    if match is None:
        return None
    key_id, secret, check = match.groups()
    if not hmac.compare_digest(check, checksum(f"{PREFIX}_{key_id}_{secret}")):
        return None
    return ParsedKey(key_id=key_id, token=token)


def hash_key(pepper: bytes, token: str) -> str:
    return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()


def verify_key(pepper: bytes, token: str, secret_hash: str) -> bool:
    """Constant-time comparison of the presented key's HMAC with the stored one."""
    return hmac.compare_digest(hash_key(pepper, token), secret_hash)


def generate_key(
    tenant_id: str,
    *,
    pepper: bytes,
    models: tuple[str, ...] = (ALL_MODELS,),
    scopes: tuple[str, ...] = (),
    expires_at: int | None = None,
    name: str = "",
    policy_version: str = DEFAULT_POLICY_VERSION,
    limits: KeyLimits | None = None,
) -> tuple[str, KeyRecord]:
    """A new key: the plaintext (show it once, never store it) and the record to store."""
    if not tenant_id:
        raise ValueError("tenant_id is required")
    key_id = _random(KEY_ID_LEN)
    token = format_key(key_id, _random(SECRET_LEN))
    record = KeyRecord(
        key_id=key_id,
        tenant_id=tenant_id,
        secret_hash=hash_key(pepper, token),
        models=tuple(sorted(set(models))),
        scopes=tuple(sorted(set(scopes))),
        expires_at=expires_at,
        name=name,
        policy_version=policy_version,
        limits=limits or NO_LIMITS,
    )
    return token, record
