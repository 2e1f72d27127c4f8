"""Model registry: which models exist, which versions are approved and where they run.

Storage (``ResourceNames.models_table``, pk ``model``, sk ``version``): one ``#model`` item per
model (default version, enabled flag, owner, description) and one item per version (approval
state, backend target, artifact digest, task, card summary). Only approved versions of enabled
models are routable. Every refusal - unknown model, not entitled, disabled, unapproved - raises
the same :class:`~steward.errors.ModelNotFound`, so callers can't probe for other tenants' models.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from steward.auth.principal import Principal
from steward.catalog.routing_plan import RoutePlan, choose, random_draw
from steward.errors import ModelNotFound
from steward.ttl_cache import DEFAULT_TTL_S, TtlCache

MODEL_ITEM_SK = "#model"
Approval = Literal["pending", "approved", "rejected", "retired"]
APPROVALS: tuple[str, ...] = ("pending", "approved", "rejected", "retired")
TargetKind = Literal["http", "sagemaker"]


@dataclass(frozen=True)
class Target:
    """Where a version runs: an HTTP OIP server (local, ECS) or a SageMaker endpoint."""

    kind: TargetKind
    url: str = ""  # http: base URL; empty = the settings' backend_url
    endpoint_name: str = ""  # sagemaker
    variant: str = ""  # sagemaker production variant (optional)
    target_model: str = ""  # sagemaker multi-model endpoint artefact (optional)

    def to_dict(self) -> dict[str, str]:
        data = {
            "kind": self.kind,
            "url": self.url,
            "endpoint_name": self.endpoint_name,
            "variant": self.variant,
            "target_model": self.target_model,
        }
        return {k: v for k, v in data.items() if v}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        kind = str(data.get("kind", "http"))
        if kind not in ("http", "sagemaker"):
            raise ValueError(f"unknown target kind {kind!r}")
        target = cls(
            kind="http" if kind == "http" else "sagemaker",
            url=str(data.get("url") or ""),
            endpoint_name=str(data.get("endpoint_name") or ""),
            variant=str(data.get("variant") or ""),
            target_model=str(data.get("target_model") or ""),
        )
        if target.kind == "sagemaker" and not target.endpoint_name:
            raise ValueError("a sagemaker target needs endpoint_name")
        return target


@dataclass(frozen=True)
class ModelEntry:
    model: str
    default_version: str
    enabled: bool = True
    owner: str = ""
    description: str = ""
    created_at: int = 0
    #: How unpinned traffic is split between versions (`steward.catalog.routing_plan`).
    routing: RoutePlan = field(default_factory=RoutePlan)
    #: The default before the last promotion or rollback: what ``rollback`` returns to.
    previous_default: str = ""
    #: How many times the entry was written: each write is conditional on the revision it read,
    #: so two admins changing a model at once can't silently undo each other (`ModelChanged`).
    revision: int = 0


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    approval: str
    target: Target
    backend_model: str
    backend_version: str
    artifact_digest: str = ""
    task: str = ""
    card: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[Mapping[str, Any], ...] = ()
    outputs: tuple[Mapping[str, Any], ...] = ()
    created_at: int = 0
    #: The backend's ``batching.max_batch_size`` from the manifest (0: not declared).
    max_batch_size: int = 0
    #: The build's drift reference (`steward.quality.drift_monitor.DriftReference` as a mapping);
    #: None: the version is not drift-monitored.
    drift_profile: Mapping[str, Any] | None = None

    @property
    def routable(self) -> bool:
        return self.approval == "approved"


@dataclass(frozen=True)
class ResolvedModel:
    entry: ModelEntry
    version: ModelVersion
    #: The approved version that gets a copy of this request (never answers it), if any.
    shadow: ModelVersion | None = None

    @property
    def ref(self) -> str:
        return f"{self.entry.model}@{self.version.version}"


@dataclass(frozen=True)
class ModelDocument:
    """Everything stored for one model."""

    entry: ModelEntry | None
    versions: Mapping[str, ModelVersion]


class RegistryStore(Protocol):
    def get_model(self, model: str) -> ModelDocument: ...

    def list_models(self) -> list[ModelDocument]: ...


def serving_default(doc: ModelDocument) -> ModelVersion | None:
    """The version a request that names no version gets: the stored default when it is approved,
    else the newest approved version, else none.

    Admin writes keep the stored default approved whenever an approved version exists; this read
    rule also covers entries written before that rule, so a default left pending or retired never
    takes a model offline while an approved version remains.
    """
    entry = doc.entry
    stored = doc.versions.get(entry.default_version) if entry is not None else None
    if stored is not None and stored.routable:
        return stored
    approved = [v for v in doc.versions.values() if v.routable]
    return max(approved, key=lambda v: (v.created_at, v.version)) if approved else None


def routed_version(
    doc: ModelDocument, entry: ModelEntry, *, caller: str, draw: Callable[[int], int]
) -> ModelVersion | None:
    """The version an unpinned request of ``caller`` gets: drawn by the plan's weights among
    approved versions, else the serving default (None: nothing may serve)."""

    def routable(version: str) -> bool:
        candidate = doc.versions.get(version)
        return candidate is not None and candidate.routable

    drawn = choose(entry.routing, routable, model=entry.model, caller=caller, draw=draw)
    return doc.versions[drawn] if drawn is not None else serving_default(doc)


def split_model_ref(ref: str) -> tuple[str, str | None]:
    """``name`` or ``name@version`` (the OpenAI ``model`` field may pin a version)."""
    name, sep, version = ref.partition("@")
    return name, (version or None) if sep else None


class Registry:
    """Read side with a short in-memory cache (the table changes rarely, requests are many).

    A retired, approved or re-defaulted version is seen within ``ttl_s`` (at most 5 s by default,
    see `steward.ttl_cache`); concurrent misses for one model share a single read.
    """

    def __init__(
        self,
        store: RegistryStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        draw: Callable[[int], int] | None = None,
    ) -> None:
        self._store = store
        self._draw = draw or random_draw()
        # Any caller may name any model: unknown names are cached apart, so they can't evict real ones.
        self._docs: TtlCache[str, ModelDocument] = TtlCache(
            ttl_s, monotonic=monotonic, is_miss=lambda doc: doc.entry is None
        )
        self._listing: TtlCache[str, list[ModelDocument]] = TtlCache(ttl_s, monotonic=monotonic)

    @property
    def ttl_s(self) -> float:
        return self._docs.ttl_s

    @property
    def store(self) -> RegistryStore:
        return self._store

    def resolve(
        self, principal: Principal, model: str, version: str | None = None, *, routed: bool = True
    ) -> ResolvedModel:
        """The routable version the caller pinned, or the one the model's route plan draws for
        this caller (``routed``; the serving default when it has none or when not ``routed``),
        with the plan's shadow for a drawn one; ModelNotFound otherwise."""
        if not model or not principal.may_use(model):
            raise ModelNotFound()
        doc = self._document(model)
        entry = doc.entry
        if entry is None or not entry.enabled:
            raise ModelNotFound()
        if version:
            pinned = doc.versions.get(version)
            if pinned is None or not pinned.routable:
                raise ModelNotFound()
            return ResolvedModel(entry=entry, version=pinned)
        if not routed:
            default = serving_default(doc)
            if default is None:
                raise ModelNotFound()
            return ResolvedModel(entry=entry, version=default)
        chosen = routed_version(doc, entry, caller=principal.key_id, draw=self._draw)
        if chosen is None:
            raise ModelNotFound()
        shadow = doc.versions.get(entry.routing.shadow) if entry.routing.shadow else None
        if shadow is not None and (not shadow.routable or shadow.version == chosen.version):
            shadow = None
        return ResolvedModel(entry=entry, version=chosen, shadow=shadow)

    def approved_versions(self, principal: Principal, model: str) -> list[str]:
        """The approved versions of a model the caller may use now, oldest first (ModelNotFound
        otherwise, like `resolve`)."""
        default = self.resolve(principal, model, routed=False)
        doc = self._document(default.entry.model)
        return [v.version for v in sorted(doc.versions.values(), key=lambda v: v.created_at) if v.routable]

    def is_registered(self, model: str) -> bool:
        """Whether ``model`` has an entry in any state (admin checks only: callers get `resolve`)."""
        return bool(model) and self._document(model).entry is not None

    def list_for(self, principal: Principal) -> list[ResolvedModel]:
        """Models the caller may use right now (enabled, entitled, an approved version to serve)."""
        usable: list[ResolvedModel] = []
        for doc in self._listing.get("", self._store.list_models):
            entry = doc.entry
            if entry is None or not entry.enabled or not principal.may_use(entry.model):
                continue
            default = serving_default(doc)
            if default is not None:
                usable.append(ResolvedModel(entry=entry, version=default))
        return sorted(usable, key=lambda r: r.entry.model)

    def _document(self, model: str) -> ModelDocument:
        return self._docs.get(model, lambda: self._store.get_model(model))
