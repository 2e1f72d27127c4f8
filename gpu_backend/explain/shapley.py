"""Interventional Shapley values for tabular models, computed as one batched model workload.

The value of a coalition ``S`` for a row ``x`` is the interventional expectation
``v(S) = mean_b f(x_S, b_{~S})`` over a background sample ``B``: features in ``S`` come from ``x``,
the others from each background row. With ``F <= 16`` features every one of the ``2^F``
coalitions is evaluated and the Shapley values are exact; above that, antithetic permutation
sampling gives an unbiased estimate with a standard error. Both satisfy efficiency exactly:
``sum(phi) == f(x) - mean f(B)``.

Every (row, coalition, background row) hybrid is fed to the model in large chunks, so an ONNX
Runtime session (CPU or GPU) sees a few big batches instead of millions of tiny calls; memory stays
bounded by ``chunk_rows``. The model is a plain callable so the server can pass its session and
tests a numpy function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

#: The model as the explainer sees it: float32 ``[n, F]`` in, ``[n]`` scores or ``[n, C]`` out.
PredictFn = Callable[[NDArray[np.float32]], NDArray[Any]]

#: Above this many features the ``2^F`` coalitions are too many: fall back to sampling.
MAX_EXACT_FEATURES = 16
#: Rows per model call: large enough to amortise call overhead, small enough to bound memory.
DEFAULT_CHUNK_ROWS = 65_536
#: Default model evaluations per explained row for the sampling estimator.
DEFAULT_SAMPLING_BUDGET = 2_000_000
#: The sampling estimator never uses fewer antithetic pairs (a standard error needs >= 2).
MIN_PERMUTATION_PAIRS = 8

Method = Literal["exact", "antithetic-permutation"]


@dataclass(frozen=True)
class ShapleyResult:
    """Attributions for ``R`` rows of ``F`` features.

    ``attributions[r].sum() == prediction[r] - base_value[r]`` (efficiency). ``standard_error`` and
    ``n_permutations`` are set only by the sampling estimator (per-feature standard error of the
    mean over antithetic pairs; exact values have none).
    """

    attributions: NDArray[np.float64]
    base_value: NDArray[np.float64]
    prediction: NDArray[np.float64]
    method: Method
    standard_error: NDArray[np.float64] | None = None
    n_permutations: int | None = None


class _Session(Protocol):
    def run(self, output_names: Sequence[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...


def session_predict_fn(session: _Session, input_name: str, output_name: str) -> PredictFn:
    """Wrap an ONNX Runtime ``InferenceSession`` (or anything with its ``run``) as a `PredictFn`."""

    def predict(batch: NDArray[np.float32]) -> NDArray[Any]:
        return np.asarray(session.run([output_name], {input_name: batch})[0])

    return predict


def shapley_values(
    predict: PredictFn,
    rows: NDArray[Any],
    background: NDArray[Any],
    *,
    target: int | None = 1,
    budget: int = DEFAULT_SAMPLING_BUDGET,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ShapleyResult:
    """Exact Shapley values for up to 16 features, antithetic permutation sampling above."""
    x, bg = _validate(rows, background, chunk_rows)
    if x.shape[1] <= MAX_EXACT_FEATURES:
        return exact_shapley(predict, x, bg, target=target, chunk_rows=chunk_rows)
    return sampling_shapley(predict, x, bg, target=target, budget=budget, seed=seed, chunk_rows=chunk_rows)


def exact_shapley(
    predict: PredictFn,
    rows: NDArray[Any],
    background: NDArray[Any],
    *,
    target: int | None = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ShapleyResult:
    """Exact interventional Shapley values by enumerating all ``2^F`` coalitions.

    Costs ``R * 2^F * N`` model rows (e.g. 16 features, 100 background rows: 6.6M per row).
    """
    x, bg = _validate(rows, background, chunk_rows)
    n_features = x.shape[1]
    if n_features > MAX_EXACT_FEATURES:
        raise ValueError(
            f"exact Shapley values support at most {MAX_EXACT_FEATURES} features, got {n_features}"
        )
    masks = coalition_masks(n_features)
    values = _coalition_values(predict, x, bg, masks, target, chunk_rows)  # [R, 2^F]
    attributions = values @ shapley_weight_matrix(n_features)
    return ShapleyResult(
        attributions=attributions,
        base_value=values[:, 0].copy(),
        prediction=values[:, -1].copy(),
        method="exact",
    )


def sampling_shapley(
    predict: PredictFn,
    rows: NDArray[Any],
    background: NDArray[Any],
    *,
    target: int | None = 1,
    budget: int = DEFAULT_SAMPLING_BUDGET,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ShapleyResult:
    """Antithetic permutation sampling: each permutation is paired with its reverse.

    A permutation walks from the empty coalition to the full one adding one feature at a time; the
    marginal contributions along the walk sum to ``f(x) - v(empty)``, so every estimate satisfies
    efficiency exactly. Pairing a permutation with its reverse makes the two walks negatively
    correlated (variance reduction); the pair means are i.i.d., so their standard error is the
    reported uncertainty. ``budget`` is the number of model rows per explained row; the number of
    pairs is the most that fits (at least `MIN_PERMUTATION_PAIRS`).
    """
    x, bg = _validate(rows, background, chunk_rows)
    n_rows, n_features = x.shape
    if n_features < 2:
        return exact_shapley(predict, x, bg, target=target, chunk_rows=chunk_rows)
    n_background = bg.shape[0]
    # Each permutation evaluates its F-1 interior coalitions; empty and full are shared.
    rows_per_pair = 2 * (n_features - 1) * n_background
    n_pairs = max(MIN_PERMUTATION_PAIRS, (budget - 2 * n_background) // rows_per_pair)
    n_perms = 2 * n_pairs

    rng = np.random.default_rng(seed)
    perms = np.empty((n_rows, n_perms, n_features), dtype=np.intp)
    perms[:, 0::2] = rng.permuted(
        np.broadcast_to(np.arange(n_features), (n_rows, n_pairs, n_features)), axis=-1
    )
    perms[:, 1::2] = perms[:, 0::2, ::-1]
    rank = np.argsort(perms, axis=-1)  # rank[r, p, f] = position of feature f in the permutation
    prefix = np.arange(1, n_features)[None, None, :, None]
    interior = rank[:, :, None, :] < prefix  # [R, P, F-1, F]: first j features of the permutation

    ends = _coalition_values(
        predict, x, bg, np.array([np.zeros(n_features, bool), np.ones(n_features, bool)]), target, chunk_rows
    )
    inner = _coalition_values(
        predict, x, bg, interior.reshape(n_rows, n_perms * (n_features - 1), n_features), target, chunk_rows
    ).reshape(n_rows, n_perms, n_features - 1)
    walk = np.concatenate(
        [
            np.broadcast_to(ends[:, None, :1], (n_rows, n_perms, 1)),
            inner,
            np.broadcast_to(ends[:, None, 1:], (n_rows, n_perms, 1)),
        ],
        axis=-1,
    )  # [R, P, F+1]: v along each walk
    contributions = np.empty((n_rows, n_perms, n_features), dtype=np.float64)
    np.put_along_axis(contributions, perms, np.diff(walk, axis=-1), axis=-1)
    pair_means = 0.5 * (contributions[:, 0::2] + contributions[:, 1::2])  # [R, pairs, F]
    return ShapleyResult(
        attributions=pair_means.mean(axis=1),
        base_value=ends[:, 0].copy(),
        prediction=ends[:, 1].copy(),
        method="antithetic-permutation",
        standard_error=pair_means.std(axis=1, ddof=1) / math.sqrt(n_pairs),
        n_permutations=n_perms,
    )


def coalition_masks(n_features: int) -> NDArray[np.bool_]:
    """All ``2^F`` coalitions as rows of a boolean matrix; row ``k`` holds the bits of ``k``.

    Row 0 is the empty coalition and the last row the full one.
    """
    codes = np.arange(1 << n_features, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n_features, dtype=np.int64)) & 1).astype(bool)


def shapley_weight_matrix(n_features: int) -> NDArray[np.float64]:
    """``M [2^F, F]`` such that ``phi = v @ M`` for coalition values ``v`` ordered as `coalition_masks`.

    ``phi_i = sum_{S not containing i} w(|S|) (v(S + i) - v(S))`` with
    ``w(s) = s! (F - s - 1)! / F!``: coalition ``S`` enters ``phi_i`` with ``+w(|S| - 1)`` when it
    contains ``i`` and ``-w(|S|)`` when it does not.
    """
    masks = coalition_masks(n_features)
    sizes = masks.sum(axis=1)
    weights = np.array(
        [
            math.factorial(s) * math.factorial(n_features - s - 1) / math.factorial(n_features)
            for s in range(n_features)
        ]
        + [0.0]
    )
    plus = weights[np.maximum(sizes - 1, 0)][:, None]
    minus = weights[sizes][:, None]
    matrix: NDArray[np.float64] = np.where(masks, plus, -minus)
    return matrix


def _validate(
    rows: NDArray[Any], background: NDArray[Any], chunk_rows: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    x = np.asarray(rows, dtype=np.float32)
    bg = np.asarray(background, dtype=np.float32)
    if x.ndim != 2 or bg.ndim != 2:
        raise ValueError("rows and background must be 2-D [n, features] arrays")
    if x.shape[1] != bg.shape[1]:
        raise ValueError(f"rows have {x.shape[1]} features but the background has {bg.shape[1]}")
    if x.shape[1] < 1 or bg.shape[0] < 1:
        raise ValueError("need at least one feature and one background row")
    if not (np.isfinite(x).all() and np.isfinite(bg).all()):
        raise ValueError("rows and background must be finite")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    return x, bg


def _coalition_values(
    predict: PredictFn,
    x: NDArray[np.float32],
    bg: NDArray[np.float32],
    masks: NDArray[np.bool_],
    target: int | None,
    chunk_rows: int,
) -> NDArray[np.float64]:
    """``v[r, k] = mean_n f(where(mask_k, x_r, bg_n))`` for shared ``[K, F]`` or per-row ``[R, K, F]`` masks.

    The (row, coalition) pairs are taken in blocks of ``chunk_rows // N`` (at least one), and a
    block's hybrids for every background row are built by broadcasting and sent in one call, so a
    call holds about ``chunk_rows`` rows (``N`` when the background alone is larger).
    """
    n_rows, n_background, n_features = x.shape[0], bg.shape[0], x.shape[1]
    per_row = masks.ndim == 3
    n_coalitions = masks.shape[1] if per_row else masks.shape[0]
    flat_masks = masks.reshape(-1, n_features)
    n_pairs = n_rows * n_coalitions
    block = max(1, chunk_rows // n_background)
    values = np.empty(n_pairs, dtype=np.float64)
    for start in range(0, n_pairs, block):
        pair = np.arange(start, min(start + block, n_pairs), dtype=np.int64)  # flat (row, coalition)
        mask = flat_masks[pair if per_row else pair % n_coalitions]
        hybrid = np.where(mask[:, None, :], x[pair // n_coalitions][:, None, :], bg[None, :, :])
        scores = _target_scores(predict(hybrid.reshape(-1, n_features)), len(pair) * n_background, target)
        values[start : start + len(pair)] = scores.reshape(len(pair), n_background).mean(axis=1)
    result: NDArray[np.float64] = values.reshape(n_rows, n_coalitions)
    return result


def _target_scores(output: NDArray[Any], n: int, target: int | None) -> NDArray[np.float64]:
    out = np.asarray(output, dtype=np.float64)
    if out.ndim == 2 and out.shape[0] == n:
        if target is None:
            if out.shape[1] != 1:
                raise ValueError(f"model returns {out.shape[1]} outputs per row: pass a target index")
            out = out[:, 0]
        elif not 0 <= target < out.shape[1]:
            raise ValueError(f"target {target} out of range for {out.shape[1]} model outputs")
        else:
            out = out[:, target]
    if out.shape != (n,):
        raise ValueError(f"model returned shape {np.shape(output)} for a batch of {n}")
    if not np.isfinite(out).all():
        raise ValueError("model returned non-finite outputs")
    return out


T = TypeVar("T")


@dataclass(frozen=True)
class TokenAttributions:
    """Occlusion attribution per token: ``full_score - score(without that token)``."""

    tokens: list[Any]
    attributions: NDArray[np.float64]
    full_score: float


def occlusion_token_attributions(
    tokens: Sequence[T],
    score_fn: Callable[[list[list[T]]], Sequence[float] | NDArray[Any]],
    *,
    mask_token: T | None = None,
) -> TokenAttributions:
    """Attribute a text score to tokens by leaving each one out, in a single batched ``score_fn`` call.

    ``score_fn`` receives ``len(tokens) + 1`` token sequences: the full one first, then one per
    token with that token removed (or replaced by ``mask_token`` when given, which keeps positions
    stable for models that care). A positive attribution means the token raised the score.
    """
    seq = list(tokens)
    variants: list[list[T]] = [seq]
    for i in range(len(seq)):
        variants.append(seq[:i] + ([mask_token] if mask_token is not None else []) + seq[i + 1 :])
    scores = np.asarray(score_fn(variants), dtype=np.float64)
    if scores.shape != (len(variants),):
        raise ValueError(f"score_fn returned shape {scores.shape} for {len(variants)} sequences")
    if not np.isfinite(scores).all():
        raise ValueError("score_fn returned non-finite scores")
    return TokenAttributions(tokens=seq, attributions=scores[0] - scores[1:], full_score=float(scores[0]))
