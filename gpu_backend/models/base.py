"""The served-model interface (`load / predict / unload`) and what the text kinds share.

`predict` takes and returns numpy batches keyed by the manifest's tensor names (leading dimension =
batch), so the batcher can stack requests without knowing the model kind. Readiness is what `load`
returned. `TextModel` holds the pieces both tokenizer-fed kinds need: loading the manifest's
tokenizer, and grouping sequences by the smallest `sequence_buckets` length that fits them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import Manifest
from gpu_backend.repository import verify_all
from gpu_backend.runtime import GraphTensor, OrtSession, cuda_available
from gpu_backend.settings import Settings

if TYPE_CHECKING:
    from tokenizers import Tokenizer

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


class TextModel(ServedModel):
    """A kind fed BYTES text through the manifest's tokenizer and run one sequence bucket at a time.

    Bucketing keeps a single long sentence from padding a whole batch to `max_length`, and lets
    the GPU see a handful of shapes it has already tuned for.
    """

    #: Truncate encodings at `max_length` (one sequence per row); False keeps every token.
    truncate = True
    tokenizer: Tokenizer
    max_length: int
    pad_id: int
    graph_inputs: list[str]
    buckets: tuple[int, ...]

    def _load_tokenizer(self, artifacts: dict[str, bytes]) -> None:
        """Load `preprocessing.tokenizer` (no padding: rows are padded per bucket) and its facts."""
        from tokenizers import Tokenizer

        pre = self.manifest.preprocessing
        try:
            tokenizer = Tokenizer.from_str(artifacts[pre["tokenizer"]].decode("utf-8"))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise ModelLoadError(f"tokenizer {pre['tokenizer']!r} cannot be loaded: {exc}") from None
        self.max_length = int(pre["max_length"])
        tokenizer.no_padding()
        if self.truncate:
            tokenizer.enable_truncation(max_length=self.max_length)
        else:
            tokenizer.no_truncation()
        self.tokenizer = tokenizer
        pad_id = tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad_id is None else int(pad_id)
        self.graph_inputs = list(pre["graph_inputs"])
        self.buckets = tuple(self.manifest.batching.sequence_buckets)

    def _graph_output(self, name: str) -> GraphTensor:
        """The graph output `postprocessing.graph_output` names, or refuse the model."""
        assert self.session is not None
        outputs = {t.name: t for t in self.session.outputs}
        if name not in outputs:
            raise ModelLoadError(f"graph has no output {name!r} (postprocessing.graph_output)")
        return outputs[name]

    def bucket_for(self, length: int) -> int:
        """Smallest bucket >= length; beyond the largest bucket, the length itself."""
        i = bisect_left(self.buckets, length)
        return self.buckets[i] if i < len(self.buckets) else length

    def bucket_groups(self, lengths: Mapping[int, int]) -> list[tuple[int, list[int]]]:
        """Group sequence indices (index -> token count) by bucket, smallest bucket first."""
        groups: dict[int, list[int]] = {}
        for index, length in lengths.items():
            groups.setdefault(self.bucket_for(length), []).append(index)
        return sorted(groups.items())

    def metadata_parameters(self) -> dict[str, Any]:
        params = super().metadata_parameters()
        params["max_length"] = getattr(self, "max_length", None)
        return params
