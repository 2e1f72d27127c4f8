"""Model quality monitoring: ground-truth metrics of classifiers and label-free input drift.

Pure Python so it runs in Lambda. Like `steward.fairness`, state is mergeable aggregate counters
with a JSON/DynamoDB form; no raw record is kept.
"""

from steward.quality.classification import AUC_BINS, ClassifierQuality, ReliabilityBin
from steward.quality.drift import (
    JS_THRESHOLD,
    PSI_THRESHOLD,
    CategoricalBins,
    DriftProfile,
    DriftReport,
    FeatureDrift,
    NumericBins,
    Sketch,
    binned_ks,
    embedding_centroid,
    embedding_features,
    js_distance,
    psi,
)

__all__ = [
    "AUC_BINS",
    "JS_THRESHOLD",
    "PSI_THRESHOLD",
    "CategoricalBins",
    "ClassifierQuality",
    "DriftProfile",
    "DriftReport",
    "FeatureDrift",
    "NumericBins",
    "ReliabilityBin",
    "Sketch",
    "binned_ks",
    "embedding_centroid",
    "embedding_features",
    "js_distance",
    "psi",
]
