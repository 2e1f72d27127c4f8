"""Tabular classifiers: a graph-native model that also ships its explainer background sample.

The sample (`explain.background`, an `.npy` of shape [N, features]) is checked at load, so an
explanation never fails later on a file the manifest promised.
"""

from __future__ import annotations

import io

import numpy as np

from gpu_backend.errors import ModelLoadError
from gpu_backend.models.onnx import OnnxModel


class TabularModel(OnnxModel):
    """A tabular classifier; also checks the explainer background sample it ships with."""

    background: np.ndarray | None = None

    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        super()._prepare(artifacts)
        explain = self.manifest.explain or {}
        background = explain.get("background")
        if background:
            try:
                sample = np.load(io.BytesIO(artifacts[background]), allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise ModelLoadError(
                    f"background {background!r} is not a readable .npy file: {exc}"
                ) from None
            features = self.manifest.inputs[0].shape[-1]
            if sample.ndim != 2 or (features != -1 and sample.shape[1] != features):
                raise ModelLoadError(
                    f"background {background!r} has shape {list(sample.shape)}, expected [N, {features}]"
                )
            self.background = sample.astype(np.float32, copy=False)
