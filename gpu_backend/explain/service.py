"""`POST /v2/models/{m}/explain`: parse an OIP-shaped request, explain with the model's own
ONNX Runtime session, answer in OIP shape.

Tabular models get interventional Shapley values against the background sample recorded in
their manifest (exact up to 16 features, antithetic sampling with a stated standard error
above); text models (BYTES input with a tokenizer) get occlusion attributions per word piece.
The work runs on one dedicated executor thread (explanations are large batched workloads; one at
a time keeps them from starving the inference batchers of cores) and is capped per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gpu_backend.codec import check_against_spec, check_finite, decode_inputs, loads_json
from gpu_backend.errors import InvalidInputError
from gpu_backend.explain.shapley import (
    DEFAULT_SAMPLING_BUDGET,
    MAX_EXACT_FEATURES,
    occlusion_token_attributions,
    shapley_values,
)
from gpu_backend.models.base import ServedModel
from gpu_backend.models.embedding import EmbeddingModel
from gpu_backend.models.tabular import TabularModel

#: Most rows one request may explain.
MAX_EXPLAIN_ROWS = 64
#: Most model evaluations (rows fed to the session) one request may cost.
MAX_MODEL_ROWS = 64 * 1024 * 1024
#: Most word pieces a text explanation occludes (each costs one sequence).
MAX_TEXT_TOKENS = 128


@dataclass(frozen=True)
class ExplainLimits:
    max_rows: int = MAX_EXPLAIN_ROWS
    max_model_rows: int = MAX_MODEL_ROWS
    max_text_tokens: int = MAX_TEXT_TOKENS
    sampling_budget: int = DEFAULT_SAMPLING_BUDGET


class ExplainService:
    """Owns the explainer thread; `explain` is called by the data plane for a ready model."""

    def __init__(self, limits: ExplainLimits | None = None) -> None:
        self.limits = limits or ExplainLimits()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explain")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def explain(self, model: ServedModel, body: bytes) -> dict[str, Any]:
        request = loads_json(body)
        if not isinstance(request, dict):
            raise InvalidInputError("request body must be a JSON object with an 'inputs' list")
        params = request.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInputError("'parameters' must be an object")
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInputError("'id' must be a string")
        job = self._plan(model, request, params)
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self._executor, job)
        response = {"model_name": model.name, "model_version": model.version, **response}
        if request_id is not None:
            response["id"] = request_id
        return response

    # ----------------------------------------------------------------------------- planning
    def _plan(
        self, model: ServedModel, request: dict[str, Any], params: dict[str, Any]
    ) -> Callable[[], dict[str, Any]]:
        """Validate everything on the event loop (cheap, 400s early); return the heavy part."""
        if isinstance(model, TabularModel):
            return self._plan_tabular(model, request, params)
        if isinstance(model, EmbeddingModel):
            return self._plan_text(model, request, params)
        raise InvalidInputError(
            f"model '{model.name}' does not support explanations (tabular or text models only)"
        )

    def _single_input(self, model: ServedModel, request: dict[str, Any]) -> NDArray[Any]:
        tensors = decode_inputs(request.get("inputs"))
        spec = model.manifest.inputs[0]
        if len(model.manifest.inputs) != 1 or len(tensors) != 1 or tensors[0].name != spec.name:
            raise InvalidInputError(f"model '{model.name}' takes one input named '{spec.name}'")
        check_against_spec(tensors[0], spec, model.name)
        if tensors[0].datatype != "BYTES":
            check_finite(tensors[0], model.name)
        return tensors[0].array

    def _plan_tabular(
        self, model: TabularModel, request: dict[str, Any], params: dict[str, Any]
    ) -> Callable[[], dict[str, Any]]:
        background = model.background
        if background is None:
            raise InvalidInputError(f"model '{model.name}' has no background sample, so no explanations")
        rows = np.asarray(self._single_input(model, request), dtype=np.float32)
        if rows.ndim != 2 or rows.shape[0] < 1:
            raise InvalidInputError("'features' must be a [rows, features] tensor with at least one row")
        n_rows, n_features = rows.shape
        explain = model.manifest.explain or {}
        target_names = [str(t) for t in explain.get("target_names") or []]
        target = _target(params.get("target", 1), target_names, model.manifest.outputs[0].shape[-1])
        exact = n_features <= MAX_EXACT_FEATURES
        per_row = (1 << n_features) * background.shape[0] if exact else self.limits.sampling_budget
        limit = self.limits
        if n_rows > limit.max_rows or n_rows * per_row > limit.max_model_rows:
            allowed = max(1, min(limit.max_rows, limit.max_model_rows // per_row))
            raise InvalidInputError(
                f"explaining {n_rows} rows is over the limit of {allowed} row(s) per request for "
                f"model '{model.name}' ({per_row} model evaluations per row); split the request"
            )
        input_name = model.manifest.inputs[0].name
        output_name = model.manifest.outputs[0].name
        seed = params.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError("parameters.seed must be a non-negative integer")

        def predict(batch: NDArray[np.float32]) -> NDArray[Any]:
            return np.asarray(model.predict({input_name: batch})[output_name])

        feature_names = [str(f) for f in explain.get("feature_names") or []]
        if len(feature_names) != n_features:
            feature_names = [f"x{i}" for i in range(n_features)]

        def run() -> dict[str, Any]:
            try:
                result = shapley_values(
                    predict, rows, background, target=target, budget=limit.sampling_budget, seed=seed
                )
            except ValueError as exc:
                raise InvalidInputError(f"cannot explain this input: {exc}") from None
            outputs = [
                _tensor("attributions", result.attributions),
                _tensor("base_value", result.base_value),
                _tensor("prediction", result.prediction),
            ]
            parameters: dict[str, Any] = {
                "method": result.method,
                "target": target,
                "feature_names": feature_names,
                "background_rows": int(background.shape[0]),
                "efficiency_max_abs_error": float(
                    np.max(np.abs(result.attributions.sum(axis=1) - (result.prediction - result.base_value)))
                ),
            }
            if target_names and target < len(target_names):
                parameters["target_name"] = target_names[target]
            if result.method == "exact":
                parameters["coalitions"] = 1 << n_features
            else:
                assert result.standard_error is not None
                outputs.append(_tensor("standard_error", result.standard_error))
                parameters["n_permutations"] = result.n_permutations
                parameters["max_standard_error"] = float(result.standard_error.max())
                parameters["error"] = (
                    "sampling estimate: 'standard_error' holds the per-feature standard error of the "
                    "mean over antithetic permutation pairs (about 95% of estimates lie within 2 of them)"
                )
            return {"outputs": outputs, "parameters": parameters}

        return run

    def _plan_text(
        self, model: EmbeddingModel, request: dict[str, Any], params: dict[str, Any]
    ) -> Callable[[], dict[str, Any]]:
        texts = self._single_input(model, request).reshape(-1).tolist()
        if len(texts) != 1:
            raise InvalidInputError("text explanations take exactly one text per request")
        reference = params.get("reference")
        if reference is not None and (not isinstance(reference, str) or not reference):
            raise InvalidInputError("parameters.reference must be a non-empty string")
        text = str(texts[0])
        encoding = model.tokenizer.encode(text)
        ids = list(encoding.ids)
        cls_id, sep_id = ids[0], ids[-1]
        content = ids[1:-1]
        if not content:
            raise InvalidInputError("the text has no tokens to attribute")
        if len(content) > self.limits.max_text_tokens:
            raise InvalidInputError(
                f"the text has {len(content)} word pieces; explanations cover at most "
                f"{self.limits.max_text_tokens}"
            )
        tokens = [model.tokenizer.id_to_token(i) or "" for i in content]

        def embed(sequences: list[list[int]]) -> NDArray[np.float64]:
            return _embed_ids(model, [[cls_id, *s, sep_id] for s in sequences])

        def run() -> dict[str, Any]:
            anchor = (
                _embed_ids(model, [model.tokenizer.encode(reference).ids])[0]
                if reference is not None
                else embed([content])[0]
            )

            def score(sequences: list[list[int]]) -> NDArray[np.float64]:
                similarity: NDArray[np.float64] = embed(sequences) @ anchor
                return similarity

            result = occlusion_token_attributions(content, score)
            return {
                "outputs": [
                    {"name": "tokens", "datatype": "BYTES", "shape": [len(tokens)], "data": tokens},
                    _tensor("attributions", result.attributions),
                    _tensor("score", np.array([result.full_score])),
                ],
                "parameters": {
                    "method": "occlusion",
                    "tokens": tokens,
                    "score": (
                        "cosine similarity of the text's embedding to the reference text's"
                        if reference is not None
                        else "cosine similarity to the full text's embedding"
                    ),
                    "attribution": "score(all tokens) - score(without the token)",
                },
            }

        return run


def _embed_ids(model: EmbeddingModel, sequences: list[list[int]]) -> NDArray[np.float64]:
    """Run token-id sequences (already with [CLS]/[SEP]) through the graph; unit-norm rows."""
    assert model.session is not None
    length = max(len(s) for s in sequences)
    ids = np.full((len(sequences), length), model.pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (out,) = model.session.run({k: feeds[k] for k in model.graph_inputs}, [model.graph_output])
    vectors = np.asarray(out, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: NDArray[np.float64] = vectors / np.where(norms > 0, norms, 1.0)
    return normalised


def _target(raw: Any, names: list[str], n_outputs: int) -> int:
    """``parameters.target``: a class index or one of the manifest's ``target_names``."""
    if isinstance(raw, str) and raw in names:
        return names.index(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInputError(f"parameters.target must be a class index or one of {names}")
    if n_outputs > 0 and not 0 <= raw < n_outputs:
        raise InvalidInputError(f"parameters.target {raw} is out of range for {n_outputs} classes")
    return raw


def _tensor(name: str, values: NDArray[Any]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    return {"name": name, "datatype": "FP64", "shape": list(array.shape), "data": array.reshape(-1).tolist()}
