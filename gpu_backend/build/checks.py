"""Numerical checks run during the build, so a broken graph never reaches the repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

Feed = dict[str, npt.NDArray[np.int64]]
FloatArray = npt.NDArray[np.float32]


def run_cpu(model_path: Path, feed: dict[str, npt.NDArray[np.generic]], output: str) -> FloatArray:
    """One output of a model run on the CPU provider (what every build machine has)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # One non-spinning thread: the probe batches are tiny, and spinning workers stall a loaded box.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    result = session.run([output], feed)[0]
    return np.asarray(result, dtype=np.float32)


def min_row_cosine(a: FloatArray, b: FloatArray) -> float:
    """Smallest cosine similarity between corresponding rows of two matrices."""
    dot = (a * b).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((dot / np.maximum(norms, 1e-12)).min())
