"""Sentence embeddings (preprocessing kind `bert-tokenizer`): BYTES text in, pooled vectors out.

Rows are tokenized (truncated at `max_length`), padded per sequence bucket, run through the graph
one bucket at a time and put back in request order. The explainer reuses `encode`/`run_encoded`
to score occluded texts with the same session.
"""

from __future__ import annotations

import numpy as np

from gpu_backend.errors import ModelLoadError
from gpu_backend.models.base import Batch, TextModel


class EmbeddingModel(TextModel):
    """BYTES text -> tokenizer -> graph -> pooled embedding, one sequence bucket at a time."""

    def _prepare(self, artifacts: dict[str, bytes]) -> None:
        assert self.session is not None
        self._load_tokenizer(artifacts)
        available = {t.name: t for t in self.session.inputs}
        missing = [g for g in self.graph_inputs if g not in available]
        if missing:
            raise ModelLoadError(f"graph has no inputs {missing} named by preprocessing.graph_inputs")
        extra = set(available) - set(self.graph_inputs)
        if extra:
            raise ModelLoadError(f"graph inputs {sorted(extra)} are not fed by preprocessing.graph_inputs")
        self.graph_output = str(self.manifest.postprocessing["graph_output"])
        graph_out = self._graph_output(self.graph_output)
        spec = self.manifest.outputs[0]
        if graph_out.datatype != spec.datatype:
            raise ModelLoadError(
                f"graph output {self.graph_output!r} is {graph_out.datatype}, manifest says {spec.datatype}"
            )

    def encode(self, texts: list[str]) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """Tokenize and group rows by sequence bucket: [(row indices, graph feeds), ...]."""
        encodings = self.tokenizer.encode_batch(texts)
        encoded = []
        for seq_len, rows in self.bucket_groups({row: len(enc.ids) for row, enc in enumerate(encodings)}):
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
