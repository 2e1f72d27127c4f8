"""The audit archive: every audit record as written, in S3 under Object Lock, so the records the
table's TTL removes stay readable and checkable (``steward audit export|verify --archive``).

**Archived as written, so before expiry by construction.** The audit table's stream (new images)
invokes the archiver within seconds of each write (``functions/audit_archiver``), and a stream
keeps its records for 24 hours, far inside the shortest retention (a day). A scheduled export
would have to keep up with TTL instead: one that lags, or fails for longer than the shortest
retention, loses records for good, and it would have to find new records by reading the table.

**Objects.** A batch of stream records is grouped by tenant and UTC day; each group becomes one
JSON lines object, one record per line exactly as ``steward audit export`` writes it (chain fields
included), in ``seq`` order, at
``audit/<tenant>/<yyyy>/<mm>/<dd>/<first time>-<first seq>-<last seq>-<digest>.jsonl``: sorted
by tenant and time, and named by its content (SHA-256 of the body). A redelivered batch therefore
names the same object, which is only created if absent, so the retry is a no-op. A batch cut
differently on a retry (bisected, or resumed from a failed record) writes some records again under
other names: the archive is at-least-once, and readers drop repeats (one MAC, one record).

**Retention.** Each object is locked (S3 Object Lock, the stage's mode) until the latest
``expires_at`` among its records: each record's tenant plan, so a record is held in the archive at
least as long as its plan keeps it in the table. At least a day from now (a record read late) and at
most the longest plan (`MAX_RETENTION_DAYS`): an item forged into the table can't lock an object
for a century.

**What is archived.** Every item the stream shows with a new image except the chain head (it is
rewritten on every write, and its state is in the records): originals, corrections (a MODIFY that
replaces the original's item: archived as another object, the original stays archived, both are
links of the chain) and whatever else lands in the table, a forged item included (verification
then names it). REMOVE events (TTL expiry or a deletion) carry no image and archive nothing: the
record was archived when it was written. Records hold only MACs, counts and codes (no personal
data, `steward.audit.record`), so the archive holds none either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from steward.audit.chain import HEAD_SK, AuditChain, Finding, Verdict, verify_chain
from steward.audit.record import SECONDS_PER_DAY
from steward.audit.trail import AuditTrailSource, json_line, sort_key_bound
from steward.controls.model import MAX_RETENTION_DAYS
from steward.resources import AUDIT_ARCHIVE_PREFIX

logger = logging.getLogger("steward.audit")
#: The stream events that carry an item to archive (REMOVE carries none).
ARCHIVED_EVENTS = frozenset({"INSERT", "MODIFY"})
#: The shortest lock: a record archived after its own expiry is still held this long.
MIN_LOCK_S = SECONDS_PER_DAY
UNDATED = "undated"
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})")


@dataclass(frozen=True)
class AuditChange:
    """One stream record: its sequence number, its event and the item's new image as plain JSON
    types (``steward audit export``'s), None without one."""

    sequence: str
    event: str
    record: Mapping[str, Any] | None


@dataclass(frozen=True)
class ArchiveObject:
    key: str
    body: bytes
    retain_until: int  # epoch seconds
    records: int


class ArchiveSink(Protocol):
    def put(self, obj: ArchiveObject) -> bool:
        """Create the object, locked until ``obj.retain_until``; False if it is there already
        (its key names its content, so that is this very object). Raises unless confirmed."""
        ...


class ArchiveSource(Protocol):
    def bodies(self, prefix: str, *, start_after: str | None) -> Iterator[tuple[str, bytes]]:
        """Every version of every object under ``prefix`` whose key sorts after ``start_after``,
        as ``(key, body)``: an object written over is read too, so it can't hide what it covered."""
        ...


@dataclass
class ArchiveOutcome:
    records: int = 0  # archived now or found archived (a redelivery)
    objects: int = 0  # written
    repeats: int = 0  # found written already
    skipped: int = 0  # head items and removals
    #: Sequence numbers of the changes not archived: the stream retries from the first of them.
    failed: set[str] = field(default_factory=set)


def tenant_prefix(tenant_id: str) -> str:
    """``audit/<tenant>/``: the tenant id percent-encoded (``/`` too), a leading dot as well, so no
    tenant's folder is ``.`` or ``..`` or inside another's."""
    segment = quote(tenant_id, safe="")
    if segment.startswith("."):
        segment = "%2E" + segment[1:]
    return f"{AUDIT_ARCHIVE_PREFIX}{segment}/"


def _day(sk: str) -> str:
    match = _DAY.match(sk)
    return f"{match[1]}/{match[2]}/{match[3]}" if match else UNDATED


def _seq(record: Mapping[str, Any]) -> int | None:
    seq = record.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _order(record: Mapping[str, Any]) -> tuple[int, str, str]:
    seq = _seq(record)
    return (-1 if seq is None else seq, str(record.get("sk", "")), str(record.get("mac", "")))


class AuditArchiver:
    """Writes a batch of audit changes to the archive: one object per tenant and day."""

    def __init__(
        self,
        sink: ArchiveSink,
        *,
        default_retention_days: int,
        clock: Callable[[], float] = time.time,
        max_parallel_puts: int = 16,
    ) -> None:
        self._sink = sink
        self._default_retention_s = default_retention_days * SECONDS_PER_DAY
        self._clock = clock
        self._parallel = max_parallel_puts

    def archive(self, changes: Sequence[AuditChange]) -> ArchiveOutcome:
        """One object per tenant and day, written in parallel: a batch spread over many tenants
        costs a few PUT round trips, not one after another (``scripts/measure_archive.py``)."""
        outcome = ArchiveOutcome()
        groups: dict[tuple[str, str], list[AuditChange]] = {}
        for change in changes:
            record = change.record
            if change.event not in ARCHIVED_EVENTS or record is None or record.get("sk") == HEAD_SK:
                outcome.skipped += 1
                continue
            tenant = str(record.get("tenant_id", ""))
            groups.setdefault((tenant, _day(str(record.get("sk", "")))), []).append(change)
        objects = [
            (self.object_for(tenant, day, [c.record for c in group if c.record is not None]), group)
            for (tenant, day), group in groups.items()
        ]
        if not objects:
            return outcome
        with ThreadPoolExecutor(max_workers=min(self._parallel, len(objects))) as pool:
            written = list(pool.map(self._put, [obj for obj, _ in objects]))
        for (obj, group), done in zip(objects, written, strict=True):
            if done is None:
                outcome.failed.update(c.sequence for c in group)
                continue
            outcome.records += obj.records
            if done:
                outcome.objects += 1
            else:
                outcome.repeats += 1
        return outcome

    def _put(self, obj: ArchiveObject) -> bool | None:
        """True: written; False: there already; None: not confirmed (logged)."""
        try:
            return self._sink.put(obj)
        except Exception as error:
            logger.error(
                "audit archive write failed",
                extra={"error_type": type(error).__name__, "key": obj.key, "records": obj.records},
            )
            return None

    def archive_records(self, records: Iterable[Mapping[str, Any]], *, chunk: int = 1000) -> ArchiveOutcome:
        """Archive records read from the table (``steward audit archive``: records written before
        the stream was on, or a batch the stream gave up on), ``chunk`` at a time (bounded
        objects and memory; the same window cuts the same chunks, so a re-run is a no-op).
        ``failed`` names records by their place in ``records``."""
        total = ArchiveOutcome()
        changes: list[AuditChange] = []

        def flush() -> None:
            done = self.archive(changes)
            total.records += done.records
            total.objects += done.objects
            total.repeats += done.repeats
            total.skipped += done.skipped
            total.failed |= done.failed
            changes.clear()

        for n, record in enumerate(records):
            changes.append(AuditChange(str(n), "INSERT", record))
            if len(changes) >= chunk:
                flush()
        if changes:
            flush()
        return total

    def object_for(self, tenant: str, day: str, records: Sequence[Mapping[str, Any]]) -> ArchiveObject:
        ordered = sorted(records, key=_order)
        body = "".join(json_line(r) + "\n" for r in ordered).encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(body).hexdigest()[:32]
        first_sk = min(str(r.get("sk", "")) for r in ordered)
        match = _DAY.match(first_sk)
        first = "".join(match.groups()[:3]) + "T" + "".join(match.groups()[3:]) + "Z" if match else UNDATED
        seqs = [s for s in (_seq(r) for r in ordered) if s is not None]
        span = f"{min(seqs)}-{max(seqs)}" if seqs else "x-x"
        return ArchiveObject(
            key=f"{tenant_prefix(tenant)}{day}/{first}-{span}-{digest}.jsonl",
            body=body,
            retain_until=self._retain_until(ordered),
            records=len(ordered),
        )

    def _retain_until(self, records: Sequence[Mapping[str, Any]]) -> int:
        now = int(self._clock())
        expiries = [
            int(value)
            for value in (r.get("expires_at") for r in records)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        ]
        latest = max(expiries) if expiries else now + self._default_retention_s
        return min(max(latest, now + MIN_LOCK_S), now + (MAX_RETENTION_DAYS + 1) * SECONDS_PER_DAY)


# --- reading back ----------------------------------------------------------------------------------


class ArchivedTrail:
    """A tenant's archived records as `steward.audit.trail.AuditTrailSource` (``export`` and
    ``verify`` read it like the table), with the chain head from the table (the archive skips it).

    Reads every version of every object in the tenant's folder (from ``since``'s day on), drops
    repeats (the same record twice: at-least-once archival) and keeps the rest in time order. A line
    that is not a JSON record is noted in `unreadable` (an object nobody but the archiver should
    have written)."""

    def __init__(self, source: ArchiveSource, table: AuditTrailSource) -> None:
        self._source = source
        self._table = table
        self.unreadable: list[str] = []

    def head(self, tenant_id: str) -> dict[str, Any] | None:
        return self._table.head(tenant_id)

    def trail(self, tenant_id: str, *, since: str | None, until: str | None) -> Iterator[dict[str, Any]]:
        prefix = tenant_prefix(tenant_id)
        start_after = f"{prefix}{_day(since)}/" if since and _day(since) != UNDATED else None
        seen: set[str] = set()
        found: list[dict[str, Any]] = []
        for key, body in self._source.bodies(prefix, start_after=start_after):
            for n, line in enumerate(body.decode("utf-8", "replace").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    self.unreadable.append(f"{key} line {n}")
                    continue
                identity = json_line(record)  # a repeat is the same record, not just the same MAC
                sk = str(record.get("sk", ""))
                if identity in seen or (since and sk < since) or (until and sk > until):
                    continue
                seen.add(identity)
                found.append(record)
        found.sort(key=lambda r: (str(r.get("sk", "")), *_order(r)))
        return iter(found)


def verify_archive(
    archived: ArchivedTrail,
    chain: AuditChain,
    tenant_id: str,
    *,
    since: str | None = None,
    now: float | None = None,
) -> Verdict:
    """Walk the tenant's archived chain (from ``since`` on, its first link taken as given): every
    record between the first and the last archived must be there, whatever its expiry; the table's
    head may run ahead (records not archived yet)."""
    low = sort_key_bound(since, "--since")
    records = list(archived.trail(tenant_id, since=low, until=None))
    head = archived.head(tenant_id)
    if archived.unreadable:
        return Verdict(
            tenant_id,
            len(records),
            None,
            None,
            None,
            Finding("edited", None, None, f"not a JSON record: {archived.unreadable[0]}"),
        )
    return verify_chain(
        chain,
        tenant_id,
        records,
        head,
        now=time.time() if now is None else now,
        anchored=low is not None,
        complete=True,
    )
