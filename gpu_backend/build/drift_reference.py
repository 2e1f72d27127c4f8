"""The drift reference of a built model version: the ``drift_profile`` manifest field.

Written for every manifest the build writes (`gpu_backend.build.registry.build_one` calls
`attach`), from the manifest and the files in the model directory alone, so every version of
every model of a supported task gets one without its builder knowing:

* ``tabular-classification``: the `DriftProfile` of each input feature (``explain.feature_names``)
  and of the prediction (positive-class probability, column 1 of ``probabilities``, computed with
  the built graph on the CPU). Reference rows: ``drift_reference.npy`` when the builder left one
  (float32 ``[N, F]``, e.g. its training rows; removed here, it is not served), else the
  explanation background.
* ``sentence-embedding``: the profile of embedding norm and cosine similarity to the reference
  centroid (stored), over `REFERENCE_TEXTS` synthetic sentences made offline (`pii_synth`) plus
  the build's probe sentences, embedded with the built graph.

Bins and the stored form come from `steward.quality.drift` / `drift_monitor` themselves (pure
Python, development-time import: the model build never ships), so the gateway counts live
traffic in exactly these bins. The profile holds quantile edges and counts only, never a row.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from steward.quality.drift import DriftProfile, embedding_centroid
from steward.quality.drift_monitor import PREDICTION, DriftReference, embedding_profile

from gpu_backend.build.checks import run_cpu

ROWS_FILE = "drift_reference.npy"
REFERENCE_TEXTS = 512
TEXT_SEED = 7
TEXT_BATCH = 64
POSITIVE_CLASS = 1

log = logging.getLogger(__name__)


def attach(model_dir: Path, manifest: dict[str, Any]) -> None:
    """Set ``manifest["drift_profile"]`` for the tasks that have one (others: left unchanged)."""
    task = manifest.get("task")
    reference: DriftReference | None = None
    if task == "tabular-classification":
        reference = tabular_reference(model_dir, manifest)
    elif task == "sentence-embedding":
        reference = embedding_reference(model_dir, manifest, reference_texts())
    (model_dir / ROWS_FILE).unlink(missing_ok=True)
    if reference is not None:
        manifest["drift_profile"] = reference.to_dict()


def tabular_reference(model_dir: Path, manifest: dict[str, Any]) -> DriftReference | None:
    explain = manifest.get("explain") or {}
    names = [str(n) for n in explain.get("feature_names") or ()]
    rows_path = model_dir / ROWS_FILE
    if not rows_path.is_file() and explain.get("background"):
        rows_path = model_dir / str(explain["background"])
    if not names or not rows_path.is_file():
        log.warning("%s: no feature names or reference rows; no drift profile", manifest.get("name"))
        return None
    rows = np.load(rows_path, allow_pickle=False).astype(np.float32)
    if rows.ndim != 2 or rows.shape[1] != len(names):
        raise ValueError(f"reference rows have shape {rows.shape}, expected [N, {len(names)}]")
    input_name = str(manifest["inputs"][0]["name"])
    output_name = str(manifest["outputs"][0]["name"])
    probabilities = run_cpu(model_dir / str(manifest["model_file"]), {input_name: rows}, output_name)
    columns: dict[str, list[object]] = {name: rows[:, i].tolist() for i, name in enumerate(names)}
    columns[PREDICTION] = probabilities[:, POSITIVE_CLASS].tolist()
    return DriftReference(
        "tabular",
        DriftProfile.build(columns),
        input_name=input_name,
        feature_names=tuple(names),
        prediction_output=output_name,
        prediction_index=POSITIVE_CLASS,
    )


def reference_texts(n: int = REFERENCE_TEXTS) -> list[str]:
    """Seeded synthetic sentences (names, places, contact details, distractors) and the probes."""
    from gpu_backend.build.minilm import PROBE_SENTENCES
    from gpu_backend.build.pii_synth import Generator

    return [*PROBE_SENTENCES, *(e.text for e in Generator(TEXT_SEED).examples(n))]


def embedding_reference(model_dir: Path, manifest: dict[str, Any], texts: list[str]) -> DriftReference:
    from tokenizers import Tokenizer

    pre = manifest["preprocessing"]
    tokenizer = Tokenizer.from_file(str(model_dir / pre["tokenizer"]))
    tokenizer.enable_truncation(max_length=int(pre.get("max_length") or 256))
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # noqa: S106 - a token
    graph_output = str(manifest["postprocessing"]["graph_output"])
    vectors: list[list[float]] = []
    for start in range(0, len(texts), TEXT_BATCH):
        encodings = tokenizer.encode_batch(texts[start : start + TEXT_BATCH])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        feed = {k: v for k, v in feed.items() if k in pre.get("graph_inputs", feed)}
        out = run_cpu(model_dir / str(manifest["model_file"]), dict(feed), graph_output)
        vectors.extend(out.astype(np.float64).tolist())
    centroid = embedding_centroid(vectors)
    return DriftReference(
        "embedding",
        embedding_profile(vectors, centroid),
        output_name=str(manifest["outputs"][0]["name"]),
        centroid=tuple(centroid),
    )
