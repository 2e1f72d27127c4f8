"""Label-free input drift: reference bins per feature, mergeable window sketches, PSI / JS / KS.

A `DriftProfile` is built once from a model's reference (background) data: numeric features get
quantile edges, categorical ones their most frequent categories plus an "other" bucket, and the
reference data's own counts in those bins. Live traffic is counted into `Sketch` es with the same
bins (one per window; they `merge`), and `DriftProfile.report` compares a live sketch with the
reference bin by bin. Only bin counts are stored, never a raw value, and errors never echo one.

Metrics, per feature, on bin probabilities ``p`` (reference) and ``q`` (live):

* PSI = sum((q - p) * ln(q / p)) after clipping both to `PSI_EPSILON` (an empty bin would make it
  infinite; clipping without renormalising is the usual convention, and 1e-4 caps one empty bin's
  term near ``p * ln(p / 1e-4)``);
* Jensen-Shannon distance, base 2 (in [0, 1]), exactly as ``scipy.spatial.distance.jensenshannon``
  computes it (no smoothing needed: it is finite with empty bins);
* numeric features only: the two-sample Kolmogorov-Smirnov statistic on the bins, i.e. the largest
  absolute difference of the two binned CDFs at the bin edges (a lower bound of the exact KS
  statistic of the raw values; no p-value, which would need raw values and their count).

A feature drifts when PSI > `PSI_THRESHOLD` (0.2, the customary "significant shift" level; 0.1 to
0.2 is "moderate") or JS distance > `JS_THRESHOLD` (0.1). Pure Python: this runs in Lambda.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from numbers import Real
from typing import Any, Literal

SCHEMA_VERSION = 1
DEFAULT_NUMERIC_BINS = 10
DEFAULT_MAX_CATEGORIES = 50
PSI_EPSILON = 1e-4
PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1
OTHER = "__other__"


def _number(value: object, feature: str) -> float:
    """A numeric feature value (±inf allowed, they land in the outer bins); the value is not echoed."""
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise ValueError(f"feature {feature!r} is numeric, got a {type(value).__name__}")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"feature {feature!r} is numeric, got NaN")
    return number


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted values (NumPy's default ``method="linear"``)."""
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    a, b = sorted_values[low], sorted_values[high]
    return a if fraction == 0 or a == b else a + fraction * (b - a)


@dataclass(frozen=True)
class NumericBins:
    """Bins ``(-inf, e1), [e1, e2), ..., [ek, inf)`` for sorted, distinct interior edges."""

    edges: tuple[float, ...]
    kind: Literal["numeric"] = "numeric"

    def __post_init__(self) -> None:
        if not self.edges or any(math.isnan(e) or math.isinf(e) for e in self.edges):
            raise ValueError("numeric bins need at least one finite edge")
        if any(a >= b for a, b in pairwise(self.edges)):
            raise ValueError("numeric bin edges must be strictly increasing")

    @classmethod
    def from_values(
        cls, values: Iterable[object], feature: str, n_bins: int = DEFAULT_NUMERIC_BINS
    ) -> NumericBins:
        """Edges at the reference quantiles i/n_bins (i = 1..n_bins-1), ties collapsed into one edge."""
        if n_bins < 2:
            raise ValueError("n_bins must be at least 2")
        ordered = sorted(_number(v, feature) for v in values)
        finite = [v for v in ordered if not math.isinf(v)]
        if not finite:
            raise ValueError(f"feature {feature!r} has no finite reference value")
        edges = sorted({quantile(finite, i / n_bins) for i in range(1, n_bins)})
        return cls(tuple(edges))

    @property
    def size(self) -> int:
        return len(self.edges) + 1

    def index(self, value: object, feature: str) -> int:
        return bisect_right(self.edges, _number(value, feature))

    def labels(self) -> list[str]:
        e = self.edges
        inner = [f"[{a!r}, {b!r})" for a, b in pairwise(e)]
        return [f"< {e[0]!r}", *inner, f">= {e[-1]!r}"]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": [repr(e) for e in self.edges]}  # exact, no float


