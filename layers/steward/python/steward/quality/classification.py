"""Mergeable quality counters for a binary classifier, the only state quality monitoring keeps.

Built from labelled observations ``(score, label)`` at the model's decision threshold (class 1 is
the positive class, prediction = ``score >= threshold``). No raw record is stored, only:

* the confusion counts at the threshold (exact);
* a histogram of scores per label with `AUC_BINS` equal-width bins over [0, 1], from which ROC AUC
  is computed as the Mann-Whitney statistic with pairs sharing a bin counted as ties. The error
  against the exact AUC is at most half the share of (positive, negative) pairs that share a bin;
  that bound is computed from the same counts and reported as ``roc_auc_max_error``. 2000 bins
  keep it under 0.005 whenever no 1/20 of the score range holds more than ~20 % of one class's
  scores together with the matching share of the other (smooth score densities up to ~20);
* the Brier sum and reliability (calibration) sums in exact integer fixed point: each score is
  quantised to a multiple of 2**-80 (`SCORE_UNITS`), which holds every float score >= 2**-28
  (~3.7e-9) exactly and any smaller one within 2**-81, so sums are Python ints, `merge` is exact
  and associative, and a window's sum equals the sum of its parts.

Pure Python (this runs in Lambda); ``to_dict`` holds only ints and strings (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from numbers import Real
from typing import Any

SCHEMA_VERSION = 1
#: Equal-width score bins of the per-label histograms behind ROC AUC (see module docstring).
AUC_BINS = 2000
#: Equal-width bins of the reliability diagram.
RELIABILITY_BINS = 10
#: Scores are held as integers in units of 2**-80; squares of them in units of 2**-160.
SCORE_SHIFT = 80
SCORE_UNITS = 1 << SCORE_SHIFT


def validate_score(score: object) -> float:
    """A probability of the positive class: a real number in [0, 1] (bool and NaN refused)."""
    if type(score) is float:  # the common case, without the ABC check
        value = score
    elif isinstance(score, bool) or not isinstance(score, Real | Decimal):
        raise ValueError(f"score must be a number in [0, 1], got {type(score).__name__}")
    else:
        value = float(score)
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise ValueError(f"score must be a number in [0, 1], got {value!r}")
    return value


def validate_label(label: object) -> int:
    """Ground truth 0 or 1 (int, bool or integral float/Decimal, as JSON and DynamoDB give back)."""
    if not isinstance(label, str) and label in (0, 1):
        return int(label)
    raise ValueError(f"label must be 0 or 1, got {label!r}")


def validate_threshold(threshold: object) -> float:
    """A decision threshold in (0, 1]: 0 would predict every row positive whatever its score."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | Decimal | str):
        raise ValueError(f"threshold must be a number in (0, 1], got {type(threshold).__name__}")
    try:
        value = float(threshold)
    except ValueError as exc:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}") from exc
    if not 0.0 < value <= 1.0:
        raise ValueError(f"threshold must be a number in (0, 1], got {value!r}")
    return value


def _count(value: object, what: str) -> int:
    """A non-negative integer from an int, an integral Decimal (DynamoDB) or a decimal string."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    try:
        if isinstance(value, str):
            number = int(value)
        elif isinstance(value, int | Decimal):
            number = int(value)
            if number != value:
                raise ValueError
        else:
            raise ValueError
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}") from exc
    if number < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return number


def _bin(units: int, bins: int) -> int:
    """Equal-width bin of a quantised score; 1.0 falls in the last bin."""
    return min((units * bins) >> SCORE_SHIFT, bins - 1)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability diagram; means are None for an empty bin."""

    lower: float
    upper: float
    count: int
    mean_score: float | None
    positive_rate: float | None


