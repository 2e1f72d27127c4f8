"""The jobs on the batch queue: what a message may hold, parsed strictly.

Steward's own jobs are small JSON documents of ids (``plan``, ``chunk``, ``sweep``, ``expire``).
The queue also receives S3's event notifications for the drop-in prefix (``incoming/<tenant>/``,
`steward.batches.dropin`): each becomes an ``ingest`` job whose batch id is derived from the event
(object, version tag, time), so a notification delivered twice names the same batch. S3's
``s3:TestEvent`` (sent when a notification is configured) is a ``noop``. Anything else is not a job:
it fails, and after the receive limit waits in the dead-letter queue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson

from steward.controls.model import TENANT_ID

PLAN, CHUNK, SWEEP, EXPIRE, INGEST, NOOP = "plan", "chunk", "sweep", "expire", "ingest", "noop"
_KINDS = {PLAN, CHUNK, SWEEP, EXPIRE, INGEST}
#: Where tenants drop batch files: ``incoming/<tenant>/<name>``.
INCOMING = "incoming/"
_OBJECT_KEY_MAX = 1024


@dataclass(frozen=True)
class Job:
    """One queue message: plan a batch, run one of its chunks, sweep or expire, ingest a drop-in."""

    kind: str
    tenant_id: str
    batch_id: str
    chunk: int = 0
    object_key: str = ""  # ingest: the dropped object

    @classmethod
    def parse(cls, body: str | bytes) -> Job:
        """The job a message holds; ValueError for anything else. A sweep (the schedule's) names
        no batch: its ``batch_id`` is ``sweep_<time>``, unique per run."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ValueError("not a batch job") from None
        if not isinstance(doc, dict):
            raise ValueError("not a batch job")
        if "Records" in doc or doc.get("Event") == "s3:TestEvent":
            return _from_s3_event(doc)
        if doc.get("kind") not in _KINDS:
            raise ValueError("not a batch job")
        tenant, batch, chunk = doc.get("tenant_id"), doc.get("batch_id"), doc.get("chunk", 0)
        prefix = "sweep_" if doc["kind"] == SWEEP else "batch_"
        if not (isinstance(tenant, str) and tenant and isinstance(batch, str) and batch.startswith(prefix)):
            raise ValueError("not a batch job")
        if type(chunk) is not int or chunk < 0:
            raise ValueError("not a batch job")
        key = doc.get("object_key", "")
        if not isinstance(key, str) or (doc["kind"] == INGEST) != bool(key):
            raise ValueError("not a batch job")
        return cls(str(doc["kind"]), tenant, batch, chunk, key)

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "batch_id": self.batch_id,
            "chunk": self.chunk,
        }
        if self.object_key:
            message["object_key"] = self.object_key
        return message


def _from_s3_event(doc: dict[str, Any]) -> Job:
    if doc.get("Event") == "s3:TestEvent":
        return Job(NOOP, "-", "noop_test")
    records = doc.get("Records")
    if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
        raise ValueError("not a batch job")
    record = records[0]
    s3 = record.get("s3") if record.get("eventSource") == "aws:s3" else None
    if not isinstance(s3, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        raise ValueError("not a batch job")
    bucket = str((s3.get("bucket") or {}).get("name", ""))
    obj = s3.get("object") or {}
    key = unquote_plus(str(obj.get("key", "")))
    parts = key.split("/")
    if not key.startswith(INCOMING) or len(parts) < 3 or not parts[-1]:
        raise ValueError("not a batch job")
    if not TENANT_ID.fullmatch(parts[1]):  # never "." or "..", nor a partition Steward keeps
        raise ValueError("not a batch job")
    if len(key) > _OBJECT_KEY_MAX:
        raise ValueError("not a batch job")
    try:
        when = datetime.fromisoformat(str(record.get("eventTime", "")).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a batch job") from None
    tag = str(obj.get("sequencer") or obj.get("eTag") or "")
    digest = hashlib.sha256(f"{bucket}/{key}/{tag}/{record.get('eventTime')}".encode()).hexdigest()
    batch_id = f"batch_{int(when.timestamp() * 1000):012x}" + digest[:20]
    return Job(INGEST, parts[1], batch_id, 0, key)
