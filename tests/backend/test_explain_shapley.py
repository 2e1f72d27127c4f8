"""Shapley attributions: exactness, efficiency, agreement with references, sampling error, occlusion."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from gpu_backend.explain import (
    MAX_EXACT_FEATURES,
    coalition_masks,
    exact_shapley,
    occlusion_token_attributions,
    sampling_shapley,
    session_predict_fn,
    shapley_values,
    shapley_weight_matrix,
)

Array = NDArray[Any]


def interacting_classifier(n_features: int, seed: int) -> Callable[[Array], Array]:
    """Two-class probabilities from a logit with pairwise interactions (so Shapley is non-trivial)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    c = rng.normal(scale=0.3, size=(n_features, n_features))

    def predict(batch: Array) -> Array:
        b = batch.astype(np.float64)
        z = b @ w + np.einsum("ni,ij,nj->n", b, c, b)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)

    return predict


def brute_force_shapley(predict: Callable[[Array], Array], x: Array, background: Array) -> Array:
    """The textbook definition, one coalition at a time (an independent reference)."""
    n = x.shape[0]

    def value(coalition: tuple[int, ...]) -> float:
        hybrid = background.astype(np.float32).copy()
        hybrid[:, list(coalition)] = x.astype(np.float32)[list(coalition)]
        return float(predict(hybrid)[:, 1].astype(np.float64).mean())

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in itertools.combinations(others, size):
                phi[i] += weight * (value((*s, i)) - value(s))
    return phi


def test_exact_values_satisfy_efficiency_and_report_base_and_prediction() -> None:
    # Given a non-linear classifier with interactions, rows and a background sample
    rng = np.random.default_rng(1)
    predict = interacting_classifier(6, seed=2)
    rows, background = rng.normal(size=(5, 6)), rng.normal(size=(9, 6))

    # When the exact Shapley values are computed
    result = exact_shapley(predict, rows, background)

    # Then base value is mean f(background), prediction is f(x), and the attributions add up to the gap
    expected_base = predict(background.astype(np.float32))[:, 1].astype(np.float64).mean()
    expected_pred = predict(rows.astype(np.float32))[:, 1].astype(np.float64)
    assert result.method == "exact"
    assert result.attributions.shape == (5, 6) and result.attributions.dtype == np.float64
    np.testing.assert_allclose(result.base_value, np.full(5, expected_base), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.prediction, expected_pred, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        result.attributions.sum(axis=1), expected_pred - expected_base, rtol=0, atol=1e-12
    )
    assert result.standard_error is None and result.n_permutations is None


def test_exact_values_match_the_textbook_definition() -> None:
    # Given a small model (4 features) and a brute-force per-coalition reference
    rng = np.random.default_rng(3)
    predict = interacting_classifier(4, seed=4)
    rows, background = rng.normal(size=(3, 4)), rng.normal(size=(6, 4))

    # When the batched exact values are computed
    result = exact_shapley(predict, rows, background)

    # Then each row agrees with the definition to float64 rounding
    for r in range(3):
        reference = brute_force_shapley(predict, rows[r], background)
        np.testing.assert_allclose(result.attributions[r], reference, rtol=0, atol=1e-12)


def test_linear_scores_give_the_closed_form_and_respect_target_none() -> None:
    # Given a linear score model with a 1-D output: phi_i = w_i (x_i - mean(background_i))
    rng = np.random.default_rng(5)
    w = rng.normal(size=7)
    rows, background = rng.normal(size=(4, 7)), rng.normal(size=(11, 7))

    # When explained with target=None (a single output per row)
    result = exact_shapley(lambda b: b.astype(np.float64) @ w, rows, background, target=None)

    # Then the attributions are the closed form (using the float32 inputs the model saw)
    x32, bg32 = rows.astype(np.float32).astype(np.float64), background.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(result.attributions, w * (x32 - bg32.mean(axis=0)), rtol=0, atol=1e-12)


def test_dummy_feature_gets_zero_and_symmetric_features_share_equally() -> None:
    # Given f = x0 * x1 (symmetric in 0 and 1) that ignores feature 2
    rows = np.array([[2.0, 2.0, 5.0]])
    background = np.array([[0.0, 0.0, -1.0], [1.0, 1.0, 3.0]])

    # When explained
    result = exact_shapley(lambda b: (b[:, 0] * b[:, 1]).astype(np.float64), rows, background, target=None)

    # Then the ignored feature gets nothing and the two symmetric ones get the same share
    assert result.attributions[0, 2] == 0.0
    assert result.attributions[0, 0] == pytest.approx(result.attributions[0, 1], abs=1e-15)
    assert result.attributions[0].sum() == pytest.approx(4.0 - 0.5, abs=1e-12)


