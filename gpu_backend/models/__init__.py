"""Served models, one module per kind; `model_for` picks the kind a manifest describes.

The cut follows what the code holds, and imports run one way only (kinds -> base, never back):

- `base`: the interface every kind implements (`ServedModel`: verify artifacts, open the ONNX
  Runtime session with the fp16/CPU-fallback choice, report metadata) and `TextModel`, the
  tokenizer loading and sequence bucketing both text kinds share.
- `onnx`: graph-native models, whose manifest tensors are the graph's own (checked at load).
- `tabular`: a graph-native classifier plus the explainer's background sample.
- `embedding`: BYTES text -> tokenizer -> bucketed graph runs -> pooled vectors.
- `token_classifier`: BYTES text -> windowed tokens -> BIO tags -> JSON entity spans.

The session and its replicas are not a model kind: they stay in `gpu_backend.runtime`, which knows
ONNX Runtime and nothing of manifests. A new kind is a module here plus one line in `model_for`.
"""

from __future__ import annotations

from pathlib import Path

from gpu_backend.manifest import Manifest
from gpu_backend.models.base import ServedModel
from gpu_backend.models.embedding import EmbeddingModel
from gpu_backend.models.onnx import OnnxModel
from gpu_backend.models.tabular import TabularModel
from gpu_backend.models.token_classifier import TokenClassifierModel
from gpu_backend.settings import Settings


def model_for(manifest: Manifest, version_dir: Path, settings: Settings) -> ServedModel:
    """Pick the implementation from the manifest's pre/postprocessing kinds and task."""
    if manifest.postprocessing["kind"] == "token-spans":
        return TokenClassifierModel(manifest, version_dir, settings)
    if manifest.preprocessing["kind"] == "bert-tokenizer":
        return EmbeddingModel(manifest, version_dir, settings)
    if manifest.task == "tabular-classification":
        return TabularModel(manifest, version_dir, settings)
    return OnnxModel(manifest, version_dir, settings)
