"""onnxruntime sessions: CUDA first when offered, CPU otherwise, and report what really runs.

ORT silently falls back to the CPU provider when CUDA cannot be initialised (driver, cuDNN), so the
provider is read back from the session after load instead of being assumed.

A session may hold several replicas of the graph (Triton's instance count): each `run` borrows a
free replica, so that many batches execute at once, each on its own intra-op thread pool. On a
small CPU two single-threaded replicas beat one two-threaded session, because a parallel loop
stalls whenever the event loop takes one of its cores (see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

_ORT_TO_DATATYPE = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64", "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32",
    "tensor(int64)": "INT64", "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}  # fmt: skip


def cuda_available() -> bool:
    return CUDA in ort.get_available_providers()


@dataclass(frozen=True)
class GraphTensor:
    """A graph input/output as ORT sees it; dims are int, or None when symbolic."""

    name: str
    datatype: str | None
    shape: tuple[int | None, ...]


class OrtSession:
    """The inference session(s) of one model version plus the facts the server reports about it."""

    def __init__(
        self,
        model_bytes: bytes,
        *,
        use_gpu: bool,
        intra_op_threads: int = 0,
        allow_spinning: bool = False,
        label: str = "model",
        replicas: int = 1,
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        # Spinning worker threads burn the cores the event loop needs between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        options.log_severity_level = 3
        requested: list[str | tuple[str, dict[str, Any]]] = [CPU]
        if use_gpu and cuda_available():
            requested = [(CUDA, {"cudnn_conv_algo_search": "HEURISTIC"}), CPU]
        self.session = ort.InferenceSession(model_bytes, sess_options=options, providers=requested)
        self.replicas = replicas
        self._free: queue.SimpleQueue[ort.InferenceSession] = queue.SimpleQueue()
        self._free.put(self.session)
        for _ in range(replicas - 1):
            self._free.put(ort.InferenceSession(model_bytes, sess_options=options, providers=requested))
        self.providers: list[str] = list(self.session.get_providers())
        self.provider: str = self.providers[0] if self.providers else CPU
        wanted = requested[0][0] if isinstance(requested[0], tuple) else requested[0]
        if self.provider != wanted:
            log.warning("%s: asked for %s but onnxruntime runs it on %s", label, wanted, self.provider)
        self.inputs = tuple(_graph_tensor(t) for t in self.session.get_inputs())
        self.outputs = tuple(_graph_tensor(t) for t in self.session.get_outputs())
        # String tensors cannot live on the device; such (rare) graphs use plain run().
        self._io_binding = self.provider == CUDA and all(
            t.datatype != "BYTES" for t in (*self.inputs, *self.outputs)
        )

    @property
    def on_gpu(self) -> bool:
        return self.provider == CUDA

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str]) -> list[np.ndarray]:
        """Execute once on a free replica (blocking until one is free); on CUDA through IO binding
        so outputs are copied back in one step."""
        session = self._free.get()
        try:
            if not self._io_binding:
                return list(session.run(list(output_names), dict(feeds)))
            binding = session.io_binding()
            for name, value in feeds.items():
                binding.bind_cpu_input(name, np.ascontiguousarray(value))
            for name in output_names:
                binding.bind_output(name, "cuda")
            session.run_with_iobinding(binding)
            return list(binding.copy_outputs_to_cpu())
        finally:
            self._free.put(session)


def _graph_tensor(node: Any) -> GraphTensor:
    shape = tuple(d if isinstance(d, int) else None for d in (node.shape or ()))
    return GraphTensor(name=node.name, datatype=_ORT_TO_DATATYPE.get(node.type), shape=shape)
