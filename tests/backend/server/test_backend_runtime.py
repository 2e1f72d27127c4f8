"""onnxruntime sessions on the CPU provider: replicas for batches that run at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from tiny_models import relu_graph

from gpu_backend.runtime import CPU, OrtSession


def test_replicas_serve_concurrent_runs_each_with_its_own_result() -> None:
    # Given a session with two replicas of a relu graph
    session = OrtSession(relu_graph([-1, 3]), use_gpu=False, intra_op_threads=1, replicas=2)
    assert (session.replicas, session.provider) == (2, CPU)
    # When many runs are issued from four threads at once
    inputs = [np.full((2, 3), i - 10, dtype=np.float32) for i in range(20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda x: session.run({"x": x}, ["y"])[0], inputs))
    # Then every run got its own input's answer
    for x, y in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_a_session_needs_at_least_one_replica() -> None:
    with pytest.raises(ValueError, match="replicas"):
        OrtSession(relu_graph([-1, 3]), use_gpu=False, replicas=0)
