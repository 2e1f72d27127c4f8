"""In-memory implementations of Steward's ports, for unit tests, benchmarks and demos.

They honour the same contracts as the DynamoDB adapters and the backend transports, so domain
code is exercised exactly as in production, minus the network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from steward.audit.archive import ArchiveObject, AuditChange
from steward.audit.chain import AuditChain, ChainHead, ChainWriter, HeadMoved, RecordExists, head_of
from steward.auth.keys import KeyRecord
from steward.catalog.history import VersionEvent
from steward.catalog.registry import MODEL_ITEM_SK, ModelDocument, ModelEntry, ModelVersion, Target
from steward.controls.model import (
    KillSwitch,
    Scope,
    Tenant,
    TenantExistsError,
    TenantMissingError,
    TenantStatus,
)
from steward.limits.counters import Charge, Counted, CounterValue, StoredPlan
from steward.limits.plan import Plan
from steward.limits.windows import Window
from steward.routing.transport import BackendRequest, BackendResponse

#: The fake audit store's pepper (unit tests verify its chains with the store's own ``chain``).
FAKE_AUDIT_PEPPER = b"fake-audit-chain-pepper-0123456789"


class InMemoryKeyStore:
    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.reads = 0

    def get(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        return self.records.get(key_id)

    def put(self, record: KeyRecord) -> None:
        if record.key_id in self.records:
            raise ValueError("key exists")
        self.records[record.key_id] = record

    def revoke(self, key_id: str, *, now: float | None = None) -> None:
        revoked_at = int(now) if now is not None else None
        self.records[key_id] = replace(self.records[key_id], revoked=True, revoked_at=revoked_at)

    def list_tenant(self, tenant_id: str) -> list[KeyRecord]:
        return [r for r in self.records.values() if r.tenant_id == tenant_id]

    def rotate(self, old: KeyRecord, successor: KeyRecord, *, old_expires_at: int) -> bool:
        current = self.records.get(old.key_id)
        if current is None or current.revoked or current.rotated_to or successor.key_id in self.records:
            return False
        self.records[successor.key_id] = successor
        self.records[old.key_id] = replace(current, rotated_to=successor.key_id, expires_at=old_expires_at)
        return True


class InMemoryRegistryStore:
    def __init__(self) -> None:
        self.entries: dict[str, ModelEntry] = {}
        self.versions: dict[str, dict[str, ModelVersion]] = {}
        self.events: dict[str, list[VersionEvent]] = {}
        self.reads = 0

    def append_history(self, model: str, event: VersionEvent) -> None:
        self.events.setdefault(model, []).append(event)

    def commit(
        self,
        *,
        entry: ModelEntry | None = None,
        version: ModelVersion | None = None,
        event: VersionEvent | None = None,
    ) -> None:
        """All or nothing, as the DynamoDB transaction: the entry's revision is checked first."""
        if entry is not None:
            self.put_entry(entry)  # raises `ModelChanged` before anything is kept
        if version is not None:
            self.put_version(version)
        if event is not None:
            model = entry.model if entry is not None else version.model if version is not None else ""
            self.append_history(model, event)

    def history(self, model: str, limit: int = 50) -> list[VersionEvent]:
        return list(reversed(self.events.get(model, [])))[:limit]

    def put_entry(self, entry: ModelEntry) -> None:
        """As DynamoDB's conditional write: only over the revision read (`ModelChanged`)."""
        from steward.errors import ModelChanged

        stored = self.entries.get(entry.model)
        if stored is not None and stored.revision != entry.revision:
            raise ModelChanged()
        self.entries[entry.model] = replace(entry, revision=entry.revision + 1)

    def put_version(self, version: ModelVersion) -> None:
        if version.version == MODEL_ITEM_SK:
            raise ValueError("reserved version name")
        self.versions.setdefault(version.model, {})[version.version] = version

    def get_model(self, model: str) -> ModelDocument:
        self.reads += 1
        return ModelDocument(entry=self.entries.get(model), versions=dict(self.versions.get(model, {})))

    def list_models(self) -> list[ModelDocument]:
        self.reads += 1
        return [self.get_model(m) for m in sorted(set(self.entries) | set(self.versions))]