def test_chunk_size_changes_batching_not_results() -> None:
    # Given a model that records the batch sizes it is called with
    rng = np.random.default_rng(6)
    model = interacting_classifier(5, seed=7)
    calls: list[int] = []

    def predict(batch: Array) -> Array:
        calls.append(len(batch))
        return model(batch)

    rows, background = rng.normal(size=(3, 5)), rng.normal(size=(8, 5))

    # When computed with tiny chunks and with the default (one call for everything here)
    small = exact_shapley(predict, rows, background, chunk_rows=20)
    small_calls = list(calls)
    calls.clear()
    big = exact_shapley(predict, rows, background)

    # Then the values are the same, tiny chunks are bounded, and the default makes a single call
    np.testing.assert_allclose(small.attributions, big.attributions, rtol=0, atol=1e-15)
    assert max(small_calls) <= 20 and sum(small_calls) == 3 * 32 * 8
    assert calls == [3 * 32 * 8]


def test_weight_matrix_encodes_the_shapley_weights() -> None:
    # Given F = 3: phi_0 = 1/3 [v(0) - v()] + 1/6 [v(01) - v(1)] + 1/6 [v(02) - v(2)] + 1/3 [v(012) - v(12)]
    masks, matrix = coalition_masks(3), shapley_weight_matrix(3)

    # When reading the column of feature 0 by coalition
    column = {tuple(np.flatnonzero(m)): matrix[k, 0] for k, m in enumerate(masks)}

    # Then it carries exactly those coefficients
    expected = {(): -1 / 3, (0,): 1 / 3, (1,): -1 / 6, (0, 1): 1 / 6, (2,): -1 / 6, (0, 2): 1 / 6}
    expected |= {(1, 2): -1 / 3, (0, 1, 2): 1 / 3}
    assert column == pytest.approx(expected, abs=1e-15)


def pairwise_polynomial(n_features: int, seed: int) -> tuple[Callable[[Array], Array], Array, Array]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n_features)
    c = np.triu(rng.normal(size=(n_features, n_features)), k=1)

    def predict(batch: Array) -> Array:
        b = batch.astype(np.float64)
        return b @ a + np.einsum("ni,ij,nj->n", b, c, b)

    return predict, a, c


def polynomial_shapley(a: Array, c: Array, x: Array, background: Array) -> Array:
    """Closed form for f = a.x + sum_{i<j} c_ij x_i x_j: each product is a two-player game."""
    b = background.astype(np.float32).astype(np.float64)
    x = x.astype(np.float32).astype(np.float64)
    mean = b.mean(axis=0)
    second = (b.T @ b) / len(b)  # E[b_i b_j]
    phi = a * (x - mean)
    n = len(x)
    for i, j in itertools.combinations(range(n), 2):
        v_none, v_i, v_j, v_ij = second[i, j], x[i] * mean[j], mean[i] * x[j], x[i] * x[j]
        phi[i] += c[i, j] * 0.5 * ((v_i - v_none) + (v_ij - v_j))
        phi[j] += c[i, j] * 0.5 * ((v_j - v_none) + (v_ij - v_i))
    return phi


def test_exact_values_match_the_polynomial_closed_form() -> None:
    # Given the closed form used to judge the sampling estimator, checked first against exact values
    predict, a, c = pairwise_polynomial(8, seed=8)
    rng = np.random.default_rng(9)
    rows, background = rng.normal(size=(2, 8)), rng.normal(size=(10, 8))

    # When the exact values are computed
    result = exact_shapley(predict, rows, background, target=None)

    # Then they agree with the closed form
    for r in range(2):
        np.testing.assert_allclose(
            result.attributions[r], polynomial_shapley(a, c, rows[r], background), atol=1e-10
        )


def test_antithetic_pairs_are_exact_for_pairwise_interactions() -> None:
    # Given a model with only pairwise interactions, where a permutation and its reverse together
    # see every pair in both orders
    predict, a, c = pairwise_polynomial(20, seed=10)
    rng = np.random.default_rng(11)
    rows, background = rng.normal(size=(2, 20)), rng.normal(size=(6, 20))

    # When sampled with the smallest budget
    result = sampling_shapley(predict, rows, background, target=None, budget=1)

    # Then even the minimum number of pairs recovers the exact values
    assert result.n_permutations == 16
    truth = np.array([polynomial_shapley(a, c, row, background) for row in rows])
    np.testing.assert_allclose(result.attributions, truth, rtol=0, atol=1e-9)


