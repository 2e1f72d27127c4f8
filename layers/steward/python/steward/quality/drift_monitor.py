"""Live drift monitoring without labels: the stored reference, the request-path counting, the report.

A model version registered with a drift reference (``ModelVersion.drift_profile``, written by the
model build: `gpu_backend.build.drift_reference`) has every answered OIP request's rows, or every
returned embedding, counted into the bins of its `DriftProfile`, per UTC day, tenant and version
(`DriftSketchStore`, one atomic ADD per request). Only bin counts leave the request, never a
value. Monitoring never withholds an answer: a failure is logged without content and counted.

`drift_document` compares each window (and the whole period) with the reference: per-feature
PSI / JS distance / binned KS, the share of drifted features and the prediction's PSI. A window
with fewer than `MIN_SAMPLES` rows is reported but not judged (``sufficient: false``): PSI of a
handful of rows over ten bins is noise.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from steward.catalog.registry import ModelVersion, ResolvedModel
from steward.context import RequestContext
from steward.fairness.monitor import window_of as window_of  # sketches are kept per UTC day
from steward.inference.oip_tensors import row_major
from steward.quality.drift import (
    PSI_THRESHOLD,
    DriftProfile,
    NumericBins,
    Sketch,
    embedding_features,
)

logger = logging.getLogger("steward.quality.drift")

REFERENCE_SCHEMA_VERSION = 1
PREDICTION = "prediction"
EMBEDDING_NORM = "embedding_norm"
EMBEDDING_COSINE = "embedding_cosine"
#: Norm decimals kept: normalised encoders give 1.0 up to float32 noise, which must not move bins.
NORM_DECIMALS = 4
#: Rows a window needs before its drift is judged (and reaches the fleet metrics and alarm).
MIN_SAMPLES = 100
#: Share of drifted features above which a window counts as drifted (alarm threshold).
SHARE_DRIFTED_ALARM = 0.5
RETENTION_DAYS = 400
MAX_DAYS = 90
Kind = Literal["tabular", "embedding"]


def embedding_row(embedding: Sequence[float], centroid: Sequence[float]) -> dict[str, float]:
    """The two monitored features of one embedding (build and gateway count the same thing)."""
    values = embedding_features(embedding, centroid)
    return {
        EMBEDDING_NORM: round(values[EMBEDDING_NORM], NORM_DECIMALS),
        EMBEDDING_COSINE: values[EMBEDDING_COSINE],
    }


def embedding_profile(vectors: Iterable[Sequence[float]], centroid: Sequence[float]) -> DriftProfile:
    """The profile of reference embeddings. A normalised encoder's norms are all 1.0, which
    quantiles make one edge (below / at-or-above 1.0); an edge just above it is added so a larger
    norm (an encoder that stopped normalising) lands in a bin of its own."""
    rows = [embedding_row(v, centroid) for v in vectors]
    columns: dict[str, list[object]] = {
        name: [r[name] for r in rows] for name in (EMBEDDING_NORM, EMBEDDING_COSINE)
    }
    features = dict(DriftProfile.build(columns).features)
    norm = features[EMBEDDING_NORM]
    if isinstance(norm, NumericBins) and len(norm.edges) == 1:
        features[EMBEDDING_NORM] = NumericBins((norm.edges[0], norm.edges[0] + 10.0**-NORM_DECIMALS))
    empty = DriftProfile(features, Sketch("", {}))
    return DriftProfile(features, empty.sketch(columns))


@dataclass(frozen=True)
class DriftReference:
    """What the build stored for a version: the profile and where its features are in a request.

    tabular: row ``i`` of input tensor ``input_name`` ([n, F]) gives features ``feature_names``;
    column ``prediction_index`` of output ``prediction_output`` ([n, C]) gives ``prediction``.
    embedding: each row of output ``output_name`` gives `embedding_row` against ``centroid``.
    """

    kind: Kind
    profile: DriftProfile
    input_name: str = ""
    feature_names: tuple[str, ...] = ()
    prediction_output: str = ""
    prediction_index: int = 1
    output_name: str = ""
    centroid: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-native and float-free (DynamoDB numbers are decimals): floats as exact ``repr``."""
        out: dict[str, Any] = {
            "schema_version": REFERENCE_SCHEMA_VERSION,
            "kind": self.kind,
            "profile": self.profile.to_dict(),
        }
        if self.kind == "tabular":
            out["input"] = {"name": self.input_name, "features": list(self.feature_names)}
            if self.prediction_output:
                out["prediction"] = {"output": self.prediction_output, "index": self.prediction_index}
        else:
            out["output"] = self.output_name
            out["centroid"] = [repr(float(x)) for x in self.centroid]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        """Raises ``ValueError`` on anything malformed (registration refuses it)."""
        if int(data.get("schema_version") or 0) != REFERENCE_SCHEMA_VERSION:
            raise ValueError("unsupported drift reference schema_version")
        profile = DriftProfile.from_dict(data.get("profile") or {})
        kind = data.get("kind")
        if kind == "tabular":
            spec = data.get("input") or {}
            names = tuple(str(n) for n in spec.get("features") or ())
            if not names or not spec.get("name"):
                raise ValueError("a tabular drift reference names its input tensor and features")
            prediction = data.get("prediction") or {}
            index = prediction.get("index", 1)
            if isinstance(index, bool) or int(index) < 0:
                raise ValueError("the prediction index must be a non-negative integer")
            monitored = [*names, PREDICTION] if prediction.get("output") else list(names)
            if set(profile.features) != set(monitored):
                raise ValueError("the profile's features differ from the reference's")
            return cls(
                "tabular",
                profile,
                input_name=str(spec["name"]),
                feature_names=names,
                prediction_output=str(prediction.get("output") or ""),
                prediction_index=int(index),
            )
        if kind == "embedding":
            centroid = tuple(float(str(x)) for x in data.get("centroid") or ())
            if not centroid or not all(math.isfinite(x) for x in centroid) or not any(centroid):
                raise ValueError("an embedding drift reference needs a finite, non-zero centroid")
            if set(profile.features) != {EMBEDDING_NORM, EMBEDDING_COSINE}:
                raise ValueError("an embedding drift profile monitors norm and cosine")
            return cls("embedding", profile, output_name=str(data.get("output") or ""), centroid=centroid)
        raise ValueError(f"unknown drift reference kind {kind!r}")