class InMemoryAuditStore:
    """Chained, create-only ``put`` and chained ``correct``, keyed (tenant, sk) as in DynamoDB.

    Chains through `steward.audit.chain.ChainWriter`, the code the DynamoDB adapter runs, over an
    atomic in-memory ``commit`` (records and heads under one lock), so the two can't diverge.
    """

    def __init__(self, chain: AuditChain | None = None) -> None:
        self.records: list[dict[str, Any]] = []
        self.heads: dict[str, dict[str, Any]] = {}
        #: What the table's stream (new images) would show, in commit order.
        self.stream: list[AuditChange] = []
        self.fail = False
        self._where: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.chain = chain or AuditChain(lambda: FAKE_AUDIT_PEPPER)
        self._writer = ChainWriter(self, self.chain, sleep=lambda _s: None)

    def _find(self, tenant_id: str, sk: str) -> int | None:
        key = (tenant_id, sk)
        i = self._where.get(key, len(self.records))  # checked: callers may clear ``records``
        if i < len(self.records) and (self.records[i]["tenant_id"], self.records[i]["sk"]) == key:
            return i
        return None

    # -- ChainStorage
    def read_head(self, tenant_id: str) -> ChainHead | None:
        item = self.heads.get(tenant_id)
        return head_of(item) if item is not None else None

    def read_record(self, tenant_id: str, sk: str) -> dict[str, Any] | None:
        found = self._find(tenant_id, sk)
        return dict(self.records[found]) if found is not None else None

    def commit(
        self,
        record: Mapping[str, Any],
        head_item: Mapping[str, Any],
        *,
        expected: ChainHead | None,
        replace_mac: str | None,
    ) -> None:
        tenant = str(record["tenant_id"])
        with self._lock:
            found = self._find(tenant, str(record["sk"]))
            if (found is None) != (replace_mac is None) or (
                found is not None and self.records[found].get("mac") != replace_mac
            ):
                raise RecordExists()
            current = self.heads.get(tenant)
            if (current is None) != (expected is None) or (
                current is not None and expected is not None and current["seq"] != expected.seq
            ):
                raise HeadMoved(head_of(current) if current is not None else None)
            if found is None:
                self._where[(tenant, str(record["sk"]))] = len(self.records)
                self.records.append(dict(record))
            else:
                self.records[found] = dict(record)
            self._stream("INSERT" if found is None else "MODIFY", record)
            self._stream("INSERT" if current is None else "MODIFY", head_item)
            self.heads[tenant] = dict(head_item)

    def _stream(self, event: str, item: Mapping[str, Any]) -> None:
        self.stream.append(AuditChange(str(1000 + len(self.stream)), event, json.loads(json.dumps(item))))

    # -- AuditStore
    def put(self, record: Mapping[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("audit store down")
        self._writer.put(record)

    def correct(self, record: Mapping[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("audit store down")
        self._writer.correct(record)

    # -- AuditTrailSource
    def head(self, tenant_id: str) -> dict[str, Any] | None:
        found = self.heads.get(tenant_id)
        return dict(found) if found is not None else None

    def records_of(self, tenant_id: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.records if r["tenant_id"] == tenant_id), key=lambda r: r["sk"])

    def trail(self, tenant_id: str, *, since: str | None, until: str | None) -> Iterator[dict[str, Any]]:
        for r in self.records_of(tenant_id):
            if (since is None or r["sk"] >= since) and (until is None or r["sk"] <= until):
                yield dict(r)

    def query(
        self, tenant_id: str, *, limit: int, after_sk: str | None, key_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        mine = sorted(
            (
                r
                for r in self.records
                if r["tenant_id"] == tenant_id and (key_id is None or r["key_id"] == key_id)
            ),
            key=lambda r: r["sk"],
            reverse=True,
        )
        if after_sk:
            mine = [r for r in mine if r["sk"] < after_sk]
        page = mine[:limit]
        return page, (page[-1]["sk"] if len(mine) > limit else None)


class InMemoryAuditArchive:
    """`steward.audit.archive.ArchiveSink` and ``ArchiveSource`` as the audit bucket behaves:
    create-only puts, every version of a key kept and read back (versioning under Object Lock);
    writes under a prefix in ``failing`` raise."""

    def __init__(self) -> None:
        self.versions: dict[str, list[bytes]] = {}
        self.retain_until: dict[str, int] = {}
        self.failing: set[str] = set()
        self.puts = 0
        self._lock = threading.Lock()  # the archiver writes a batch's objects in parallel

    def put(self, obj: ArchiveObject) -> bool:
        with self._lock:
            self.puts += 1
            if any(obj.key.startswith(prefix) for prefix in self.failing):
                raise ConnectionError("audit bucket down")
            if obj.key in self.versions:
                return False
            self.versions[obj.key] = [obj.body]
            self.retain_until[obj.key] = obj.retain_until
            return True

    def write_version(self, key: str, body: bytes) -> None:
        """A new version over ``key`` (what someone with s3:PutObject could do; the old one stays)."""
        self.versions.setdefault(key, []).append(body)

    def bodies(self, prefix: str, *, start_after: str | None) -> Iterator[tuple[str, bytes]]:
        for key in sorted(self.versions):
            if key.startswith(prefix) and (start_after is None or key > start_after):
                for body in self.versions[key]:
                    yield key, body

    def records(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for bodies in self.versions.values() for b in bodies for line in b.splitlines()
        ]


@dataclass
class FakeTransport:
    """A backend answering OIP requests from ``respond`` (default: deterministic embeddings)."""

    respond: Callable[[Target, BackendRequest], BackendResponse] | None = None
    calls: list[tuple[Target, BackendRequest, float]] = field(default_factory=list)
    dim: int = 384

    def send(self, target: Target, request: BackendRequest, timeout_s: float) -> BackendResponse:
        self.calls.append((target, request, timeout_s))
        if self.respond is not None:
            return self.respond(target, request)
        return BackendResponse(200, json.dumps(embedding_response(request, self.dim)).encode())


def embedding_response(request: BackendRequest, dim: int = 384) -> dict[str, Any]:
    """A well-formed OIP embedding answer: row i is filled with ``(i + 1) / dim``."""
    inputs = request.payload.get("inputs") or [{}]
    n = int((inputs[0].get("shape") or [1])[0])
    data = [(i + 1) / dim for i in range(n) for _ in range(dim)]
    return {
        "model_name": request.model,
        "model_version": request.version,
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [n, dim], "data": data}],
    }


def demo_model(
    model: str = "all-minilm-l6-v2",
    version: str = "1",
    *,
    approval: str = "approved",
    target: Target | None = None,
    task: str = "sentence-embedding",
    enabled: bool = True,
) -> tuple[ModelEntry, ModelVersion]:
    entry = ModelEntry(model=model, default_version=version, enabled=enabled, owner="ml-team", created_at=1)
    mv = ModelVersion(
        model=model,
        version=version,
        approval=approval,
        target=target or Target(kind="http", url="http://backend.test"),
        backend_model=model,
        backend_version=version,
        artifact_digest="sha256:" + "ab" * 32,
        task=task,
        **(_TABULAR_TENSORS if task.startswith("tabular") else _TEXT_TENSORS),
    )
    return entry, mv


# What the demo models declare, as their manifests do (the gateway checks tensor names against it).
_TEXT_TENSORS: dict[str, Any] = {
    "inputs": ({"name": "text", "datatype": "BYTES", "shape": [-1]},),
    "outputs": ({"name": "embedding", "datatype": "FP32", "shape": [-1, 384]},),
}
_TABULAR_TENSORS: dict[str, Any] = {
    "inputs": ({"name": "features", "datatype": "FP32", "shape": [-1, -1]},),
    "outputs": ({"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},),
}


class InMemoryFairnessStore:
    """`steward.fairness.monitor.FairnessStore` in memory (same keys, 404/409 rules as DynamoDB)."""

    def __init__(self) -> None:
        from steward.fairness.monitor import TenantCounters

        #: (model, version) -> tenant -> counters; what DynamoDB holds under ``counts#...``.
        self.windows: dict[tuple[str, str], dict[str, TenantCounters]] = {}
        self.joins: dict[tuple[str, str], Any] = {}
        self.done: dict[tuple[str, str], str] = {}  # (tenant, request id) -> model
        self.reports: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.labels: dict[str, Any] = {}  # tenant -> GroupLabels
        #: (model, version, tenant, window, threshold) -> ClassifierQuality; the quality counters.
        self.quality: dict[tuple[str, str, str, str, float], Any] = {}
        self.fail = False

    def _tenant(self, tenant_id: str, model: str, version: str) -> Any:
        from steward.fairness.monitor import TenantCounters

        return self.windows.setdefault((model, version), {}).setdefault(tenant_id, TenantCounters())

    def record(self, join: Any) -> None:
        from steward.fairness.counters import FairnessCounters

        if self.fail:
            raise ConnectionError("fairness store down")
        key = (join.tenant_id, join.request_id)
        if key in self.joins or key in self.done:
            raise ValueError("request id already recorded")
        if join.grouped:
            counters = self._tenant(join.tenant_id, join.model, join.version).windows.setdefault(
                join.window, FairnessCounters()
            )
            for outcome in join.outcomes:
                counters.add(outcome.group, outcome.prediction, None)
        self.joins[key] = join

    def count_unknown(self, tenant_id: str, model: str, version: str, window: str, n: int) -> None:
        if self.fail:
            raise ConnectionError("fairness store down")
        unknown = self._tenant(tenant_id, model, version).unknown
        unknown[window] = unknown.get(window, 0) + n

    def pending(self, tenant_id: str, request_id: str) -> Any:
        return self.joins.get((tenant_id, request_id))

    def settled_model(self, tenant_id: str, request_id: str) -> str | None:
        return self.done.get((tenant_id, request_id))

    def resolve(self, join: Any, labels: Any, quality: Any = None) -> None:
        from steward.errors import FeedbackDuplicate

        key = (join.tenant_id, join.request_id)
        if key not in self.joins:
            raise FeedbackDuplicate()
        if join.grouped:
            counters = self.windows[(join.model, join.version)][join.tenant_id].windows[join.window]
            for outcome, label in zip(join.outcomes, labels, strict=True):
                counters.resolve_label(outcome.group, outcome.prediction, label)
        if quality is not None and quality.n:
            at = (join.model, join.version, join.tenant_id, join.window, quality.threshold)
            self.quality[at] = self.quality[at].merge(quality) if at in self.quality else quality
        del self.joins[key]
        self.done[key] = join.model

    def quality_counts(
        self,
        model: str,
        version: str,
        *,
        first_window: str,
        last_window: str,
        tenant_id: str | None = None,
        threshold: float | None = None,
    ) -> list[Any]:
        from steward.quality.monitor import QualityCounts

        return [
            QualityCounts(tenant, window, quality)
            for (m, v, tenant, window, t), quality in sorted(self.quality.items(), key=lambda kv: kv[0][:4])
            if (m, v) == (model, version)
            and threshold in (None, t)
            and first_window <= window <= last_window
            and tenant_id in (None, tenant)
        ]

    def counters(self, model: str, version: str) -> dict[str, Any]:
        return dict(self.windows.get((model, version), {}))

    def put_latest_report(self, tenant_id: str, model: str, version: str, summary: Mapping[str, Any]) -> None:
        self.reports[(tenant_id, model, version)] = json.loads(json.dumps(summary))

    def latest_report(self, tenant_id: str, model: str, version: str) -> dict[str, Any] | None:
        return self.reports.get((tenant_id, model, version))

    def group_labels(self, tenant_id: str) -> Any:
        if self.fail:
            raise ConnectionError("fairness store down")
        return self.labels.get(tenant_id)

    def put_group_labels(self, labels: Any) -> None:
        from steward.fairness.monitor import LabelsChanged

        current = self.labels.get(labels.tenant_id)
        if (current.revision if current else 0) != labels.revision - 1:
            raise LabelsChanged()
        self.labels[labels.tenant_id] = labels


def complete_card(**overrides: Any) -> dict[str, Any]:
    """A model card that passes `steward.catalog.cards.missing_fields` (for registering approved versions)."""
    card: dict[str, Any] = {
        "description": "test model",
        "intended_use": "tests",
        "out_of_scope_uses": "anything real",
        "training_data": "none (test fixture)",
        "evaluation": {"note": "not evaluated (test fixture)"},
        "fairness": {"note": "not assessed (test fixture)"},
        "limitations": "a test fixture",
        "owner": "ml-team",
    }
    card.update(overrides)
    return card


class InMemoryPolicyStore:
    """`steward.privacy.policies.PolicyStore` in memory (versions never overwritten)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}
        self.reads = 0
        self.fail = False

    def list_policies(self, tenant_id: str) -> list[Any]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("policy store down")
        return [p for (tenant, _), p in sorted(self.items.items()) if tenant == tenant_id]

    def put_policy(self, policy: Any, *, author: str) -> None:
        from steward.privacy.policies import PolicyVersionExists, policy_key

        key = (policy.tenant_id, policy_key(policy.model, policy.version))
        if key in self.items:
            raise PolicyVersionExists(key[1])
        self.items[key] = policy


class FakeEncryptor:
    """`steward.privacy.Encryptor` stand-in: reversible, bound to its context, never a real key."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        if self.fail:
            raise ConnectionError("key service down")
        self.calls += 1
        return json.dumps({"c": dict(context), "p": plaintext[::-1].hex()}).encode()

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        doc = json.loads(ciphertext)
        if doc["c"] != dict(context):
            raise ValueError("context mismatch")
        return bytes.fromhex(doc["p"])[::-1]


class InMemoryLimitStore:
    """`steward.limits.counters.LimitStore` in memory: each charge checked and applied under one
    lock (the atomic conditional ``ADD``), so threads race exactly as on DynamoDB. ``fail_at``:
    the charge index whose write raises (earlier ones are taken back, as the adapter does)."""

    def __init__(self) -> None:
        import threading

        self.values: dict[tuple[str, str], tuple[int, int]] = {}
        self.plans: dict[str, StoredPlan] = {}
        self.fail_at: int | None = None
        self.fail_plans = False
        self.plan_reads = 0
        self._lock = threading.Lock()

    def charge(self, charges: list[Charge] | tuple[Charge, ...]) -> list[Counted | None]:
        results: list[Counted | None] = []
        for i, charge in enumerate(charges):
            if self.fail_at == i:
                self.refund([c for c, r in zip(charges, results, strict=False) if r is not None])
                raise ConnectionError("limit store down")
            key = (charge.tenant_id, charge.sort_key)
            with self._lock:
                requests, units = self.values.get(key, (0, 0))
                if not charge.admits(requests, units):
                    results.append(None)
                    continue
                self.values[key] = (requests + charge.requests, units + charge.units)
            results.append(Counted(*self.values[key]))
        return results

    def refund(self, charges: list[Charge] | tuple[Charge, ...]) -> None:
        with self._lock:
            for charge in charges:
                key = (charge.tenant_id, charge.sort_key)
                requests, units = self.values[key]
                self.values[key] = (requests - charge.requests, units - charge.units)

    def counters(self, tenant_id: str, windows: list[Window] | tuple[Window, ...]) -> list[CounterValue]:
        out: list[CounterValue] = []
        for (tenant, sort_key), (requests, units) in sorted(self.values.items()):
            kind, window_id, scope = sort_key.split("#", 2)
            if tenant == tenant_id and any(w.kind == kind and w.id == window_id for w in windows):
                out.append(CounterValue(kind, window_id, scope, requests, units))  # type: ignore[arg-type]
        return out

    def get_plan(self, tenant_id: str) -> StoredPlan | None:
        self.plan_reads += 1
        if self.fail_plans:
            raise ConnectionError("limit store down")
        return self.plans.get(tenant_id)

    def put_plan(self, tenant_id: str, plan: Plan, *, author: str, now: int) -> StoredPlan:
        previous = self.plans.get(tenant_id)
        stored = StoredPlan(plan, (previous.revision if previous else 0) + 1, now, author)
        self.plans[tenant_id] = stored
        return stored


class InMemoryControlStore:
    """`steward.controls.model.ControlStore` in memory: tenants and kill switches; ``reads``
    counts table reads (the gate's cache is judged by it), ``fail`` makes every read raise."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.switches: dict[str, KillSwitch] = {}
        self.reads = 0
        self.fail = False

    def _read(self) -> None:
        self.reads += 1
        if self.fail:
            raise ConnectionError("control table down")

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        self._read()
        return self.tenants.get(tenant_id)

    def list_tenants(self) -> list[Tenant]:
        self._read()
        return list(self.tenants.values())

    def create_tenant(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self.tenants:
            raise TenantExistsError(tenant.tenant_id)
        self.tenants[tenant.tenant_id] = tenant

    def set_tenant_status(
        self, tenant_id: str, status: TenantStatus, *, reason: str, note: str, at: int, by: str
    ) -> Tenant:
        if tenant_id not in self.tenants:
            raise TenantMissingError(tenant_id)
        updated = replace(
            self.tenants[tenant_id], status=status, reason=reason, note=note, updated_at=at, updated_by=by
        )
        self.tenants[tenant_id] = updated
        return updated

    def list_switches(self) -> list[KillSwitch]:
        self._read()
        return list(self.switches.values())

    def put_switch(self, switch: KillSwitch) -> None:
        self.switches[str(switch.scope)] = switch

    def delete_switch(self, scope: Scope) -> bool:
        return self.switches.pop(str(scope), None) is not None


class InMemoryUsagePolicyStore:
    """`steward.usage_policy.ports.UsagePolicyStore` in memory (versions never overwritten)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}
        self.reads = 0
        self.fail = False

    def list_usage_policies(self, tenant_id: str) -> list[Any]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("policy store down")
        return [p for (tenant, _), p in sorted(self.items.items()) if tenant == tenant_id]

    def put_usage_policy(self, policy: Any, *, author: str) -> None:
        from steward.usage_policy.book import usage_policy_key
        from steward.usage_policy.ports import UsagePolicyVersionExists

        key = (policy.tenant_id, usage_policy_key(policy.model, policy.version))
        if key in self.items:
            raise UsagePolicyVersionExists(key[1])
        self.items[key] = policy


class InMemoryBatchStore:
    """`steward.batches.ports.BatchStore` in memory, keyed (tenant, id) as the table is; every
    conditional update runs under one lock, as DynamoDB serialises the updates of one item."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], Any] = {}
        self.batches: dict[tuple[str, str], Any] = {}
        self.fail = False
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("batch store down")

    def put_file(self, record: Any) -> None:
        self._check()
        self.files[(record.tenant_id, record.file_id)] = record

    def get_file(self, tenant_id: str, file_id: str) -> Any:
        self._check()
        return self.files.get((tenant_id, file_id))

    def delete_file(self, tenant_id: str, file_id: str) -> Any:
        self._check()
        return self.files.pop((tenant_id, file_id), None)

    def list_files(self, tenant_id: str) -> list[Any]:
        self._check()
        return [f for (t, _), f in self.files.items() if t == tenant_id]

    def put_batch(self, record: Any) -> None:
        self._check()
        with self._lock:
            key = (record.tenant_id, record.batch_id)
            if key in self.batches:
                raise ValueError("batch exists")
            self.batches[key] = record

    def get_batch(self, tenant_id: str, batch_id: str) -> Any:
        self._check()
        return self.batches.get((tenant_id, batch_id))

    def list_batches(self, tenant_id: str, *, after: str | None, limit: int) -> tuple[list[Any], bool]:
        self._check()
        mine = sorted((b for (t, _), b in self.batches.items() if t == tenant_id), key=lambda b: b.batch_id)
        mine.reverse()
        if after:
            mine = [b for b in mine if b.batch_id < after]
        return mine[:limit], len(mine) > limit

    def transition(
        self,
        tenant_id: str,
        batch_id: str,
        *,
        from_statuses: Any,
        to: Any,
        at: int,
        changes: Mapping[str, Any] | None = None,
    ) -> Any:
        from steward.batches.model import STATUS_TIME

        self._check()
        with self._lock:
            current = self.batches.get((tenant_id, batch_id))
            if current is None or current.status not in tuple(from_statuses):
                return None
            times = dict(current.times)
            if to in STATUS_TIME:
                times[STATUS_TIME[to]] = at
            values = dict(changes or {})
            if "errors" in values:
                values["errors"] = tuple(values["errors"])
            updated = replace(current, status=to, times=times, **values)
            self.batches[(tenant_id, batch_id)] = updated
            return updated

    def count_chunk(self, tenant_id: str, batch_id: str, chunk: int, *, completed: int, failed: int) -> Any:
        self._check()
        with self._lock:
            current = self.batches.get((tenant_id, batch_id))
            if current is None or chunk in current.done:
                return None
            updated = replace(
                current,
                done=current.done | {chunk},
                completed=current.completed + completed,
                failed=current.failed + failed,
            )
            self.batches[(tenant_id, batch_id)] = updated
            return updated

    def due_batches(self, now: int, *, limit: int) -> list[Any]:
        from steward.batches.model import TERMINAL

        due = [b for b in self.batches.values() if b.status not in TERMINAL and b.expires_at < now]
        return sorted(due, key=lambda b: b.expires_at)[:limit]

    def note_failure(self, tenant_id: str, batch_id: str, chunk: int, code: str) -> None:
        with self._lock:
            current = self.batches.get((tenant_id, batch_id))
            if current is not None:
                failures = {**current.failures, f"{chunk:05d}": code}
                self.batches[(tenant_id, batch_id)] = replace(current, failures=failures)


class InMemoryObjectStore:
    """`steward.batches.ports.ObjectStore`: a dict of bytes by key."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.fail = False

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        if self.fail:
            raise ConnectionError("bucket down")
        self.objects[key] = bytes(data)
        self.metadata[key] = dict(metadata or {})

    def read(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        found = self.get(key)
        return None if found is None else (found, dict(self.metadata.get(key, {})))

    def get(self, key: str) -> bytes | None:
        if self.fail:
            raise ConnectionError("bucket down")
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class InMemoryJobQueue:
    """`steward.batches.ports.JobQueue`: the jobs sent, in order (tests deliver them)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = False

    def send(self, jobs: Any) -> None:
        if self.fail:
            raise ConnectionError("queue down")
        self.sent.extend(dict(job) for job in jobs)

    def take(self) -> list[dict[str, Any]]:
        taken, self.sent = self.sent, []
        return taken


def in_memory_idempotency() -> Any:
    """A Powertools idempotency persistence layer in memory, with DynamoDB's put condition: a
    record may be written when absent, expired, or in progress past its in-progress expiry."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyItemAlreadyExistsError,
        IdempotencyItemNotFoundError,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        STATUS_CONSTANTS,
        BasePersistenceLayer,
        DataRecord,
    )

    class InMemoryIdempotency(BasePersistenceLayer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.records: dict[str, DataRecord] = {}
            self._lock = threading.Lock()

        def _get_record(self, idempotency_key: str) -> DataRecord:
            found = self.records.get(idempotency_key)
            if found is None:
                raise IdempotencyItemNotFoundError
            return found

        def _put_record(self, data_record: DataRecord) -> None:
            import time

            with self._lock:
                old = self.records.get(data_record.idempotency_key)
                now = time.time()
                if old is not None and not (
                    (old.expiry_timestamp or 0) < now
                    or (
                        old.status == STATUS_CONSTANTS["INPROGRESS"]
                        and old.in_progress_expiry_timestamp is not None
                        and old.in_progress_expiry_timestamp < now * 1000
                    )
                ):
                    raise IdempotencyItemAlreadyExistsError(old_data_record=old)
                self.records[data_record.idempotency_key] = data_record

        def _update_record(self, data_record: DataRecord) -> None:
            self.records[data_record.idempotency_key] = data_record

        def _delete_record(self, data_record: DataRecord) -> None:
            self.records.pop(data_record.idempotency_key, None)

    return InMemoryIdempotency()


class InMemoryReviewStore:
    """`steward.review.ports.ReviewStore` in memory: every write checked and applied under one
    lock, as DynamoDB's conditional writes and transactions are atomic. ``rows`` is the table as
    stored (key -> the attributes the DynamoDB adapter would write), so tests can look at what is
    kept in clear; ``fail`` makes every call raise."""

    def __init__(self) -> None:
        import threading

        from steward.adapters.review_store import item_to_record

        self._encode = item_to_record
        self.items: dict[tuple[str, str], Any] = {}
        self.sealed_texts: dict[tuple[str, str], bytes] = {}
        self.marks_by_mac: dict[tuple[str, str], Any] = {}
        self.fail = False
        self.creates = 0
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("review table down")

    @property
    def rows(self) -> list[dict[str, Any]]:
        """What DynamoDB would hold: items, sealed texts and marks."""
        rows = [self._encode(item) for item in self.items.values()]
        rows += [{"sk": f"{rid}#text", "sealed": blob} for (_, rid), blob in self.sealed_texts.items()]
        rows += [{"sk": f"mark#{mac}", **m.__dict__} for (_, mac), m in self.marks_by_mac.items()]
        return rows

    def create(self, item: Any, sealed: bytes, marks: Any, *, now: int) -> None:
        from steward.review.ports import MarkTaken

        self._check()
        with self._lock:
            taken = [
                m
                for m in marks
                if (item.tenant_id, m.mac) in self.marks_by_mac
                and self.marks_by_mac[(item.tenant_id, m.mac)].expires_at > now
            ]
            if taken or (item.tenant_id, item.review_id) in self.items:
                raise MarkTaken()
            self.items[(item.tenant_id, item.review_id)] = item
            self.sealed_texts[(item.tenant_id, item.review_id)] = sealed
            for m in marks:
                self.marks_by_mac[(item.tenant_id, m.mac)] = m
            self.creates += 1

    def marks(self, tenant_id: str, macs: Any) -> list[Any]:
        self._check()
        return [
            self.marks_by_mac[(tenant_id, m)]
            for m in dict.fromkeys(macs)
            if (tenant_id, m) in self.marks_by_mac
        ]

    def get(self, tenant_id: str, review_id: str) -> Any:
        self._check()
        return self.items.get((tenant_id, review_id))

    def find(self, review_id: str) -> Any:
        self._check()
        found = [item for (_, rid), item in self.items.items() if rid == review_id]
        return found[0] if len(found) == 1 else None

    def sealed(self, tenant_id: str, review_id: str) -> bytes | None:
        self._check()
        return self.sealed_texts.get((tenant_id, review_id))

    def queue(
        self, tenant_id: str, state: Any, *, after: str | None, newest_first: bool, page: int
    ) -> Iterator[Any]:
        self._check()
        items = sorted(
            (i for (t, _), i in self.items.items() if t == tenant_id and i.state is state),
            key=lambda i: i.queued_at,
            reverse=newest_first,
        )
        for item in items:
            if after is None or (item.queued_at < after if newest_first else item.queued_at > after):
                yield item

    def every_queue(self, states: Any) -> Iterator[Any]:
        self._check()
        yield from [i for i in self.items.values() if i.state in states]

    def claim(self, tenant_id: str, review_id: str, *, by: str, until: int, now: int) -> bool:
        from steward.review.model import State

        self._check()
        with self._lock:
            item = self.items.get((tenant_id, review_id))
            if item is None or item.expires_at <= now:
                return False
            free = item.state is State.OPEN or (
                item.state is State.CLAIMED and (item.claimed_by == by or item.claim_until <= now)
            )
            if not free:
                return False
            self.items[(tenant_id, review_id)] = replace(
                item, state=State.CLAIMED, claimed_by=by, claim_until=until
            )
            return True

    def resolve(self, item: Any, marks: Any, *, now: int) -> bool:
        from steward.review.model import State

        self._check()
        with self._lock:
            current = self.items.get((item.tenant_id, item.review_id))
            if (
                current is None
                or current.expires_at <= now
                or current.state is not State.CLAIMED
                or current.claimed_by != item.resolved_by
            ):
                return False
            self.items[(item.tenant_id, item.review_id)] = replace(
                current,
                state=State.RESOLVED,
                queued_at=item.queued_at,
                decision=item.decision,
                suspend_key=item.suspend_key,
                resolved_by=item.resolved_by,
                resolved_at=item.resolved_at,
            )
            for m in marks:
                self.marks_by_mac[(item.tenant_id, m.mac)] = m
            return True


class InMemoryServingStatsStore:
    """`steward.quality.serving.ServingStatsStore` in memory: (model, version, window, tenant) -> stats."""

    def __init__(self) -> None:
        from steward.quality.serving import ServingStats

        self.cells: dict[tuple[str, str, str, str], ServingStats] = {}
        self._empty = ServingStats

    def add(self, tenant_id: str, model: str, version: str, window: str, stats: Any) -> None:
        key = (model, version, window, tenant_id)
        self.cells[key] = self.cells.get(key, self._empty()).merge(stats)

    def read(self, model: str, version: str, windows: set[str], tenant_id: str) -> Any:
        total = self._empty()
        for (m, v, w, t), stats in self.cells.items():
            if (m, v) == (model, version) and w in windows and tenant_id == t:
                total = total.merge(stats)
        return total


class InMemoryDriftStore:
    """`steward.quality.drift_monitor.DriftSketchStore` in memory, cells keyed like the table's."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(
        self, model: str, version: str, tenant_id: str, window: str, sketch: Any, rows: int, expires_at: int
    ) -> None:
        with self._lock:
            item = self.items.setdefault(
                (model, version, window, tenant_id, sketch.profile), {"rows": 0, "cells": {}}
            )
            item["rows"] += rows
            for feature, counts in sketch.counts.items():
                cells = item["cells"].setdefault(feature, {})
                for index, n in enumerate(counts):
                    if n:
                        cells[index] = cells.get(index, 0) + n

    def sketches(
        self, model: str, version: str, first_window: str, last_window: str, tenant_id: str | None = None
    ) -> list[Any]:
        from steward.quality.drift_monitor import StoredSketch

        return [
            StoredSketch(w, t, p, item["rows"], {f: dict(c) for f, c in item["cells"].items()})
            for (m, v, w, t, p), item in sorted(self.items.items())
            if m == model and v == version and first_window <= w <= last_window and tenant_id in (None, t)
        ]

    def days(self, model: str, version: str, tenant_id: str, windows: Any, profile: str) -> list[Any]:
        wanted = set(windows)
        found = self.sketches(model, version, min(wanted), max(wanted), tenant_id) if wanted else []
        return [s for s in found if s.profile == profile and s.window in wanted]
