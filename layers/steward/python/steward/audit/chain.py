"""Tamper-evident audit: one MAC chain per tenant, so an edit, insertion or deletion shows.

Each record carries ``seq`` (1, 2, ... per tenant), ``prev_mac`` (the previous record's MAC),
``prev_expires_at`` (when the previous record ages out) and ``mac``: HMAC-SHA256 over the
record's canonical content (every field but ``mac``) under the tenant's *chain key*,
HMAC(pepper, ``steward-audit-chain:`` + tenant). A reader of the table sees every MAC but can't
compute a new one, so it can't re-forge a record it edits or inserts; a deleted record leaves a
gap in ``seq`` and a ``prev_mac`` that points at nothing.

**No fork under concurrent writers.** A per-tenant *head* item (``sk`` `HEAD_SK`, sorted after
every record) holds the last ``seq`` and MAC. A write seals the record against the head it read
and commits, in one DynamoDB ``TransactWriteItems``, the record (created only if absent) and the
head (replaced only if its ``seq`` is still the one read). Two writers that read the same head
can't both commit: the loser's transaction is cancelled as a whole (nothing lands), it takes the
current head (returned by the failed condition, or read again) and re-seals, at most
`MAX_TRIES` times within `MAX_WRITE_S`, with full-jitter backoff. Chosen because it keeps the
one write before the response: an atomic counter alone hands out ``seq`` but not the previous MAC
(that record may not be written yet, and a crash between the two leaves a gap that reads as a
deletion); chaining afterwards from a stream leaves a window where edits go unnoticed and needs a
sequencer. The price is one serialised item per tenant: a tenant's records commit one at a time
(a few hundred per second with retries), which per-tenant sharding of the chain would lift.

**Corrections are chained too.** When a write's outcome is unknown the caller gets 503 and the
request's item is replaced by a correction saying so. The correction is sealed as a new link (the
next ``seq``); if it replaces an original that did land, it carries that original's ``seq``,
``prev_mac`` and ``mac`` in ``correction.replaces`` (under its own MAC), so the verifier fills the
original's place in the chain from it. It replaces only what it read (the item absent, or the
same MAC), and the original only creates, so a late-landing original can't undo it.

**Retention.** Records age out by TTL (``expires_at``, the tenant plan's retention). A missing
record is accepted as expired only when its successor's ``prev_expires_at`` (under the
successor's MAC) is in the past: so a chain whose oldest records expired still holds, and one
whose oldest records were deleted early does not. The head's ``last_expires_at`` does the same for
the newest records. What the table alone can't show: someone with write access who deletes the
newest records *and* puts back an older head item they kept. The archive
(`steward.audit.archive`, S3 under Object Lock) is the external anchor that does: it holds every
record as written, and its walk (``complete``) takes no gap for an expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import orjson

CHAIN_KEY_LABEL = b"steward-audit-chain:"
HEAD_LABEL = b"steward-audit-chain-head:"
#: The head's sort key: sorts after every record's ``<ISO time>#<request id>``.
HEAD_SK = "~chain-head"
#: Records' sort keys sort below this (queries that must not see the head stop here).
RECORDS_BELOW_SK = "~"
GENESIS_MAC = "0" * 64
CHAIN_FIELDS = ("seq", "prev_mac", "prev_expires_at", "mac")
MAX_TRIES = 16
#: Give up well inside the audit budget (a stalled table fails sooner, on its client's bounds).
MAX_WRITE_S = 2.0
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.004, 0.128


@dataclass(frozen=True)
class ChainHead:
    """Where a tenant's chain ends: the last ``seq``, its MAC and when it expires."""

    seq: int = 0
    mac: str = GENESIS_MAC
    last_expires_at: int = 0


GENESIS = ChainHead()


class HeadMoved(Exception):
    """The head is no longer the one sealed against (another writer committed first)."""

    def __init__(self, current: ChainHead | None = None) -> None:
        super().__init__("audit chain head moved")
        self.current = current


class RecordExists(Exception):
    """The record's item is not in the state the write expected (absent, or the MAC read)."""


