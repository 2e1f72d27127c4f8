"""Graph-native models (preprocessing kind `none`): the manifest's tensors are the graph's own.

`load` checks every manifest input and output against the ONNX graph (name, datatype, rank, fixed
dimensions) and refuses a graph input the manifest does not declare; `predict` feeds the batch
straight to the session.
"""

from __future__ import annotations

from typing import Any

from gpu_backend.errors import ModelLoadError
from gpu_backend.manifest import TensorSpec
from gpu_backend.models.base import Batch, ServedModel


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