@dataclass(frozen=True)
class CategoricalBins:
    """One bin per reference category (sorted) and a last bin for any other value."""

    categories: tuple[str, ...]
    kind: Literal["categorical"] = "categorical"
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be distinct")
        object.__setattr__(self, "_positions", {c: i for i, c in enumerate(self.categories)})

    @classmethod
    def from_values(
        cls, values: Iterable[object], max_categories: int = DEFAULT_MAX_CATEGORIES
    ) -> CategoricalBins:
        """The ``max_categories`` most frequent values (ties by name); rarer ones go to "other"."""
        counts = Counter(str(v) for v in values)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_categories]
        return cls(tuple(sorted(name for name, _ in ranked)))

    @property
    def size(self) -> int:
        return len(self.categories) + 1

    def index(self, value: object, feature: str) -> int:
        return self._positions.get(str(value), len(self.categories))

    def labels(self) -> list[str]:
        return [*self.categories, OTHER]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "categories": list(self.categories)}


FeatureBins = NumericBins | CategoricalBins


def _bins_from_dict(data: Mapping[str, Any]) -> FeatureBins:
    kind = data.get("kind")
    if kind == "numeric":
        return NumericBins(tuple(float(str(e)) for e in data.get("edges", ())))
    if kind == "categorical":
        return CategoricalBins(tuple(str(c) for c in data.get("categories", ())))
    raise ValueError(f"unknown feature bin kind {kind!r}")


@dataclass
class Sketch:
    """Bin counts per feature for one window, tied to a profile by its fingerprint."""

    profile: str
    counts: dict[str, list[int]]

    def total(self, feature: str) -> int:
        return sum(self.counts.get(feature, ()))

    def merge(self, other: Sketch) -> Sketch:
        """A new sketch holding the sum of both (same profile; neither input changes)."""
        if other.profile != self.profile:
            raise ValueError("cannot merge sketches of different drift profiles")
        merged = {name: list(c) for name, c in self.counts.items()}
        for name, counts in other.counts.items():
            if name not in merged:
                merged[name] = list(counts)
            elif len(merged[name]) != len(counts):
                raise ValueError(f"feature {name!r} has different bin counts in the two sketches")
            else:
                merged[name] = [a + b for a, b in zip(merged[name], counts, strict=True)]
        return Sketch(self.profile, merged)

    __add__ = merge

    def to_dict(self) -> dict[str, Any]:
        """``{"schema_version", "profile": fingerprint, "counts": {feature: [int, ...]}}``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "profile": self.profile,
            "counts": {name: list(c) for name, c in sorted(self.counts.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sketch:
        if _count(data.get("schema_version")) != SCHEMA_VERSION:
            raise ValueError(f"unsupported sketch schema_version {data.get('schema_version')!r}")
        profile, counts = data.get("profile"), data.get("counts")
        if not isinstance(profile, str) or not isinstance(counts, Mapping):
            raise ValueError("a sketch needs a 'profile' string and a 'counts' mapping")
        if not all(isinstance(cells, list | tuple) for cells in counts.values()):
            raise ValueError("sketch counts map each feature to a list of counts")
        return cls(profile, {str(name): [_count(c) for c in cells] for name, cells in counts.items()})


def _count(value: object) -> int:
    """A non-negative integer count (DynamoDB gives back Decimal)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"count must be a non-negative integer, got {value!r}")
    number = int(value)
    if number != value or number < 0:
        raise ValueError(f"count must be a non-negative integer, got {value!r}")
    return number


# -- metrics on bin counts ------------------------------------------------------------------