def high_order_model(seed: int) -> tuple[Callable[[Array], Array], Callable[[Array, Array], Array]]:
    """20 features: a logistic with interactions of all orders on 6 of them, plus 14 linear ones.

    Shapley values are additive over the two parts and each part ignores the other's features,
    so the truth is the brute-force definition on 6 features plus the linear closed form.
    """
    classifier = interacting_classifier(6, seed=seed)
    w = np.random.default_rng(seed + 1).normal(scale=0.05, size=14)

    def predict(batch: Array) -> Array:
        return classifier(batch[:, :6])[:, 1].astype(np.float64) + batch[:, 6:].astype(np.float64) @ w

    def truth(x: Array, background: Array) -> Array:
        x32, bg32 = x.astype(np.float32).astype(np.float64), background.astype(np.float32).astype(np.float64)
        linear = w * (x32[6:] - bg32[:, 6:].mean(axis=0))
        return np.concatenate([brute_force_shapley(classifier, x[:6], background[:, :6]), linear])

    return predict, truth


def test_sampling_estimator_on_20_features_is_within_its_standard_error() -> None:
    # Given 20 features (too many for exact enumeration) and a model with interactions of all orders
    predict, truth_of = high_order_model(seed=12)
    rng = np.random.default_rng(13)
    rows, background = rng.normal(size=(5, 20)), rng.normal(size=(16, 20))
    truth = np.array([truth_of(row, background) for row in rows])

    # When the default entry point explains them under a budget
    result = shapley_values(predict, rows, background, target=None, budget=150_000, seed=14)

    # Then it sampled antithetic pairs, the estimate satisfies efficiency exactly, and errors are
    # consistent with the reported standard errors (z-scores bounded, ~95% inside 1.96 SE)
    assert result.method == "antithetic-permutation"
    assert result.n_permutations == 2 * ((150_000 - 2 * 16) // (2 * 19 * 16))
    assert result.standard_error is not None
    np.testing.assert_allclose(
        result.attributions.sum(axis=1), result.prediction - result.base_value, rtol=0, atol=1e-9
    )
    interacting = result.standard_error[:, :6]
    assert (interacting > 1e-6).all()  # the interacting features carry real sampling noise
    z = (result.attributions - truth)[:, :6] / interacting
    assert np.abs(z).max() < 4.5
    assert (np.abs(z) < 1.96).mean() >= 0.8
    np.testing.assert_allclose(result.attributions[:, 6:], truth[:, 6:], atol=1e-9)  # linear: exact


def test_sampling_error_shrinks_with_budget() -> None:
    # Given the same kind of 20-feature problem
    predict, _ = high_order_model(seed=15)
    rng = np.random.default_rng(16)
    rows, background = rng.normal(size=(2, 20)), rng.normal(size=(8, 20))

    # When sampled with a small and a 16x larger budget
    small = sampling_shapley(predict, rows, background, target=None, budget=20_000)
    large = sampling_shapley(predict, rows, background, target=None, budget=320_000)

    # Then the standard error falls roughly as 1/sqrt(budget) (a 4x drop, allow 3x-5x)
    assert small.standard_error is not None and large.standard_error is not None
    ratio = small.standard_error[:, :6].mean() / large.standard_error[:, :6].mean()
    assert 3.0 < ratio < 5.0


def test_dispatch_is_exact_up_to_the_limit() -> None:
    # Given a cheap linear model at the feature limit (a small background keeps it quick)
    w = np.arange(MAX_EXACT_FEATURES, dtype=np.float64)
    rows, background = np.ones((1, MAX_EXACT_FEATURES)), np.zeros((1, MAX_EXACT_FEATURES))

    # When explained through the default entry point
    result = shapley_values(lambda b: b.astype(np.float64) @ w, rows, background, target=None)

    # Then it enumerated exactly
    assert result.method == "exact"
    np.testing.assert_allclose(result.attributions[0], w, atol=1e-12)
    with pytest.raises(ValueError, match="at most 16"):
        exact_shapley(lambda b: b[:, 0], np.ones((1, 17)), np.zeros((1, 17)), target=None)


@pytest.mark.parametrize(
    ("predict", "target", "message"),
    [
        (lambda b: np.zeros((len(b), 2), np.float32), 2, "target 2 out of range"),
        (lambda b: np.zeros((len(b), 2), np.float32), None, "pass a target"),
        (lambda b: np.zeros(len(b) + 1, np.float32), None, "returned shape"),
        (lambda b: np.full(len(b), np.nan, np.float32), None, "non-finite"),
    ],
)
def test_bad_model_outputs_are_refused(
    predict: Callable[[Array], Array], target: int | None, message: str
) -> None:
    # Given a model whose output does not fit the request
    rows, background = np.zeros((1, 3)), np.zeros((2, 3))

    # When / Then the explainer refuses instead of returning nonsense
    with pytest.raises(ValueError, match=message):
        exact_shapley(predict, rows, background, target=target)


def test_mismatched_or_non_finite_inputs_are_refused() -> None:
    # Given inputs that do not line up
    # When / Then each is refused with a clear message
    with pytest.raises(ValueError, match="features"):
        exact_shapley(lambda b: b[:, 0], np.zeros((1, 3)), np.zeros((2, 4)), target=None)
    with pytest.raises(ValueError, match="finite"):
        exact_shapley(lambda b: b[:, 0], np.array([[np.inf, 0.0]]), np.zeros((2, 2)), target=None)
    with pytest.raises(ValueError, match="2-D"):
        exact_shapley(lambda b: b[:, 0], np.zeros(3), np.zeros((2, 3)), target=None)


def logistic_onnx(path: Path, weights: Array, bias: float) -> None:
    """``features`` [-1, F] -> ``probabilities`` [-1, 2], the shape Steward's tabular models have."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = len(weights)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "w"], ["z0"]),
            helper.make_node("Add", ["z0", "b"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
            helper.make_node("Sub", ["one", "p"], ["q"]),
            helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
        ],
        "logistic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        [
            numpy_helper.from_array(weights.astype(np.float32).reshape(n, 1), "w"),
            numpy_helper.from_array(np.array([bias], np.float32), "b"),
            numpy_helper.from_array(np.array([1.0], np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.mark.slow
def test_agrees_with_shap_exact_explainer_on_an_onnx_logistic_model(tmp_path: Path) -> None:
    # Given a logistic model exported to ONNX and served by an onnxruntime CPU session
    import onnxruntime as ort
    import shap

    rng = np.random.default_rng(15)
    logistic_onnx(tmp_path / "model.onnx", rng.normal(size=6), bias=0.3)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    predict = session_predict_fn(session, "features", "probabilities")
    rows = rng.normal(size=(4, 6)).astype(np.float32)
    background = rng.normal(size=(25, 6)).astype(np.float32)

    # When both Steward and shap's ExactExplainer explain the positive class
    ours = exact_shapley(predict, rows, background, target=1)
    explainer = shap.explainers.Exact(
        lambda b: predict(np.asarray(b, dtype=np.float32))[:, 1],
        shap.maskers.Independent(background, max_samples=len(background)),
    )
    reference = explainer(rows)

    # Then attributions and base values agree to 1e-6
    np.testing.assert_allclose(ours.attributions, reference.values, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.base_value, reference.base_values, rtol=0, atol=1e-6)


def test_occlusion_attributes_each_token_in_one_batched_call() -> None:
    # Given a score that counts "good" minus "bad" and records its calls
    calls: list[list[list[str]]] = []

    def score(batch: list[list[str]]) -> list[float]:
        calls.append(batch)
        return [seq.count("good") - 2.0 * seq.count("bad") for seq in batch]

    tokens = ["a", "good", "bad", "good"]

    # When attributions are computed by removing each token
    result = occlusion_token_attributions(tokens, score)

    # Then one call carried the full text and each leave-one-out variant, and the effects are exact
    assert len(calls) == 1 and calls[0][0] == tokens and len(calls[0]) == 5
    assert calls[0][2] == ["a", "bad", "good"]
    assert result.full_score == 0.0
    assert result.tokens == tokens
    np.testing.assert_array_equal(result.attributions, [0.0, 1.0, -2.0, 1.0])


def test_occlusion_with_a_mask_token_keeps_positions() -> None:
    # Given a position-sensitive score and a mask token
    def score(batch: list[list[int]]) -> Array:
        return np.array([float(seq[0] == 7) + 0.1 * len(seq) for seq in batch])

    # When token ids are occluded by the mask id 0
    result = occlusion_token_attributions([7, 3, 5], score, mask_token=0)

    # Then only the first token matters and lengths did not change
    np.testing.assert_allclose(result.attributions, [1.0, 0.0, 0.0], atol=1e-12)


def test_occlusion_refuses_a_score_function_of_the_wrong_length() -> None:
    # Given a score function that drops a sequence
    # When / Then the mismatch is an error, not a silently misaligned attribution
    with pytest.raises(ValueError, match="score_fn returned shape"):
        occlusion_token_attributions(["x", "y"], lambda batch: [0.0] * (len(batch) - 1))