class ChainContention(Exception):
    """The head kept moving for `MAX_TRIES` tries: the write is not confirmed."""


def tenant_chain_key(pepper: bytes, tenant_id: str) -> bytes:
    """HMAC(pepper, label + tenant): its own label, distinct from the audit MAC keys."""
    return hmac.new(
        pepper, CHAIN_KEY_LABEL + tenant_id.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).digest()


def _number(value: int | float | Decimal) -> str:
    """DynamoDB normalises numbers (``5.0`` reads back as ``5``): MAC the value, not its spelling."""
    text = format(Decimal(repr(value) if isinstance(value, float) else value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _tagged(value: Any) -> Any:
    """A type-tagged tree (a string "5" and a number 5 never collide); ``None`` in a map is
    dropped, as the table drops it."""
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, int | float | Decimal):
        return ["n", _number(value)]
    if isinstance(value, Mapping):
        return [
            "m",
            [
                [str(k), _tagged(v)]
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if v is not None
            ],
        ]
    if isinstance(value, list | tuple):
        return ["l", [_tagged(v) for v in value]]
    if value is None:
        return ["z"]
    raise TypeError(f"cannot chain {type(value).__name__}")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's MAC covers: every field but ``mac``."""
    return orjson.dumps(_tagged({k: v for k, v in record.items() if k != "mac"}))


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


class AuditChain:
    """Seals records for a tenant's chain; the pepper is read once, each chain key derived once."""

    def __init__(self, pepper: Callable[[], bytes]) -> None:
        self._pepper = pepper
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def key(self, tenant_id: str) -> bytes:
        found = self._keys.get(tenant_id)
        if found is None:
            with self._lock:
                found = self._keys[tenant_id] = tenant_chain_key(self._pepper(), tenant_id)
        return found

    def seal(self, record: Mapping[str, Any], head: ChainHead) -> tuple[dict[str, Any], ChainHead]:
        """The record as the next link after ``head``, and the head after it."""
        sealed = {k: v for k, v in record.items() if k not in CHAIN_FIELDS}
        sealed.update(seq=head.seq + 1, prev_mac=head.mac, prev_expires_at=head.last_expires_at)
        sealed["mac"] = _mac(self.key(str(record["tenant_id"])), canonical(sealed))
        return sealed, ChainHead(sealed["seq"], sealed["mac"], int(record.get("expires_at") or 0))

    def head_item(self, tenant_id: str, head: ChainHead) -> dict[str, Any]:
        """The stored head (no ``expires_at``: it never ages out), with a MAC of its own."""
        return {
            "tenant_id": tenant_id,
            "sk": HEAD_SK,
            "seq": head.seq,
            "mac": head.mac,
            "last_expires_at": head.last_expires_at,
            "head_mac": _mac(
                self.key(tenant_id), HEAD_LABEL + f"{head.seq}:{head.mac}:{head.last_expires_at}".encode()
            ),
        }

    def record_mac_ok(self, record: Mapping[str, Any]) -> bool:
        expected = _mac(self.key(str(record["tenant_id"])), canonical(record))
        return hmac.compare_digest(expected, str(record.get("mac", "")))

    def head_ok(self, item: Mapping[str, Any]) -> bool:
        return hmac.compare_digest(
            self.head_item(str(item["tenant_id"]), head_of(item))["head_mac"], str(item.get("head_mac", ""))
        )


def head_of(item: Mapping[str, Any] | None) -> ChainHead:
    if not item:
        return GENESIS
    return ChainHead(
        int(item.get("seq", 0)), str(item.get("mac", GENESIS_MAC)), int(item.get("last_expires_at", 0))
    )


# --- writing ---------------------------------------------------------------------------------------


class ChainStorage(Protocol):
    """The primitives an audit table offers the chain (DynamoDB, or the in-memory fake)."""

    def read_head(self, tenant_id: str) -> ChainHead | None:
        """The tenant's head, read consistently (``None``: no chain yet)."""
        ...

    def read_record(self, tenant_id: str, sk: str) -> dict[str, Any] | None: ...

    def commit(
        self,
        record: Mapping[str, Any],
        head_item: Mapping[str, Any],
        *,
        expected: ChainHead | None,
        replace_mac: str | None,
    ) -> None:
        """Atomically write ``record`` and ``head_item``, or neither.

        The record only if its item is absent (``replace_mac`` None) or holds that MAC, else
        `RecordExists`; the head only if its ``seq`` is ``expected.seq`` (absent for ``None``),
        else `HeadMoved` (with the current head when known).
        """
        ...


@dataclass
class ChainWriter:
    """The write rules of `steward.audit.record.AuditStore` over a chained table, shared by the
    DynamoDB adapter and the fake so the two can't chain differently."""

    storage: ChainStorage
    chain: AuditChain
    sleep: Callable[[float], None] = time.sleep
    _heads: dict[str, ChainHead | None] = field(default_factory=dict)

    def put(self, record: Mapping[str, Any]) -> None:
        """Create the record as the next link; an item already there is an earlier try of it."""
        self._commit(record, correcting=False)

    def correct(self, record: Mapping[str, Any]) -> None:
        """Replace the request's item by a chained correction (see the module docstring)."""
        self._commit(record, correcting=True)

    def _commit(self, record: Mapping[str, Any], *, correcting: bool) -> None:
        tenant, sk = str(record["tenant_id"]), str(record["sk"])
        deadline = time.monotonic() + MAX_WRITE_S
        head = self._heads[tenant] if tenant in self._heads else self.storage.read_head(tenant)
        for attempt in range(MAX_TRIES):
            content: Mapping[str, Any] = record
            replace_mac: str | None = None
            if correcting:
                existing = self.storage.read_record(tenant, sk)
                if existing is not None and "correction" in existing:
                    return  # a correction of this request stands already (a retried one)
                replaces = None
                if existing is not None:
                    replace_mac = str(existing.get("mac", ""))
                    replaces = {k: existing[k] for k in ("seq", "prev_mac", "mac") if k in existing}
                content = {**record, "correction": {"replaces": replaces}}
            sealed, after = self.chain.seal(content, head or GENESIS)
            try:
                self.storage.commit(
                    sealed, self.chain.head_item(tenant, after), expected=head, replace_mac=replace_mac
                )
            except RecordExists:
                if not correcting:
                    return  # an earlier try of this very write landed (or its correction did)
            except HeadMoved as moved:
                head = moved.current if moved.current is not None else self.storage.read_head(tenant)
            else:
                self._remember(tenant, after)
                return
            if time.monotonic() > deadline:
                break
            # Full jitter, doubling: the losers of one race spread out instead of meeting again.
            self.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))  # noqa: S311
        self._heads.pop(tenant, None)
        raise ChainContention()

    def _remember(self, tenant: str, head: ChainHead) -> None:
        if len(self._heads) > 10_000:
            self._heads.clear()
        self._heads[tenant] = head