@dataclass
class ClassifierQuality:
    """Quality counters of one binary classifier at one threshold; a missing key means zero."""

    threshold: float = 0.5
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    #: ``histogram[label][bin] = count`` over `AUC_BINS` bins, sparse.
    histogram: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    #: Sum over rows of ``(score - label)**2`` in units of 2**-160.
    brier_sum: int = 0
    #: Per reliability bin: rows, sum of scores (units of 2**-80), positives.
    reliability_count: list[int] = field(default_factory=lambda: [0] * RELIABILITY_BINS)
    reliability_score_sum: list[int] = field(default_factory=lambda: [0] * RELIABILITY_BINS)
    reliability_positives: list[int] = field(default_factory=lambda: [0] * RELIABILITY_BINS)

    def __post_init__(self) -> None:
        self.threshold = validate_threshold(self.threshold)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @classmethod
    def from_observations(
        cls, scores: Iterable[object], labels: Iterable[object], threshold: object = 0.5
    ) -> ClassifierQuality:
        """Counters of aligned scores and labels (both validated; lengths must match)."""
        quality = cls(threshold=validate_threshold(threshold))
        quality.add_many(scores, labels)
        return quality

    def add(self, score: object, label: object) -> None:
        """Count one labelled observation."""
        self.add_many((score,), (label,))

    def add_many(self, scores: Iterable[object], labels: Iterable[object]) -> None:
        """Count aligned observations; nothing is counted if any of them is invalid."""
        pairs = [(validate_score(s), validate_label(y)) for s, y in _aligned(scores, labels)]
        threshold, histogram = self.threshold, self.histogram
        r_count, r_sum, r_pos = self.reliability_count, self.reliability_score_sum, self.reliability_positives
        brier = 0
        for score, label in pairs:
            units = round(score * SCORE_UNITS)  # exact scaling by a power of two, then to int
            if score >= threshold:
                if label:
                    self.tp += 1
                else:
                    self.fp += 1
            elif label:
                self.fn += 1
            else:
                self.tn += 1
            bucket = histogram[label]
            b = _bin(units, AUC_BINS)
            bucket[b] = bucket.get(b, 0) + 1
            error = units - SCORE_UNITS if label else units
            brier += error * error
            r = _bin(units, RELIABILITY_BINS)
            r_count[r] += 1
            r_sum[r] += units
            r_pos[r] += label
        self.brier_sum += brier

    def merge(self, other: ClassifierQuality) -> ClassifierQuality:
        """A new counter holding the sum of both; they must share the threshold."""
        if other.threshold != self.threshold:
            raise ValueError(
                f"cannot merge quality counters of thresholds {self.threshold!r} and {other.threshold!r}"
            )
        histogram: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for label in (0, 1):
            for source in (self, other):
                for b, c in source.histogram[label].items():
                    histogram[label][b] = histogram[label].get(b, 0) + c
        return ClassifierQuality(
            threshold=self.threshold,
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tn=self.tn + other.tn,
            histogram=histogram,
            brier_sum=self.brier_sum + other.brier_sum,
            reliability_count=_add(self.reliability_count, other.reliability_count),
            reliability_score_sum=_add(self.reliability_score_sum, other.reliability_score_sum),
            reliability_positives=_add(self.reliability_positives, other.reliability_positives),
        )

    __add__ = merge

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassifierQuality):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    # -- metrics ------------------------------------------------------------------------------

    def roc_auc(self) -> tuple[float | None, float | None]:
        """(ROC AUC, its maximum error) from the histograms; (None, None) without both classes.

        AUC = P(score of a positive > score of a negative) + P(tie) / 2, with "tie" meaning the
        same bin; the exact AUC differs by at most half the share of pairs sharing a bin.
        """
        negatives, positives = self.histogram
        n_pos, n_neg = sum(positives.values()), sum(negatives.values())
        if not n_pos or not n_neg:
            return None, None
        below = 0  # negatives in lower bins
        wins_twice = 0  # 2 * (pairs won) + pairs tied, an exact integer
        same_bin = 0
        for b in sorted(negatives.keys() | positives.keys()):
            pos, neg = positives.get(b, 0), negatives.get(b, 0)
            wins_twice += pos * (2 * below + neg)
            same_bin += pos * neg
            below += neg
        pairs = n_pos * n_neg
        return wins_twice / (2 * pairs), same_bin / (2 * pairs)

    def reliability(self) -> list[ReliabilityBin]:
        return [
            ReliabilityBin(
                lower=i / RELIABILITY_BINS,
                upper=(i + 1) / RELIABILITY_BINS,
                count=count,
                mean_score=_ratio(self.reliability_score_sum[i], count * SCORE_UNITS),
                positive_rate=_ratio(self.reliability_positives[i], count),
            )
            for i, count in enumerate(self.reliability_count)
        ]

    def metrics(self) -> dict[str, Any]:
        """Threshold metrics (scikit-learn's definitions), ROC AUC, Brier and reliability.

        Undefined values are None: accuracy and Brier without rows, precision without predicted
        positives, recall without positives, F1 (``2tp / (2tp + fp + fn)``, as scikit-learn) when
        both are missing, ROC AUC without both classes. ``ece`` is the expected calibration error
        over the reliability bins (count-weighted mean |mean score - positive rate|).
        """
        n, tp, fp, fn = self.n, self.tp, self.fp, self.fn
        auc, auc_error = self.roc_auc()
        bins = self.reliability()
        ece = (
            math.fsum(
                b.count * abs(b.mean_score - b.positive_rate)
                for b in bins
                if b.mean_score is not None and b.positive_rate is not None
            )
            / n
            if n
            else None
        )
        return {
            "n": n,
            "threshold": self.threshold,
            "accuracy": _ratio(tp + self.tn, n),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "roc_auc": auc,
            "roc_auc_max_error": auc_error,
            "brier": _ratio(self.brier_sum, n * SCORE_UNITS * SCORE_UNITS) if n else None,
            "ece": ece,
            "reliability": [vars(b) for b in bins],
        }

    # -- storage ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON- and DynamoDB-safe form: counts are ints, everything else strings.

        The threshold is its ``repr`` (exact float round trip, no DynamoDB float); the fixed-point
        sums (``brier_sum``, ``reliability.score_sum``) are decimal strings because they exceed
        DynamoDB's 38 digits and JavaScript's 2**53 for large windows. Histogram bins are a sparse
        ``{"<bin>": count}`` map per label (at most `AUC_BINS` entries each, ~30 KB at worst).
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "auc_bins": AUC_BINS,
            "threshold": repr(self.threshold),
            "confusion": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
            "histogram": {
                str(label): {str(b): c for b, c in sorted(self.histogram[label].items()) if c}
                for label in (0, 1)
            },
            "brier_sum": str(self.brier_sum),
            "reliability": {
                "count": list(self.reliability_count),
                "score_sum": [str(s) for s in self.reliability_score_sum],
                "positives": list(self.reliability_positives),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassifierQuality:
        """Inverse of `to_dict`; accepts DynamoDB's Decimals, rejects other versions and bin counts."""
        version = data.get("schema_version")
        if version is None or _count(version, "schema_version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported quality counters schema_version {version!r}")
        if _count(data.get("auc_bins"), "auc_bins") != AUC_BINS:
            raise ValueError(f"quality counters must have {AUC_BINS} AUC bins")
        confusion = _mapping(data, "confusion")
        histogram: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for label, bins in _mapping(data, "histogram").items():
            if label not in ("0", "1"):
                raise ValueError(f"histogram labels are '0' and '1', got {label!r}")
            target = histogram[int(label)]
            if not isinstance(bins, Mapping):
                raise ValueError("histogram maps each label to a {bin: count} mapping")
            for key, value in bins.items():
                b = _count(key, "histogram bin")
                if b >= AUC_BINS:
                    raise ValueError(f"histogram bin {b} out of range")
                if count := _count(value, "histogram count"):
                    target[b] = count
        reliability = _mapping(data, "reliability")
        quality = cls(
            threshold=validate_threshold(data.get("threshold")),
            tp=_count(confusion.get("tp"), "tp"),
            fp=_count(confusion.get("fp"), "fp"),
            fn=_count(confusion.get("fn"), "fn"),
            tn=_count(confusion.get("tn"), "tn"),
            histogram=histogram,
            brier_sum=_count(data.get("brier_sum"), "brier_sum"),
            reliability_count=_counts(reliability.get("count"), "reliability count"),
            reliability_score_sum=_counts(reliability.get("score_sum"), "reliability score_sum"),
            reliability_positives=_counts(reliability.get("positives"), "reliability positives"),
        )
        if sum(quality.reliability_count) != quality.n or sum(map(sum, (h.values() for h in histogram))) != (
            quality.n
        ):
            raise ValueError("quality counters disagree on the number of observations")
        return quality


def _aligned(scores: Iterable[object], labels: Iterable[object]) -> Iterable[tuple[object, object]]:
    score_list, label_list = list(scores), list(labels)
    if len(score_list) != len(label_list):
        raise ValueError(f"scores and labels differ in length ({len(score_list)}, {len(label_list)})")
    return zip(score_list, label_list, strict=True)


def _add(left: list[int], right: list[int]) -> list[int]:
    return [a + b for a, b in zip(left, right, strict=True)]


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"quality counters need a {key!r} mapping")
    return value


def _counts(value: object, what: str) -> list[int]:
    if not isinstance(value, list | tuple) or len(value) != RELIABILITY_BINS:
        raise ValueError(f"{what} must be a list of {RELIABILITY_BINS} integers")
    return [_count(v, what) for v in value]