def checked_drift_reference(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A reference as registration stores it: parsed (``ValueError`` when malformed) and written
    back in its canonical form, so the registry never holds one the gateway cannot read."""
    return None if not raw else DriftReference.from_dict(raw).to_dict()


# -- storage port ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSketch:
    """One tenant's counts for one model version, day and profile, as stored."""

    window: str
    tenant_id: str
    profile: str
    rows: int
    #: feature -> bin index -> count (only non-zero cells are stored)
    cells: Mapping[str, Mapping[int, int]]


class DriftSketchStore(Protocol):
    def add(
        self,
        model: str,
        version: str,
        tenant_id: str,
        window: str,
        sketch: Sketch,
        rows: int,
        expires_at: int,
    ) -> None:
        """Add the sketch's counts to the stored ones atomically (concurrent requests both count)."""
        ...

    def sketches(
        self, model: str, version: str, first_window: str, last_window: str, tenant_id: str | None = None
    ) -> list[StoredSketch]:
        """Every tenant's (or one tenant's) sketches of the days in range (the report's read)."""
        ...

    def days(
        self, model: str, version: str, tenant_id: str, windows: Sequence[str], profile: str
    ) -> list[StoredSketch]:
        """One tenant's sketches of ``windows`` in one profile's bins (the api's read: by key)."""
        ...


def to_sketch(profile: DriftProfile, stored: StoredSketch) -> Sketch:
    """Stored cells as a `Sketch` of ``profile`` (a cell outside its bins is a different profile)."""
    counts = {name: [0] * bins.size for name, bins in profile.features.items()}
    for name, cells in stored.cells.items():
        if name not in counts:
            continue
        for index, n in cells.items():
            if not 0 <= index < len(counts[name]):
                raise ValueError("a stored cell lies outside the profile's bins")
            counts[name][index] += int(n)
    return Sketch(profile.fingerprint, counts)


# -- request path ---------------------------------------------------------------------------------


def _matrix(tensors: Any, name: str) -> tuple[int, int, list[Any]]:
    """``(rows, columns, flat data)`` of the 2-D tensor ``name`` in an OIP ``inputs``/``outputs`` list."""
    if not isinstance(tensors, list):
        raise ValueError("no tensor list")
    tensor = next((t for t in tensors if isinstance(t, Mapping) and t.get("name") == name), None)
    if tensor is None:
        raise ValueError("the monitored tensor is absent")
    shape = tensor.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(d, int) for d in shape)):
        raise ValueError("the monitored tensor is not two-dimensional")
    flat = row_major(tensor.get("data"))
    if len(flat) != shape[0] * shape[1]:
        raise ValueError("the monitored tensor's data does not match its shape")
    return shape[0], shape[1], flat


