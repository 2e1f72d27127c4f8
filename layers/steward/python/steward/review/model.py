"""What the review queue holds: review items, their sealed texts, and text marks.

An item is one ``flag`` rule's hits in one backend call. Its texts are sealed apart from it (the
item's metadata is what lists and indexes carry, never the ciphertext). Each text also gets a
*mark*: a keyed MAC of (rule kind, rule, direction, text) under a per-tenant key derived from the
pepper, naming the item that holds it and what became of it (pending, approved, violation). A
mark is how the queue recognises the same text again without keeping it in clear: a pending or
judged text opens no second item, and an approved one is released (`service`). A plain hash of a
short text would be reversed by guessing; a MAC is not without the pepper, and two tenants'
marks of the same text never match.

States: ``open`` (nobody holds it), ``claimed`` (a reviewer holds it until ``claim_until``; a
lapsed claim reads as open), ``resolved`` (``approve``: a false positive; ``violation``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

REVIEW_ID_PATTERN = r"^rv_[0-9a-f]{24}$"
#: A listing position: the ``queued_at`` of the last item of the previous page.
CURSOR_PATTERN = r"^[0-9]{13}\.rv_[0-9a-f]{24}$"
_REVIEW_ID = re.compile(REVIEW_ID_PATTERN)
_CURSOR = re.compile(CURSOR_PATTERN)
#: Label of the per-tenant mark key; distinct from every other use of the pepper.
REVIEW_KEY_LABEL = b"steward-review-mac:"
#: Who the queue names as the reviewer of a CLI action (operator credentials: a role, no name).
CLI_REVIEWER = "cli"
#: Bounds of one item: the texts it keeps (the rest are counted, not kept) and their size.
MAX_ITEM_TEXTS = 16
MAX_SEALED_BYTES = 256 * 1024
DEFAULT_PAGE, MAX_PAGE = 50, 100


class State(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Decision(StrEnum):
    APPROVE = "approve"  # a false positive: the text may be served
    VIOLATION = "violation"  # a confirmed violation: never released


class MarkStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    VIOLATION = "violation"


def is_review_id(value: str) -> bool:
    return _REVIEW_ID.fullmatch(value) is not None


def is_cursor(value: str) -> bool:
    return _CURSOR.fullmatch(value) is not None


def new_review_id() -> str:
    return f"rv_{secrets.token_hex(12)}"


def queue_key(at_ms: int, review_id: str) -> str:
    """The item's place in its state's queue: time (ms, fixed width) then id, so keys sort."""
    return f"{at_ms:013d}.{review_id}"


def review_mac_key(pepper: bytes, tenant_id: str) -> bytes:
    """The tenant's mark key, HMAC(pepper, label + tenant): derived, never stored."""
    return hmac.new(pepper, REVIEW_KEY_LABEL + tenant_id.encode(), hashlib.sha256).digest()


def text_mac(key: bytes, kind: str, rule: str, direction: str, text: str) -> str:
    """The mark of one text under one rule (length-prefixed parts: no two inputs collide)."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (kind, rule, direction, text):
        encoded = part.encode("utf-8", "surrogatepass")
        mac.update(len(encoded).to_bytes(8, "big"))
        mac.update(encoded)
    return mac.hexdigest()


def seal_context(tenant_id: str, review_id: str) -> dict[str, str]:
    """Encryption context of an item's texts: the tenant (KMS binds the data key to it) and the
    item (bound as associated data, so a blob moved to another item or tenant can't be opened)."""
    return {"steward:tenant": tenant_id, "steward:review": review_id}


@dataclass(frozen=True)
class Mark:
    """One text's mark: which item holds it and what became of it, until ``expires_at``."""

    mac: str
    review_id: str
    status: MarkStatus
    expires_at: int

    def live(self, now: float) -> bool:
        return self.expires_at > now


@dataclass(frozen=True)
class ReviewItem:
    """An item's metadata (never its texts: those are sealed apart, `seal_context`)."""

    review_id: str
    tenant_id: str
    kind: str
    rule: str
    direction: str
    hold: bool
    model: str
    request_id: str
    key_id: str
    policy: str
    created_at: int
    expires_at: int
    queued_at: str
    texts: int
    texts_omitted: int = 0
    macs: tuple[str, ...] = field(default=(), repr=False)
    state: State = State.OPEN
    claimed_by: str = ""
    claim_until: int = 0
    decision: Decision | None = None
    suspend_key: bool = False
    resolved_by: str = ""
    resolved_at: int = 0

    def status(self, now: float) -> State:
        """The state as reviewers see it: a lapsed claim is open again."""
        if self.state is State.CLAIMED and self.claim_until <= now:
            return State.OPEN
        return self.state

    def view(self, now: float) -> dict[str, Any]:
        """Metadata as the admin API and the CLI show it: never a text, never a MAC."""
        status = self.status(now)
        claimed = status is State.CLAIMED
        return {
            "object": "review",
            "review_id": self.review_id,
            "tenant_id": self.tenant_id,
            "state": status.value,
            "kind": self.kind,
            "rule": self.rule,
            "direction": self.direction,
            "hold": self.hold,
            "model": self.model or None,
            "request_id": self.request_id,
            "key_id": self.key_id,
            "policy_version": self.policy,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "text_count": self.texts,
            "texts_omitted": self.texts_omitted,
            "claimed_by": self.claimed_by if claimed else None,
            "claim_expires_at": self.claim_until if claimed else None,
            "decision": self.decision.value if self.decision is not None else None,
            "suspend_key": self.suspend_key,
            "resolved_by": self.resolved_by or None,
            "resolved_at": self.resolved_at or None,
        }