def probabilities(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    if not total:
        raise ValueError("no observation in these bins")
    return [c / total for c in counts]


def psi(reference: Sequence[int], live: Sequence[int], epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of live against reference bin counts (see module docstring)."""
    p = [max(x, epsilon) for x in probabilities(reference)]
    q = [max(x, epsilon) for x in probabilities(_same_length(reference, live))]
    return math.fsum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


def js_distance(reference: Sequence[int], live: Sequence[int]) -> float:
    """Jensen-Shannon distance, base 2, as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``."""
    p, q = probabilities(reference), probabilities(_same_length(reference, live))
    divergence = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        divergence += (a * math.log(a / m) if a else 0.0) + (b * math.log(b / m) if b else 0.0)
    return math.sqrt(max(divergence / math.log(2) / 2, 0.0))


def binned_ks(reference: Sequence[int], live: Sequence[int]) -> float:
    """max |CDF_ref - CDF_live| over the bin edges of ordered bins."""
    p, q = probabilities(reference), probabilities(_same_length(reference, live))
    cdf_p = cdf_q = gap = 0.0
    for a, b in zip(p[:-1], q[:-1], strict=True):  # the last edge is +inf, where both CDFs are 1
        cdf_p += a
        cdf_q += b
        gap = max(gap, abs(cdf_p - cdf_q))
    return gap


def _same_length(reference: Sequence[int], live: Sequence[int]) -> Sequence[int]:
    if len(reference) != len(live):
        raise ValueError(f"bin counts differ in length ({len(reference)}, {len(live)})")
    return live


# -- profile and report ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature; metrics are None when either side has no observation."""

    kind: str
    reference_count: int
    live_count: int
    psi: float | None
    js_distance: float | None
    ks: float | None
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    features: dict[str, FeatureDrift]
    drifted_features: list[str]
    #: Drifted features over features with live data; None when no feature has any.
    share_drifted: float | None
    psi_threshold: float
    js_threshold: float

    def to_dict(self) -> dict[str, Any]:
        out = {key: value for key, value in vars(self).items() if key != "features"}
        out["features"] = {name: vars(drift) for name, drift in self.features.items()}
        return out


@dataclass(frozen=True)
class DriftProfile:
    """Reference bins of every monitored feature and the reference data's counts in them."""

    features: dict[str, FeatureBins]
    reference: Sketch

    @property
    def fingerprint(self) -> str:
        """First 32 hex digits of SHA-256 over the bins: sketches name the bins they were counted in."""
        return _fingerprint(self.features)

    @classmethod
    def build(
        cls,
        columns: Mapping[str, Sequence[object]],
        *,
        categorical: Collection[str] = (),
        n_bins: int = DEFAULT_NUMERIC_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ) -> DriftProfile:
        """Profile of reference columns; a column is numeric when every value is a non-bool number."""
        features: dict[str, FeatureBins] = {}
        for name, values in columns.items():
            if not values:
                raise ValueError(f"feature {name!r} has no reference value")
            numeric = name not in categorical and all(
                isinstance(v, Real | Decimal) and not isinstance(v, bool) for v in values
            )
            features[name] = (
                NumericBins.from_values(values, name, n_bins)
                if numeric
                else CategoricalBins.from_values(values, max_categories)
            )
        fingerprint = _fingerprint(features)
        return cls(features, _sketch(features, fingerprint, columns))

    def sketch(self, columns: Mapping[str, Iterable[object]]) -> Sketch:
        """Counts of live columns (features the profile lacks are ignored, missing ones left empty)."""
        return _sketch(self.features, self.fingerprint, columns)

    def sketch_rows(self, rows: Iterable[Mapping[str, object]]) -> Sketch:
        """Counts of live rows, e.g. one request's inputs (a row without a feature skips it)."""
        counts = {name: [0] * bins.size for name, bins in self.features.items()}
        for row in rows:
            for name, bins in self.features.items():
                if name in row:
                    counts[name][bins.index(row[name], name)] += 1
        return Sketch(self.fingerprint, counts)

    def report(
        self, live: Sketch, psi_threshold: float = PSI_THRESHOLD, js_threshold: float = JS_THRESHOLD
    ) -> DriftReport:
        """Per-feature PSI / JS / KS of ``live`` against the reference, and which features drifted."""
        if live.profile != self.fingerprint:
            raise ValueError("the live sketch was counted with another drift profile")
        features: dict[str, FeatureDrift] = {}
        for name, bins in self.features.items():
            ref = self.reference.counts.get(name, [0] * bins.size)
            cur = live.counts.get(name, [0] * bins.size)
            if len(ref) != bins.size or len(cur) != bins.size:
                raise ValueError(f"feature {name!r} has the wrong number of bins")
            p: float | None = None
            j: float | None = None
            k: float | None = None
            drifted = False
            if sum(ref) and sum(cur):
                p, j = psi(ref, cur), js_distance(ref, cur)
                k = binned_ks(ref, cur) if bins.kind == "numeric" else None
                drifted = p > psi_threshold or j > js_threshold
            features[name] = FeatureDrift(bins.kind, sum(ref), sum(cur), p, j, k, drifted)
        evaluated = [name for name, f in features.items() if f.psi is not None]
        drifted_names = [name for name in evaluated if features[name].drifted]
        return DriftReport(
            features=features,
            drifted_features=drifted_names,
            share_drifted=len(drifted_names) / len(evaluated) if evaluated else None,
            psi_threshold=psi_threshold,
            js_threshold=js_threshold,
        )

    def to_dict(self) -> dict[str, Any]:
        """Bins (edges as exact ``repr`` strings) and reference counts; no float anywhere."""
        return {
            "schema_version": SCHEMA_VERSION,
            "features": {name: bins.to_dict() for name, bins in self.features.items()},
            "reference": self.reference.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftProfile:
        if _count(data.get("schema_version")) != SCHEMA_VERSION:
            raise ValueError(f"unsupported drift profile schema_version {data.get('schema_version')!r}")
        raw = data.get("features")
        if not isinstance(raw, Mapping):
            raise ValueError("a drift profile needs a 'features' mapping")
        features = {str(name): _bins_from_dict(bins) for name, bins in raw.items()}
        reference = Sketch.from_dict(data.get("reference") or {})
        if reference.profile != _fingerprint(features):
            raise ValueError("the reference sketch does not match the profile's bins")
        return cls(features, reference)


def _fingerprint(features: Mapping[str, FeatureBins]) -> str:
    canonical = json.dumps({n: b.to_dict() for n, b in sorted(features.items())}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _sketch(
    features: Mapping[str, FeatureBins], fingerprint: str, columns: Mapping[str, Iterable[object]]
) -> Sketch:
    counts: dict[str, list[int]] = {}
    for name, bins in features.items():
        cells = [0] * bins.size
        for value in columns.get(name, ()):
            cells[bins.index(value, name)] += 1
        counts[name] = cells
    return Sketch(fingerprint, counts)


# -- text models ----------------------------------------------------------------------------


def embedding_centroid(embeddings: Iterable[Sequence[float]]) -> list[float]:
    """Mean of reference embeddings (the centroid `embedding_features` compares with)."""
    rows = [list(map(float, e)) for e in embeddings]
    if not rows:
        raise ValueError("no reference embedding")
    dimension = len(rows[0])
    if any(len(r) != dimension for r in rows):
        raise ValueError("reference embeddings differ in dimension")
    return [math.fsum(column) / len(rows) for column in zip(*rows, strict=True)]


def embedding_features(
    embedding: Sequence[float], centroid: Sequence[float], prefix: str = "embedding"
) -> dict[str, float]:
    """``{prefix_norm: L2 norm, prefix_cosine: cosine similarity to the centroid}``.

    Two numeric features that drift-monitor a text model like any tabular one: the norm moves
    with input length and vocabulary, the cosine with topic. A zero embedding has cosine 0.0 (no
    direction: it counts with the orthogonal ones rather than failing the window).
    """
    if len(embedding) != len(centroid):
        raise ValueError(f"embedding has dimension {len(embedding)}, the centroid {len(centroid)}")
    vector = [float(x) for x in embedding]
    if not all(math.isfinite(x) for x in vector):
        raise ValueError("embedding has a non-finite component")
    norm, centroid_norm = math.hypot(*vector), math.hypot(*centroid)
    if not centroid_norm:
        raise ValueError("the reference centroid is the zero vector")
    dot = math.fsum(a * float(b) for a, b in zip(vector, centroid, strict=True))
    cosine = dot / (norm * centroid_norm) if norm else 0.0
    return {f"{prefix}_norm": norm, f"{prefix}_cosine": max(-1.0, min(1.0, cosine))}
