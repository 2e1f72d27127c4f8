"""Served models: `load / predict / unload`; readiness is what `load` returned.

`predict` takes and returns numpy batches keyed by the manifest's tensor names (leading dimension =
batch), so the batcher can stack requests without knowing the model kind.
"""

from __future__ import annotations

import io
import logging
from abc import ABC, abstractmethod
from bisect import bisect_left
from pathlib import Path
from typing import Any

import numpy as np

from gpu_backend.errors import ModelLoadError
from gpu_backend.repository import Manifest, TensorSpec, verify_all
from gpu_backend.runtime import OrtSession, cuda_available
from gpu_backend.settings import Settings

log = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]


class ServedModel(ABC):
    """One model version: verified artifacts, an ORT session, and the facts metadata reports."""

    def __init__(self, manifest: Manifest, version_dir: Path, settings: Settings) -> None:
        self.manifest = manifest
        self.version_dir = version_dir
        self.settings = settings
        self.session: OrtSession | None = None
        self.precision = "fp32"
        self.ready = False

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def instances(self) -> int:
        """Batches this model runs at once: one session replica each."""
        return self.settings.model_instances

    @property
    def provider(self) -> str | None:
        return self.session.provider if self.session else None

    def load(self) -> bool:
        """Verify every artifact's digest, start the session, check the graph matches the manifest."""
        artifacts = verify_all(self.manifest, self.version_dir)
        label = f"{self.name}/{self.version}"
        want_gpu = self.settings.use_gpu and cuda_available()
        model_file = self.manifest.model_file
        if want_gpu and self.settings.fp16 and self.manifest.fp16_model_file:
            model_file, self.precision = self.manifest.fp16_model_file, "fp16"
        try:
            session = OrtSession(
                artifacts[model_file],
                use_gpu=want_gpu,
                intra_op_threads=self.settings.session_threads(on_gpu=want_gpu),
                allow_spinning=self.settings.ort_spinning,
                label=label,
                replicas=self.instances,
            )
            if self.precision == "fp16" and not session.on_gpu:
                # fp16 only pays off on the GPU; on a silent CPU fallback use the fp32 graph.
                self.precision = "fp32"
                session = OrtSession(
                    artifacts[self.manifest.model_file],
                    use_gpu=False,
                    intra_op_threads=self.settings.session_threads(on_gpu=False),
                    allow_spinning=self.settings.ort_spinning,
                    label=label,
                    replicas=self.instances,
                )
        except ModelLoadError:
            raise
        except Exception as exc:  # ORT raises its own exception types for invalid graphs
            raise ModelLoadError(f"onnxruntime could not load {model_file!r}: {exc}") from exc
        self.session = session
        self._prepare(artifacts)
        self.ready = True
        return True

    def unload(self) -> None:
        self.ready = False
        self.session = None

    @abstractmethod
    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        """Model-kind setup after the session exists; raise `ModelLoadError` on a mismatch."""

    @abstractmethod
    def predict(self, inputs: Batch) -> Batch:
        """Run one batch; every output's leading dimension equals the inputs'."""

    def metadata_parameters(self) -> dict[str, Any]:
        batching = self.manifest.batching
        params: dict[str, Any] = {
            "task": self.manifest.task,
            "approval": self.manifest.approval,
            "execution_provider": self.provider,
            "execution_providers": self.session.providers if self.session else [],
            "precision": self.precision,
            "max_batch_size": batching.max_batch_size,
            "instances": self.instances,
            "allow_non_finite": self.manifest.allow_non_finite,
        }
        if batching.sequence_buckets:
            params["sequence_buckets"] = list(batching.sequence_buckets)
        return params


class OnnxModel(ServedModel):
    """Manifest inputs/outputs are the graph's own tensors (preprocessing kind `none`)."""

    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        assert self.session is not None
        graph_inputs = {t.name: t for t in self.session.inputs}
        graph_outputs = {t.name: t for t in self.session.outputs}
        for spec in self.manifest.inputs:
            _check_graph_tensor(spec, graph_inputs, "input")
        missing_graph_inputs = set(graph_inputs) - {s.name for s in self.manifest.inputs}
        if missing_graph_inputs:
            raise ModelLoadError(
                f"graph inputs {sorted(missing_graph_inputs)} are not declared in the manifest"
            )
        for spec in self.manifest.outputs:
            _check_graph_tensor(spec, graph_outputs, "output")
        self._output_names = [s.name for s in self.manifest.outputs]

    def predict(self, inputs: Batch) -> Batch:
        assert self.session is not None
        results = self.session.run(inputs, self._output_names)
        return dict(zip(self._output_names, results, strict=True))


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