def tabular_rows(
    reference: DriftReference, payload: Mapping[str, Any], result: Mapping[str, Any]
) -> list[dict[str, object]]:
    """One row per request row: its features, and its prediction when the answer has one per row."""
    n, width, flat = _matrix(payload.get("inputs"), reference.input_name)
    names = reference.feature_names
    if width != len(names):
        raise ValueError("the input has another number of features than the reference")
    rows: list[dict[str, object]] = [
        dict(zip(names, flat[i * width : (i + 1) * width], strict=True)) for i in range(n)
    ]
    if reference.prediction_output:
        m, classes, out = _matrix(result.get("outputs"), reference.prediction_output)
        if m == n and reference.prediction_index < classes:
            for i, row in enumerate(rows):
                row[PREDICTION] = out[i * classes + reference.prediction_index]
    return rows


@dataclass
class DriftMonitor:
    """Counts answered requests into the day's sketch of their (model, version, tenant)."""

    store: DriftSketchStore
    clock: Callable[[], float] = time.time
    retention_days: int = RETENTION_DAYS
    #: Failures so far in this process (also logged, and handed to ``on_failure``: a metric).
    failures: int = 0
    on_failure: Callable[[str], None] | None = None
    #: (model, version) -> (the stored mapping, its parse): a re-registered profile is a new mapping.
    _parsed: dict[tuple[str, str], tuple[Mapping[str, Any], DriftReference | None]] = field(
        default_factory=dict, repr=False
    )

    def reference(self, version: ModelVersion) -> DriftReference | None:
        """The version's parsed reference (parsed once per stored mapping), None when it has none."""
        raw = version.drift_profile
        if not raw:
            return None
        key = (version.model, version.version)
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is raw:  # the same object the registry cache holds
            return cached[1]
        if len(self._parsed) > 256:
            self._parsed.clear()
        parsed = DriftReference.from_dict(raw)
        self._parsed[key] = (raw, parsed)
        return parsed

    def observe_inference(
        self,
        ctx: RequestContext,
        resolved: ResolvedModel,
        payload: Mapping[str, Any],
        result: Mapping[str, Any],
    ) -> bool:
        """Count one OIP answer's rows; True when counted. Never raises."""
        try:
            reference = self.reference(resolved.version)
            if reference is None or reference.kind != "tabular":
                return False
            rows = tabular_rows(reference, payload, result)
            return self._add(ctx, resolved, reference, rows)
        except Exception as error:
            self._failed(error)
            return False

    def observe_embeddings(
        self, ctx: RequestContext, resolved: ResolvedModel, vectors: Iterable[Sequence[float]]
    ) -> bool:
        """Count the norm and centroid similarity of returned embeddings; True when counted. Never raises."""
        try:
            reference = self.reference(resolved.version)
            if reference is None or reference.kind != "embedding":
                return False
            rows = [embedding_row(v, reference.centroid) for v in vectors]
            return self._add(ctx, resolved, reference, rows)
        except Exception as error:
            self._failed(error)
            return False

    def _add(
        self,
        ctx: RequestContext,
        resolved: ResolvedModel,
        reference: DriftReference,
        rows: Sequence[Mapping[str, object]],
    ) -> bool:
        if not rows:
            return False
        now = self.clock()
        self.store.add(
            resolved.entry.model,
            resolved.version.version,
            ctx.tenant_id,
            window_of(now),
            reference.profile.sketch_rows(rows),
            len(rows),
            int(now) + self.retention_days * 86_400,
        )
        return True

    def _failed(self, error: Exception) -> None:
        """Logged by type only: the message of a parsing error could quote a value."""
        self.failures += 1
        logger.warning("drift sketch not counted", extra={"error_type": type(error).__name__})
        if self.on_failure is not None:
            with contextlib.suppress(Exception):  # counting a failure must not fail the answer
                self.on_failure(type(error).__name__)


