"""credit-risk: a small tabular classifier trained with numpy on seeded synthetic applicant data.

It exists for fairness monitoring and explanation work, so the data carries a sensitive
attribute (``group``) with a modest structural disparity (lower average income, more late
payments) and a small direct effect on the historical label; group metrics are non-trivial but
not absurd. Everything is seeded, so two builds produce byte-identical artifacts.

Two versions ship. Version 1 is trained on the historical labels as they are. Version 2 is the
same network, seed and split retrained with **reweighing** (Kamiran & Calders, 2012): each
training row is weighted by ``P(group) P(label) / P(group, label)`` so group and label are
independent in the weighted data. Its card reports both versions' figures, measured here on the
same held-out rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from gpu_backend.build.manifest import SCHEMA_VERSION, artifact_entries
from gpu_backend.build.options import BuildOptions

NAME = "credit-risk"
VERSION = "1"
REWEIGHED_VERSION = "2"
SEED = 20240611
N_ROWS = 10_000
TEST_FRACTION = 0.25
HIDDEN = 16
STEPS = 400
LEARNING_RATE = 0.03
L2 = 1e-4
BACKGROUND_ROWS = 100
THRESHOLD = 0.5
MODEL_FILE = "model.onnx"
BACKGROUND_FILE = "background.npy"
FEATURE_NAMES = (
    "age",
    "income",
    "employment_years",
    "debt_to_income",
    "credit_history_years",
    "num_open_accounts",
    "num_late_payments",
    "loan_amount",
    "savings",
    "group",
)
SENSITIVE_FEATURES = ("group",)
TARGET_NAMES = ("deny", "approve")

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Dataset:
    features: F64
    labels: I64


def synthesize(n_rows: int, rng: np.random.Generator) -> Dataset:
    """Applicants with plausible marginals (income and loans in thousands, rates as fractions)."""
    group = (rng.random(n_rows) < 0.4).astype(np.float64)
    age = np.clip(rng.normal(41.0, 12.0, n_rows), 18.0, 80.0)
    employment = np.minimum(rng.gamma(2.0, 3.5, n_rows), age - 18.0)
    history = np.clip(age - 18.0 - rng.gamma(2.0, 2.5, n_rows), 0.0, None)
    income = np.exp(rng.normal(np.log(58.0) - 0.18 * group + 0.008 * (age - 41.0), 0.45))
    dti = np.clip(rng.beta(2.0, 5.0, n_rows) * 0.8 + 0.04 * group, 0.0, 0.95)
    accounts = rng.poisson(4.0, n_rows).astype(np.float64)
    late = rng.poisson(0.5 + 0.35 * group).astype(np.float64)
    loan = np.exp(rng.normal(np.log(16.0), 0.6, n_rows))
    savings = np.exp(rng.normal(np.log(9.0) + 0.6 * np.log(income / 58.0), 0.9))
    logit = (
        0.1
        + 1.4 * np.log(income / 58.0)
        - 4.2 * (dti - 0.25)
        - 0.55 * late
        + 0.04 * history
        + 0.03 * employment
        - 0.7 * np.log(loan / 16.0)
        + 0.25 * np.log1p(savings)
        - 0.08 * np.abs(accounts - 4.0)
        - 0.3 * group
    )
    labels = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    columns = [age, income, employment, dti, history, accounts, late, loan, savings, group]
    return Dataset(features=np.stack(columns, axis=1), labels=labels)


@dataclass(frozen=True)
class Mlp:
    """One tanh hidden layer and one logit; inputs are standardised inside the first layer."""

    w1: F64
    b1: F64
    w2: F64
    b2: float

    def logit(self, x: F64) -> F64:
        out: F64 = np.tanh(x @ self.w1 + self.b1) @ self.w2 + self.b2
        return out

    def proba(self, x: F64) -> F64:
        out: F64 = 1.0 / (1.0 + np.exp(-self.logit(x)))
        return out


def train(data: Dataset, rng: np.random.Generator, weights: F64 | None = None) -> Mlp:
    """Full-batch Adam on (weighted) log loss; the standardisation is folded into the first layer.

    ``weights`` (one per row, e.g. from `reweighing_weights`) scale each row's loss; without them
    every row counts once and the arithmetic is exactly the unweighted one (version 1's bytes).

    Float32 (the graph's precision) and ``einsum`` instead of ``@``: multithreaded BLAS on these
    tiny products is slow on a loaded machine (tens of seconds instead of one) and its reduction
    order may depend on the thread count, which would break byte-identical rebuilds.
    """
    mean, std = data.features.mean(axis=0), data.features.std(axis=0) + 1e-9
    x = ((data.features - mean) / std).astype(np.float32)
    y = data.labels.astype(np.float32)
    row_scale = None if weights is None else (weights / weights.sum()).astype(np.float32)
    n_features = x.shape[1]
    params: dict[str, F32] = {
        "w1": rng.normal(0.0, 1.0 / np.sqrt(n_features), (n_features, HIDDEN)).astype(np.float32),
        "b1": np.zeros(HIDDEN, dtype=np.float32),
        "w2": rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), HIDDEN).astype(np.float32),
        "b2": np.zeros(1, dtype=np.float32),
    }
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    beta1, beta2 = 0.9, 0.999
    for step in range(1, STEPS + 1):
        hidden = np.tanh(np.einsum("nf,fh->nh", x, params["w1"]) + params["b1"])
        p = 1.0 / (1.0 + np.exp(-(np.einsum("nh,h->n", hidden, params["w2"]) + params["b2"])))
        d_logit = (p - y) / np.float32(len(y)) if row_scale is None else (p - y) * row_scale
        d_hidden = d_logit[:, None] * params["w2"] * (1.0 - hidden * hidden)
        grads = {
            "w1": np.einsum("nf,nh->fh", x, d_hidden) + L2 * params["w1"],
            "b1": d_hidden.sum(axis=0),
            "w2": np.einsum("nh,n->h", hidden, d_logit) + L2 * params["w2"],
            "b2": np.array([d_logit.sum()], dtype=np.float32),
        }
        for key, grad in grads.items():
            m, v = moments[key]
            m[:] = beta1 * m + (1 - beta1) * grad
            v[:] = beta2 * v + (1 - beta2) * grad * grad
            m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
            params[key] = (params[key] - LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
    w1_std = params["w1"].astype(np.float64)
    w1 = w1_std / std[:, None]
    b1 = params["b1"].astype(np.float64) - (mean / std) @ w1_std
    return Mlp(w1=w1, b1=b1, w2=params["w2"].astype(np.float64), b2=float(params["b2"][0]))


def roc_auc(labels: I64, scores: F64) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def evaluate(model: Mlp, test: Dataset) -> tuple[dict[str, Any], dict[str, Any]]:
    """Held-out evaluation and per-group rates (``group`` is the last column)."""
    proba = model.proba(test.features)
    predicted = (proba >= THRESHOLD).astype(np.int64)
    eps = 1e-12
    log_loss = -np.mean(test.labels * np.log(proba + eps) + (1 - test.labels) * np.log(1 - proba + eps))
    evaluation = {
        "split": f"held-out {int(TEST_FRACTION * 100)}% of {N_ROWS} synthetic rows (seed {SEED})",
        "n_test": len(test.labels),
        "threshold": THRESHOLD,
        "accuracy": round(float((predicted == test.labels).mean()), 4),
        "roc_auc": round(roc_auc(test.labels, proba), 4),
        "log_loss": round(float(log_loss), 4),
        "approval_rate": round(float(predicted.mean()), 4),
        "base_rate": round(float(test.labels.mean()), 4),
    }
    group = test.features[:, FEATURE_NAMES.index("group")]
    rates: dict[str, dict[str, float]] = {}
    for value in (0, 1):
        in_group = group == value
        qualified = in_group & (test.labels == 1)
        rates[str(value)] = {
            "n": int(in_group.sum()),
            "base_rate": round(float(test.labels[in_group].mean()), 4),
            "approval_rate": round(float(predicted[in_group].mean()), 4),
            "true_positive_rate": round(float(predicted[qualified].mean()), 4),
        }
    approval = [rates[g]["approval_rate"] for g in ("0", "1")]
    tpr = [rates[g]["true_positive_rate"] for g in ("0", "1")]
    fairness = {
        "sensitive_feature": "group",
        "favourable_outcome": "approve",
        "groups": rates,
        "demographic_parity_difference": round(approval[0] - approval[1], 4),
        "disparate_impact_ratio": round(min(approval) / max(approval), 4),
        "equal_opportunity_difference": round(tpr[0] - tpr[1], 4),
    }
    return evaluation, fairness


def to_onnx(model: Mlp) -> onnx.ModelProto:
    """``features`` [-1, F] -> ``probabilities`` [-1, 2] as softmax over logits (0, z)."""
    n_features = model.w1.shape[0]
    w2 = np.stack([np.zeros_like(model.w2), model.w2], axis=1)
    b2 = np.array([0.0, model.b2])
    inits = [
        numpy_helper.from_array(model.w1.astype(np.float32), "w1"),
        numpy_helper.from_array(model.b1.astype(np.float32), "b1"),
        numpy_helper.from_array(w2.astype(np.float32), "w2"),
        numpy_helper.from_array(b2.astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h_mm"], name="hidden/matmul"),
        helper.make_node("Add", ["h_mm", "b1"], ["h_pre"], name="hidden/add"),
        helper.make_node("Tanh", ["h_pre"], ["hidden"], name="hidden/tanh"),
        helper.make_node("MatMul", ["hidden", "w2"], ["l_mm"], name="logits/matmul"),
        helper.make_node("Add", ["l_mm", "b2"], ["logits"], name="logits/add"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="probabilities", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "credit_risk_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        inits,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="steward.gpu_backend.build"
    )
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


@dataclass(frozen=True)
class Split:
    train: Dataset
    test: Dataset


def seeded_split() -> tuple[Split, np.random.Generator]:
    """The synthetic data split into training and held-out rows, and the generator after the split.

    Every version starts here, so all are trained from the same initial weights and evaluated on
    the same held-out rows; `held_out` gives tests those rows.
    """
    rng = np.random.default_rng(SEED)
    data = synthesize(N_ROWS, rng)
    order = rng.permutation(N_ROWS)
    n_test = int(N_ROWS * TEST_FRACTION)
    test_idx, train_idx = order[:n_test], order[n_test:]
    train_set = Dataset(data.features[train_idx], data.labels[train_idx])
    test_set = Dataset(data.features[test_idx], data.labels[test_idx])
    return Split(train=train_set, test=test_set), rng


def held_out() -> Dataset:
    """The held-out rows every version's card figures are measured on."""
    return seeded_split()[0].test


def reweighing_weights(data: Dataset) -> tuple[F64, dict[str, float]]:
    """Kamiran & Calders (2012) reweighing: ``w(g, y) = P(g) P(y) / P(g, y)`` on these rows.

    Under these weights the sensitive group and the label are statistically independent, so a
    model fitted to them no longer learns the historical gap in approval rates from the labels.
    Returns the per-row weights and the four cell weights (for the card).
    """
    group = data.features[:, FEATURE_NAMES.index("group")]
    weights = np.empty(len(data.labels))
    cells: dict[str, float] = {}
    for g in (0, 1):
        for y in (0, 1):
            cell = (group == g) & (data.labels == y)
            weight = float((group == g).mean() * (data.labels == y).mean() / cell.mean())
            weights[cell] = weight
            cells[f"group={g},label={y}"] = round(weight, 4)
    return weights, cells


def build(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    """Version 1: train on the historical labels; write model.onnx and background.npy."""
    del options  # no fp16 or fusion for a model this small
    split, rng = seeded_split()
    model = train(split.train, rng)
    evaluation, fairness = evaluate(model, split.test)
    _write_artifacts(model_dir, model, split.train, rng)
    return _manifest(model_dir, VERSION, _card(evaluation, fairness))


def build_reweighed(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    """Version 2: version 1's recipe retrained with reweighing; the card compares the two.

    Version 1 is retrained here (same seed, so the same model) rather than read from the
    repository, so the comparison never depends on what else happens to be built.
    """
    del options
    split, rng = seeded_split()
    baseline = train(split.train, rng)
    before = evaluate(baseline, split.test)
    split, rng = seeded_split()
    weights, cells = reweighing_weights(split.train)
    model = train(split.train, rng, weights)
    evaluation, fairness = evaluate(model, split.test)
    fairness["mitigation"] = {
        "method": "reweighing",
        "reference": "F. Kamiran and T. Calders, Data preprocessing techniques for classification "
        "without discrimination, Knowledge and Information Systems 33 (2012)",
        "applied_to": "training rows, weighted by P(group) P(label) / P(group, label) so that group "
        "and label are independent in the weighted training data; features, network, seed, split "
        "and threshold are version 1's",
        "weights": cells,
        "compared_with": f"{NAME}@{VERSION}",
        "measured_on": evaluation["split"],
        "before": comparison_figures(*before),
        "after": comparison_figures(evaluation, fairness),
    }
    _write_artifacts(model_dir, model, split.train, rng)
    return _manifest(model_dir, REWEIGHED_VERSION, _reweighed_card(evaluation, fairness))


def comparison_figures(evaluation: dict[str, Any], fairness: dict[str, Any]) -> dict[str, float]:
    """The before/after figures of the mitigation, from one version's evaluation and fairness.

    The demographic parity ratio is the lower approval rate over the higher one (Fairlearn's
    ``demographic_parity_ratio``; the card's ``disparate_impact_ratio``); differences are group 0
    minus group 1, so positive favours group 0.
    """
    return {
        "accuracy": evaluation["accuracy"],
        "roc_auc": evaluation["roc_auc"],
        "demographic_parity_difference": fairness["demographic_parity_difference"],
        "demographic_parity_ratio": fairness["disparate_impact_ratio"],
        "equal_opportunity_difference": fairness["equal_opportunity_difference"],
    }


def _write_artifacts(model_dir: Path, model: Mlp, train_set: Dataset, rng: np.random.Generator) -> None:
    """model.onnx and the explainer's background sample (drawn from the training rows)."""
    onnx.save(to_onnx(model), str(model_dir / MODEL_FILE))
    background_idx = rng.choice(len(train_set.labels), size=BACKGROUND_ROWS, replace=False)
    background: F32 = train_set.features[np.sort(background_idx)].astype(np.float32)
    np.save(model_dir / BACKGROUND_FILE, background, allow_pickle=False)
    np.save(model_dir / "drift_reference.npy", train_set.features.astype(np.float32))  # build.drift_reference


def _manifest(model_dir: Path, version: str, card: dict[str, Any]) -> dict[str, Any]:
    n_features = len(FEATURE_NAMES)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": NAME,
        "version": version,
        "task": "tabular-classification",
        "platform": "onnxruntime",
        "model_file": MODEL_FILE,
        "fp16_model_file": None,
        "artifacts": artifact_entries(model_dir, [MODEL_FILE, BACKGROUND_FILE]),
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, n_features]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
        "preprocessing": {"kind": "none"},
        "postprocessing": {"kind": "none"},
        "batching": {
            "max_batch_size": 1024,
            "max_queue_delay_ms": 1,
            "preferred_batch_sizes": [64, 256, 1024],
            "max_queue_size": 8192,
            "request_timeout_ms": 5000,
            "sequence_buckets": [],
        },
        "allow_non_finite": False,
        "approval": "approved",
        "explain": {
            "background": BACKGROUND_FILE,
            "feature_names": list(FEATURE_NAMES),
            "sensitive_features": list(SENSITIVE_FEATURES),
            "target_names": list(TARGET_NAMES),
        },
        "card": card,
    }


def _card(evaluation: dict[str, Any], fairness: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "Credit-risk demo classifier: a 10-16-1 tanh MLP (softmax over deny/approve) "
        "trained with numpy on seeded synthetic loan applications.",
        "intended_use": "Exercising Steward's explanation (Shapley) and fairness-monitoring paths "
        "and demos of governed tabular inference.",
        "out_of_scope_uses": "Any real credit, lending, employment or housing decision; any use on "
        "data about real people.",
        "training_data": f"{N_ROWS} synthetic applicants generated by gpu_backend/build/tabular.py "
        f"(seed {SEED}); features: {', '.join(FEATURE_NAMES)}. Income and loan amounts in "
        "thousands, debt_to_income as a fraction, group is a binary sensitive attribute with a "
        "built-in disparity.",
        "evaluation": evaluation,
        "fairness": fairness,
        "limitations": "Synthetic data with a deliberately encoded historical bias against group 1; "
        "the model uses the sensitive attribute directly; figures do not transfer to any real "
        "population.",
        "owner": "steward-ml-platform",
        "license": "Apache-2.0",
    }


def _reweighed_card(evaluation: dict[str, Any], fairness: dict[str, Any]) -> dict[str, Any]:
    """Version 1's card, restated for the reweighed model; ``fairness.mitigation`` has the figures."""
    card = _card(evaluation, fairness)
    before, after = fairness["mitigation"]["before"], fairness["mitigation"]["after"]
    card["description"] = (
        "Credit-risk demo classifier, bias-mitigated: version 1's 10-16-1 tanh MLP (softmax over "
        "deny/approve) retrained with reweighing (Kamiran & Calders) of the training rows by "
        f"group x label. On the same held-out rows the demographic parity ratio moves from "
        f"{before['demographic_parity_ratio']} to {after['demographic_parity_ratio']} and accuracy "
        f"from {before['accuracy']} to {after['accuracy']} (fairness.mitigation)."
    )
    card["training_data"] += (
        " Training rows are reweighed by P(group) P(label) / P(group, label); the weights are in "
        "fairness.mitigation.weights."
    )
    card["limitations"] = (
        "Synthetic data with a deliberately encoded historical bias against group 1. Reweighing "
        "balances approval rates in the training data only: it does not remove proxies of the "
        "group (income, debt, late payments), the model still uses the sensitive attribute "
        "directly, one threshold applies to every group, and equal opportunity is not targeted. "
        "Figures do not transfer to any real population."
    )
    return card