class EmbeddingModel(ServedModel):
    """BYTES text -> tokenizer -> graph -> pooled embedding.

    Rows are padded to the smallest `sequence_buckets` length that fits them and run one bucket at a
    time, so a single long sentence does not pad a whole batch to 256 tokens, and the GPU sees a
    handful of shapes it has already tuned for.
    """

    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        from tokenizers import Tokenizer

        assert self.session is not None
        pre = self.manifest.preprocessing
        try:
            tokenizer = Tokenizer.from_str(artifacts[pre["tokenizer"]].decode("utf-8"))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise ModelLoadError(f"tokenizer {pre['tokenizer']!r} cannot be loaded: {exc}") from None
        self.max_length = int(pre["max_length"])
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer = tokenizer
        pad_id = tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad_id is None else int(pad_id)
        self.graph_inputs: list[str] = list(pre["graph_inputs"])
        available = {t.name: t for t in self.session.inputs}
        missing = [g for g in self.graph_inputs if g not in available]
        if missing:
            raise ModelLoadError(f"graph has no inputs {missing} named by preprocessing.graph_inputs")
        extra = set(available) - set(self.graph_inputs)
        if extra:
            raise ModelLoadError(f"graph inputs {sorted(extra)} are not fed by preprocessing.graph_inputs")
        self.graph_output = str(self.manifest.postprocessing["graph_output"])
        outputs = {t.name: t for t in self.session.outputs}
        if self.graph_output not in outputs:
            raise ModelLoadError(f"graph has no output {self.graph_output!r} (postprocessing.graph_output)")
        spec = self.manifest.outputs[0]
        graph_out = outputs[self.graph_output]
        if graph_out.datatype != spec.datatype:
            raise ModelLoadError(
                f"graph output {self.graph_output!r} is {graph_out.datatype}, manifest says {spec.datatype}"
            )
        self.buckets = tuple(self.manifest.batching.sequence_buckets)

    def bucket_for(self, length: int) -> int:
        """Smallest bucket >= length; beyond the largest bucket, the length itself."""
        i = bisect_left(self.buckets, length)
        return self.buckets[i] if i < len(self.buckets) else length

    def encode(self, texts: list[str]) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """Tokenize and group rows by sequence bucket: [(row indices, graph feeds), ...]."""
        encodings = self.tokenizer.encode_batch(texts)
        groups: dict[int, list[int]] = {}
        for row, enc in enumerate(encodings):
            groups.setdefault(self.bucket_for(len(enc.ids)), []).append(row)
        encoded = []
        for seq_len, rows in sorted(groups.items()):
            ids = np.full((len(rows), seq_len), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), seq_len), dtype=np.int64)
            for j, row in enumerate(rows):
                tokens = encodings[row].ids
                ids[j, : len(tokens)] = tokens
                mask[j, : len(tokens)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            encoded.append((rows, {k: feeds[k] for k in self.graph_inputs}))
        return encoded

    def run_encoded(self, n_rows: int, encoded: list[tuple[list[int], dict[str, np.ndarray]]]) -> np.ndarray:
        """Run each bucket group through the graph and put the rows back in request order."""
        assert self.session is not None
        result: np.ndarray | None = None
        for rows, feeds in encoded:
            (out,) = self.session.run(feeds, [self.graph_output])
            if result is None:
                result = np.empty((n_rows, *out.shape[1:]), dtype=out.dtype)
            result[rows] = out
        assert result is not None
        return result

    def predict(self, inputs: Batch) -> Batch:
        texts = inputs[self.manifest.inputs[0].name].reshape(-1).tolist()
        return {self.manifest.outputs[0].name: self.run_encoded(len(texts), self.encode(texts))}

    def metadata_parameters(self) -> dict[str, Any]:
        params = super().metadata_parameters()
        params["max_length"] = self.max_length if hasattr(self, "max_length") else None
        return params


def _check_graph_tensor(spec: TensorSpec, graph: dict[str, Any], kind: str) -> None:
    tensor = graph.get(spec.name)
    if tensor is None:
        raise ModelLoadError(
            f"manifest {kind} {spec.name!r} is not a graph {kind} (graph has {sorted(graph)})"
        )
    if tensor.datatype != spec.datatype:
        raise ModelLoadError(
            f"{kind} {spec.name!r} is {tensor.datatype} in the graph, {spec.datatype} in the manifest"
        )
    if len(tensor.shape) != len(spec.shape):
        raise ModelLoadError(
            f"{kind} {spec.name!r} has rank {len(tensor.shape)} in the graph, "
            f"{len(spec.shape)} in the manifest"
        )
    for got, want in zip(tensor.shape, spec.shape, strict=True):
        if got is not None and want != got:
            raise ModelLoadError(
                f"{kind} {spec.name!r} has shape {list(tensor.shape)} in the graph (None = dynamic), "
                f"manifest says {list(spec.shape)}"
            )


def model_for(manifest: Manifest, version_dir: Path, settings: Settings) -> ServedModel:
    """Pick the implementation from the manifest's preprocessing kind and task."""
    if manifest.postprocessing["kind"] == "token-spans":
        from gpu_backend.token_classifier import TokenClassifierModel

        return TokenClassifierModel(manifest, version_dir, settings)
    if manifest.preprocessing["kind"] == "bert-tokenizer":
        return EmbeddingModel(manifest, version_dir, settings)
    if manifest.task == "tabular-classification":
        return TabularModel(manifest, version_dir, settings)
    return OnnxModel(manifest, version_dir, settings)