# --- verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """The first place the chain does not hold: ``problem`` is edited, inserted, deleted or head."""

    problem: str
    seq: int | None
    request_id: str | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    tenant_id: str
    records: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int | None
    finding: Finding | None = None

    @property
    def ok(self) -> bool:
        return self.finding is None


@dataclass(frozen=True)
class _Slot:
    seq: int
    prev_mac: str
    mac: str
    prev_expires_at: int
    request_id: str | None


def verify_chain(
    chain: AuditChain,
    tenant_id: str,
    records: Iterable[Mapping[str, Any]],
    head_item: Mapping[str, Any] | None,
    *,
    now: float,
    anchored: bool = False,
    complete: bool = False,
) -> Verdict:
    """Walk the tenant's records in ``seq`` order against the head.

    ``anchored``: the records start somewhere after the chain's start (``--since``), so the first
    one's link backwards is taken as given. ``complete``: the records are the archive's, which
    keeps every record it was given, so a gap between two of them is a deletion whatever its
    expiry; records before the first may predate the archive (accepted once expired, as in the
    table), and the newest may not have arrived yet (the head may run ahead).
    """
    rows = list(records)
    slots: dict[int, _Slot] = {}
    findings: list[Finding] = []

    def found(problem: str, seq: int | None, request_id: Any, detail: str) -> None:
        findings.append(Finding(problem, seq, None if request_id is None else str(request_id), detail))

    valid = [r for r in rows if isinstance(r.get("seq"), int) and chain.record_mac_ok(r)]
    valid_ids = {id(r) for r in valid}
    head = head_of(head_item) if head_item else None
    for r in valid:
        seq, rid = int(r["seq"]), r.get("request_id")
        if seq in slots:
            found("inserted", seq, rid, "two valid records share a seq (a fork)")
        slots[seq] = _Slot(seq, str(r["prev_mac"]), str(r["mac"]), int(r.get("prev_expires_at", 0)), rid)
    after_mac = {slot.mac: slot.seq + 1 for slot in slots.values()}
    for r in rows:
        if id(r) in valid_ids:
            continue
        claimed, rid = r.get("seq"), r.get("request_id")
        # Where the record sits: after the valid record its link names (its seq may be edited).
        where = after_mac.get(str(r.get("prev_mac")), claimed if isinstance(claimed, int) else None)
        if where is None:
            found("inserted", None, rid, "a record without a chain link")
        elif where in slots and slots[where].request_id == rid and rid is not None:
            found("edited", where, rid, "a copy of the record whose content does not match its MAC")
        elif where in slots or (head is not None and where > head.seq):
            found("inserted", where, rid, "a record where the chain has one already")
        else:  # it stands where a valid record is missing: that record was changed
            found("edited", where, rid, "the record's MAC does not match its content")
    for r in valid:
        replaced = (r.get("correction") or {}).get("replaces")
        if isinstance(replaced, Mapping) and isinstance(replaced.get("seq"), int):
            seq = int(replaced["seq"])
            slots.setdefault(
                seq, _Slot(seq, str(replaced["prev_mac"]), str(replaced["mac"]), 0, r.get("request_id"))
            )

    if head_item is not None and not chain.head_ok(head_item):
        found("head", head.seq if head else None, None, "the head's MAC does not match")
    if head is None and (slots or rows):
        found("head", None, None, "records without a chain head (the head was deleted)")

    ordered = sorted(slots)
    previous: _Slot | None = None
    for seq in ordered:
        slot = slots[seq]
        if previous is None:
            if seq > 1 and not anchored and slot.prev_expires_at > now:
                how = "is not in the archive and had not expired" if complete else "is gone before it expired"
                found("deleted", seq - 1, None, f"record {seq - 1} {how} (before request {slot.request_id})")
        elif seq != previous.seq + 1:
            if complete:
                found(
                    "deleted",
                    previous.seq + 1,
                    None,
                    f"record {previous.seq + 1} is not in the archive (before request {slot.request_id})",
                )
            elif slot.prev_expires_at > now:
                found(
                    "deleted",
                    previous.seq + 1,
                    None,
                    f"record {previous.seq + 1} is gone before it expired (before request {slot.request_id})",
                )
        elif slot.prev_mac != previous.mac:
            found("inserted", seq, slot.request_id, "the link does not follow the previous record (a fork)")
        previous = slot
    if head is not None:
        last = previous
        if last is not None and last.seq > head.seq:
            found("inserted", last.seq, last.request_id, "a record after the chain's head")
        elif last is not None and last.seq == head.seq and last.mac != head.mac:
            found("inserted", last.seq, last.request_id, "the last record is not the one the head names")
        elif (
            (last is None or last.seq < head.seq)
            and not complete
            and head.last_expires_at > now
            and not (anchored and last is None and not rows)
        ):
            gone = (last.seq + 1) if last is not None else head.seq
            found("deleted", gone, None, f"record {gone} is gone before it expired (the newest records)")

    findings.sort(key=lambda f: (f.seq is None, f.seq or 0))
    return Verdict(
        tenant_id=tenant_id,
        records=len(rows),
        first_seq=ordered[0] if ordered else None,
        last_seq=ordered[-1] if ordered else None,
        head_seq=head.seq if head else None,
        finding=findings[0] if findings else None,
    )