# -- reports --------------------------------------------------------------------------------------


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def window_document(
    reference: DriftReference, window: str, sketch: Sketch, rows: int, min_samples: int = MIN_SAMPLES
) -> dict[str, Any]:
    """One window's drift against the reference (JSON-ready; no value, only bin statistics)."""
    report = reference.profile.report(sketch)
    features = {
        name: {
            "kind": f.kind,
            "reference_count": f.reference_count,
            "live_count": f.live_count,
            "psi": _rounded(f.psi),
            "js_distance": _rounded(f.js_distance),
            "ks": _rounded(f.ks),
            "drifted": f.drifted,
        }
        for name, f in report.features.items()
    }
    prediction = report.features.get(PREDICTION)
    inputs = {n: f for n, f in report.features.items() if n != PREDICTION and f.psi is not None}
    drifted_inputs = [n for n, f in inputs.items() if f.drifted]
    share = len(drifted_inputs) / len(inputs) if inputs else None
    sufficient = rows >= min_samples
    prediction_psi = prediction.psi if prediction is not None else None
    return {
        "window": window,
        "rows": rows,
        "sufficient": sufficient,
        "features": features,
        "drifted_features": drifted_inputs,
        "share_drifted": _rounded(share),
        "prediction_psi": _rounded(prediction_psi),
        "drifted": sufficient
        and (
            (share is not None and share > SHARE_DRIFTED_ALARM)
            or (prediction_psi is not None and prediction_psi > PSI_THRESHOLD)
        ),
    }


def drift_document(
    reference: DriftReference,
    stored: Iterable[StoredSketch],
    *,
    period: str,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """Every day's window and the whole period (``period``) for one tenant's stored sketches.

    Sketches counted under another profile (the version was re-registered with new bins) are
    left out and counted in ``other_profile_rows``."""
    fingerprint = reference.profile.fingerprint
    days: dict[str, tuple[Sketch, int]] = {}
    other = 0
    for item in stored:
        if item.profile != fingerprint:
            other += item.rows
            continue
        sketch = to_sketch(reference.profile, item)
        if item.window in days:
            prior, n = days[item.window]
            days[item.window] = (prior.merge(sketch), n + item.rows)
        else:
            days[item.window] = (sketch, item.rows)
    windows = [window_document(reference, w, s, n, min_samples) for w, (s, n) in sorted(days.items())]
    whole: dict[str, Any] | None = None
    if days:
        merged = Sketch(fingerprint, {}).merge(next(iter(days.values()))[0])
        for s, _ in list(days.values())[1:]:
            merged = merged.merge(s)
        whole = window_document(reference, period, merged, sum(n for _, n in days.values()), min_samples)
    return {
        "kind": reference.kind,
        "profile": fingerprint,
        "psi_threshold": PSI_THRESHOLD,
        "share_drifted_threshold": SHARE_DRIFTED_ALARM,
        "min_samples": min_samples,
        "windows": windows,
        "period": whole,
        "other_profile_rows": other,
    }


def metric_values(period: Mapping[str, Any] | None) -> dict[str, float]:
    """``ShareDriftedFeatures`` and ``PredictionPSI`` of a judged period (none below the sample size)."""
    if not period or not period.get("sufficient"):
        return {}
    values: dict[str, float] = {"DriftRows": float(period["rows"])}
    if period.get("share_drifted") is not None:
        values["ShareDriftedFeatures"] = float(period["share_drifted"])
    if period.get("prediction_psi") is not None:
        values["PredictionPSI"] = float(period["prediction_psi"])
    return values


@dataclass
class DriftService:
    """``GET /v1/models/{m}/drift``: the caller's own tenant's drift of a version it may use."""

    catalog: Any  # steward.catalog.service.Catalog (its resolve is the entitlement check)
    store: DriftSketchStore | None
    clock: Callable[[], float] = time.time
    min_samples: int = MIN_SAMPLES

    def drift(self, ctx: RequestContext, model: str, version: str | None, days: int) -> dict[str, Any]:
        resolved = self.catalog.resolve(ctx, model, version, routed=False)  # never a canary draw
        mv = resolved.version
        now = self.clock()
        last, first = window_of(now), window_of(now - (max(1, min(days, MAX_DAYS)) - 1) * 86_400)
        out: dict[str, Any] = {
            "model": resolved.entry.model,
            "version": mv.version,
            "first_window": first,
            "last_window": last,
            "monitored": False,
        }
        reference = DriftReference.from_dict(mv.drift_profile) if mv.drift_profile else None
        if reference is None or self.store is None:
            return out
        fingerprint = reference.profile.fingerprint
        windows = [window_of(now - i * 86_400) for i in range(max(1, min(days, MAX_DAYS)))]
        stored = self.store.days(resolved.entry.model, mv.version, ctx.tenant_id, windows, fingerprint)
        document = drift_document(reference, stored, period=f"{first}..{last}", min_samples=self.min_samples)
        return {**out, "monitored": True, **document}
