"""Explanations computed next to the model: Shapley values for tabular models, occlusion for text."""

from gpu_backend.explain.shapley import (
    MAX_EXACT_FEATURES,
    PredictFn,
    ShapleyResult,
    TokenAttributions,
    coalition_masks,
    exact_shapley,
    occlusion_token_attributions,
    sampling_shapley,
    session_predict_fn,
    shapley_values,
    shapley_weight_matrix,
)

__all__ = [
    "MAX_EXACT_FEATURES",
    "PredictFn",
    "ShapleyResult",
    "TokenAttributions",
    "coalition_masks",
    "exact_shapley",
    "occlusion_token_attributions",
    "sampling_shapley",
    "session_predict_fn",
    "shapley_values",
    "shapley_weight_matrix",
]
