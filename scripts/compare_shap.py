"""Compare Steward's batched exact Shapley values with shap's ExactExplainer on the shipped model.

Usage: ``.venv/bin/python scripts/compare_shap.py [--model-dir models/credit-risk/1] [--rows 20]``

Both explain the same rows against the same background (all of ``background.npy``) with the same
ONNX Runtime CPU session; prints the largest absolute difference of the attributions and base
values, and explained rows per second for each. When the model directory does not exist the
credit-risk model is built into a temporary directory first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import shap

from gpu_backend.explain import exact_shapley, session_predict_fn


def _model_dir(requested: Path, scratch: Path) -> Path:
    if (requested / "manifest.json").exists():
        return requested
    print(f"{requested} not found: building credit-risk into {scratch}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "gpu_backend.build", "--output", str(scratch), "--models", "credit-risk"],
        check=True,
    )
    return scratch / "credit-risk" / "1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("models/credit-risk/1"))
    parser.add_argument("--rows", type=int, default=10, help="rows to explain")
    parser.add_argument("--target", type=int, default=1, help="class index of the probabilities output")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = _model_dir(args.model_dir, Path(scratch))
        manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text())
        background = np.load(model_dir / manifest["explain"]["background"]).astype(np.float32)
        session = ort.InferenceSession(
            str(model_dir / manifest["model_file"]), providers=["CPUExecutionProvider"]
        )
    input_name = manifest["inputs"][0]["name"]
    output_name = manifest["outputs"][0]["name"]
    predict = session_predict_fn(session, input_name, output_name)

    # Rows to explain: each feature drawn from its own background column (realistic marginals).
    rng = np.random.default_rng(args.seed)
    n_background, n_features = background.shape
    rows = np.stack([background[rng.integers(n_background, size=args.rows), j] for j in range(n_features)], 1)

    def f_target(batch: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return predict(np.asarray(batch, dtype=np.float32))[:, args.target]

    predict(rows)  # warm the session up once for both
    started = time.perf_counter()
    ours = exact_shapley(predict, rows, background, target=args.target)
    ours_s = time.perf_counter() - started

    explainer = shap.explainers.Exact(
        f_target, shap.maskers.Independent(background, max_samples=n_background)
    )
    started = time.perf_counter()
    reference = explainer(rows)
    shap_s = time.perf_counter() - started

    attribution_diff = float(np.abs(ours.attributions - reference.values).max())
    base_diff = float(np.abs(ours.base_value - reference.base_values).max())
    efficiency = float(np.abs(ours.attributions.sum(1) - (ours.prediction - ours.base_value)).max())
    print(
        f"model: {manifest['name']}@{manifest['version']}  features: {n_features}  "
        f"background rows: {n_background}"
    )
    print(
        f"rows explained: {args.rows}  coalitions per row: {2**n_features}  "
        f"model rows per explained row: {2**n_features * n_background}"
    )
    print(f"max |phi_steward - phi_shap|: {attribution_diff:.3e}")
    print(f"max |base_steward - base_shap|: {base_diff:.3e}")
    print(f"max |sum(phi) - (f(x) - base)| (steward): {efficiency:.3e}")
    print(f"steward exact: {args.rows / ours_s:10.2f} rows/s ({ours_s:.2f} s)")
    print(f"shap Exact:    {args.rows / shap_s:10.2f} rows/s ({shap_s:.2f} s)")
    print(f"speed-up: {shap_s / ours_s:.1f}x")
    return 0 if attribution_diff <= 1e-6 and base_diff <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
