"""``pii-ner``: PERSON / LOCATION / STREET_ADDRESS token classifier for the deep privacy path.

A small head trained here, seeded, over frozen MiniLM token features:

1. seeded synthetic sentences with character spans (``pii_synth``; no dev-only packages);
2. MiniLM tokenisation with offsets, BIO tags per word piece;
3. token features = ``last_hidden_state`` of the first ``LAYERS`` MiniLM encoder layers (lower
   layers carry more token-level signal than the sentence-tuned top and cost less), fused and
   int8-quantised exactly as shipped, computed once per build on the CPU provider, plus each
   word's casing (the vocabulary is uncased; the server feeds it as ``word_shape``);
4. the head: [x(t-1), x(t), x(t+1)] -> 256 ReLU -> 7 tags, softmax, Adam in numpy with a fixed
   seed (two builds on one machine are byte-identical);
5. one ONNX graph = encoder + head, output ``probabilities`` [batch, seq, 7]: ``model.onnx`` is
   the int8 CPU graph, ``model.fp16.onnx`` the fp16 encoder with the same head for CUDA;
6. the ensemble's second model: spaCy's ``en_core_web_sm`` NER from its PyPI package
   (``spacy_ner``), whose PERSON / LOCATION spans the server merges with the classifier's.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

from gpu_backend.build import minilm, spacy_ner
from gpu_backend.build.bert_onnx import POOLING_PREFIX, BertConfig, build_bert_sentence_encoder
from gpu_backend.build.manifest import SCHEMA_VERSION, artifact_entries, text_batching
from gpu_backend.build.options import BuildOptions
from gpu_backend.build.pii_synth import ENTITY_TYPES, Example, Generator
from gpu_backend.models.token_classifier import N_SHAPES, decode_entities, word_shapes

NAME = "pii-ner"
VERSION = "1"
MAX_LENGTH = 256
WINDOW_OVERLAP = 64
LAYERS = 4
HIDDEN = 256
SEED = 20240611
TRAIN_EXAMPLES = 4000
TEST_EXAMPLES = 400
EPOCHS = 6
BATCH = 512
LEARNING_RATE = 2e-3
MODEL_FILE = "model.onnx"
FP16_MODEL_FILE = "model.fp16.onnx"
TOKENIZER_FILE = "tokenizer.json"
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "word_shape")
LABELS = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")))
FUSED_MIN_COSINE = 0.9999
PROBE_SENTENCES = (
    "My name is Maria Garcia and I live in Denver.",
    "Ship it to 221 Baker Street, Springfield, IL 62704 before Friday.",
    "",
    "Dr. Müller flew from München to Lyon.",
)

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrainConfig:
    """What the build trains on; tests shrink it to check determinism quickly."""

    train_examples: int = TRAIN_EXAMPLES
    test_examples: int = TEST_EXAMPLES
    epochs: int = EPOCHS
    seed: int = SEED


@dataclass(frozen=True)
class Head:
    w1: FloatArray
    b1: FloatArray
    w2: FloatArray
    b2: FloatArray


# --------------------------------------------------------------------------------- labelling


def token_tags(encoding: Encoding, spans: tuple[tuple[int, int, str], ...]) -> IntArray:
    """BIO tag index per word piece (special tokens get O; the caller masks them out)."""
    tags = np.zeros(len(encoding.ids), dtype=np.int64)
    index = {label: i for i, label in enumerate(LABELS)}
    for start, end, kind in spans:
        first = True
        for t, (s, e) in enumerate(encoding.offsets):
            if e > s and s >= start and e <= end and encoding.special_tokens_mask[t] == 0:
                tags[t] = index[f"{'B' if first else 'I'}-{kind}"]
                first = False
    return tags


# ---------------------------------------------------------------------------------- features


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def shapes_of(text: str, encoding: Encoding) -> IntArray:
    return word_shapes(text, encoding.offsets, encoding.word_ids)


def with_context(hidden: FloatArray, shapes: IntArray) -> FloatArray:
    """[h(t-1), h(t), h(t+1)] with each token's one-hot word shape: exactly what the graph head does."""
    onehot = np.eye(N_SHAPES, dtype=np.float32)[shapes]
    x = np.concatenate([hidden, onehot], axis=-1)
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    return np.concatenate([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], axis=-1)


def token_features(
    session: ort.InferenceSession, encodings: list[Encoding], texts: list[str], batch: int = 64
) -> list[FloatArray]:
    """Head input features per token of each encoding, computed in length-sorted batches."""
    order = sorted(range(len(encodings)), key=lambda i: (len(encodings[i].ids), i))
    out: list[FloatArray] = [np.zeros(0, dtype=np.float32)] * len(encodings)
    for b in range(0, len(order), batch):
        members = order[b : b + batch]
        width = max(len(encodings[i].ids) for i in members)
        ids = np.zeros((len(members), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        shapes = np.zeros_like(ids)
        for j, i in enumerate(members):
            n = len(encodings[i].ids)
            ids[j, :n] = encodings[i].ids
            mask[j, :n] = 1
            shapes[j, :n] = shapes_of(texts[i], encodings[i])
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        stacked = with_context(np.asarray(hidden, dtype=np.float32), shapes)
        for j, i in enumerate(members):
            out[i] = stacked[j, : len(encodings[i].ids)]
    return out


def dataset(
    session: ort.InferenceSession, tokenizer: Tokenizer, examples: list[Example]
) -> tuple[FloatArray, IntArray]:
    """Features and tags of every non-special token of ``examples``."""
    texts = [e.text for e in examples]
    encodings = tokenizer.encode_batch(texts)
    features = token_features(session, encodings, texts)
    xs, ys = [], []
    for enc, feats, example in zip(encodings, features, examples, strict=True):
        keep = np.asarray(enc.special_tokens_mask) == 0
        xs.append(feats[keep])
        ys.append(token_tags(enc, example.spans)[keep])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


# ---------------------------------------------------------------------------------- training


def train_head(x: FloatArray, y: IntArray, *, epochs: int, seed: int) -> Head:
    """One hidden layer, softmax cross-entropy, Adam; seeded init and shuffles."""
    rng = np.random.default_rng(seed)
    d, k = x.shape[1], len(LABELS)
    w1 = (rng.standard_normal((d, HIDDEN)) * np.sqrt(2.0 / d)).astype(np.float32)
    b1 = np.zeros(HIDDEN, dtype=np.float32)
    w2 = (rng.standard_normal((HIDDEN, k)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32)
    b2 = np.zeros(k, dtype=np.float32)
    params = [w1, b1, w2, b2]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    onehot = np.eye(k, dtype=np.float32)
    for epoch in range(epochs):
        lr = LEARNING_RATE * (0.5 ** max(0, epoch - epochs // 2))
        order = rng.permutation(len(x))
        for b in range(0, len(order), BATCH):
            batch = order[b : b + BATCH]
            xb, yb = x[batch], onehot[y[batch]]
            h = np.maximum(xb @ w1 + b1, 0.0)
            logits = h @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            grad_logits = (p - yb) / len(batch)
            grads = [
                xb.T @ ((grad_logits @ w2.T) * (h > 0)),
                ((grad_logits @ w2.T) * (h > 0)).sum(axis=0),
                h.T @ grad_logits,
                grad_logits.sum(axis=0),
            ]
            step += 1
            for p_, g, (m, v) in zip(params, grads, moments, strict=True):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                p_ -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)
    return Head(w1, b1, w2, b2)


def head_probabilities(head: Head, x: FloatArray) -> FloatArray:
    logits = np.maximum(x @ head.w1 + head.b1, 0.0) @ head.w2 + head.b2
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float32)


# ------------------------------------------------------------------------------------- graph


def encoder_only(model: onnx.ModelProto) -> onnx.ModelProto:
    """The MiniLM graph without its pooling branch: output ``last_hidden_state`` only."""
    graph = model.graph
    keep = [n for n in graph.node if not n.name.startswith(POOLING_PREFIX) and n.name != "sentence_embedding"]
    used = {i for n in keep for i in n.input}
    outputs = [o for o in graph.output if o.name == "last_hidden_state"]
    new_graph = helper.make_graph(
        keep, "minilm_encoder", list(graph.input), outputs, [i for i in graph.initializer if i.name in used]
    )
    out = helper.make_model(
        new_graph, opset_imports=list(model.opset_import), producer_name=model.producer_name
    )
    out.ir_version = model.ir_version
    return out


def _i64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def with_head(encoder: onnx.ModelProto, head: Head) -> onnx.ModelProto:
    """Append the tag head to an encoder graph (plain, fused or quantised) whose output is
    ``last_hidden_state``; adds the ``word_shape`` input and the ``probabilities`` output."""
    graph = encoder.graph
    producer = next(n for n in graph.node if "last_hidden_state" in n.output)
    nodes = list(graph.node)
    if producer.op_type == "Identity":  # read the encoder tensor directly
        hidden = producer.input[0]
        nodes.remove(producer)
    else:
        hidden = "last_hidden_state"
    inits = [
        numpy_helper.from_array(np.eye(N_SHAPES, dtype=np.float32), "head/shape_onehot"),
        _i64("head/pads", [0, 1, 0, 0, 1, 0]),
        _i64("head/zero", [0]),
        _i64("head/one", [1]),
        _i64("head/two", [2]),
        _i64("head/minus_two", [-2]),
        _i64("head/minus_one", [-1]),
        _i64("head/end", [np.iinfo(np.int64).max]),
        numpy_helper.from_array(head.w1, "head/w1"),
        numpy_helper.from_array(head.b1, "head/b1"),
        numpy_helper.from_array(head.w2, "head/w2"),
        numpy_helper.from_array(head.b2, "head/b2"),
    ]
    node = helper.make_node
    nodes += [
        node("Gather", ["head/shape_onehot", "word_shape"], ["head/shape"], name="head/shape"),
        node("Concat", [hidden, "head/shape"], ["head/token"], name="head/token", axis=-1),
        node("Pad", ["head/token", "head/pads"], ["head/padded"], name="head/pad"),
        node(
            "Slice",
            ["head/padded", "head/zero", "head/minus_two", "head/one"],
            ["head/prev"],
            name="head/prev",
        ),
        node(
            "Slice",
            ["head/padded", "head/one", "head/minus_one", "head/one"],
            ["head/self"],
            name="head/self",
        ),
        node("Slice", ["head/padded", "head/two", "head/end", "head/one"], ["head/next"], name="head/next"),
        node(
            "Concat", ["head/prev", "head/self", "head/next"], ["head/context"], name="head/concat", axis=-1
        ),
        node("MatMul", ["head/context", "head/w1"], ["head/h1_mm"], name="head/h1_mm"),
        node("Add", ["head/h1_mm", "head/b1"], ["head/h1_add"], name="head/h1_add"),
        node("Relu", ["head/h1_add"], ["head/h1"], name="head/relu"),
        node("MatMul", ["head/h1", "head/w2"], ["head/logits_mm"], name="head/logits_mm"),
        node("Add", ["head/logits_mm", "head/b2"], ["logits"], name="head/logits"),
        node("Softmax", ["logits"], ["probabilities"], name="head/softmax", axis=-1),
    ]
    inputs = [
        *graph.input,
        helper.make_tensor_value_info("word_shape", TensorProto.INT64, ["batch", "sequence"]),
    ]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", "sequence", len(LABELS)])
    ]
    new_graph = helper.make_graph(nodes, "pii_ner", inputs, outputs, [*graph.initializer, *inits])
    model = helper.make_model(
        new_graph, opset_imports=list(encoder.opset_import), producer_name=encoder.producer_name
    )
    model.ir_version = encoder.ir_version
    onnx.checker.check_model(model)
    return model


def _hidden(model: onnx.ModelProto, feed: dict[str, IntArray]) -> FloatArray:
    (hidden,) = _session(model).run(["last_hidden_state"], dict(feed))
    return np.asarray(hidden, dtype=np.float32)


def _min_token_cosine(a: FloatArray, b: FloatArray, mask: IntArray) -> float:
    a2, b2 = a[mask.astype(bool)], b[mask.astype(bool)]
    dot = (a2 * b2).sum(axis=1)
    return float((dot / np.maximum(np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1), 1e-12)).min())


def _fuse(
    encoder: onnx.ModelProto, cfg: BertConfig, scratch: Path, feed: dict[str, IntArray]
) -> onnx.ModelProto:
    """ORT's offline BERT fusion; the plain encoder when fusion is incomplete or disagrees."""
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers.optimizer").setLevel(logging.ERROR)
    onnx.save(encoder, str(scratch))
    optimized = optimize_model(
        str(scratch), model_type="bert", num_heads=cfg.num_heads, hidden_size=cfg.hidden_size,
        opt_level=0, use_gpu=False,
    )  # fmt: skip
    scratch.unlink()
    stats: dict[str, int] = optimized.get_fused_operator_statistics()
    if (
        stats.get("Attention", 0) != cfg.num_layers
        or stats.get("SkipLayerNormalization", 0) != 2 * cfg.num_layers
    ):
        log.warning("pii-ner: transformer fusion incomplete (%s); using the unfused encoder", stats)
        return encoder
    fused: onnx.ModelProto = optimized.model
    if not any(o.domain == "com.microsoft" for o in fused.opset_import):
        fused.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    if (
        _min_token_cosine(_hidden(encoder, feed), _hidden(fused, feed), feed["attention_mask"])
        < FUSED_MIN_COSINE
    ):
        log.warning("pii-ner: fused encoder disagrees with the plain one; using the unfused encoder")
        return encoder
    return fused


def _quantize(encoder: onnx.ModelProto, scratch: Path) -> onnx.ModelProto:
    """Dynamic int8 weights (MatMul/Attention): about twice as fast on the CPU provider."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = scratch.with_suffix(".in.tmp"), scratch.with_suffix(".out.tmp")
    onnx.save(encoder, str(src))
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )  # fmt: skip
    quantized = onnx.load(str(dst))
    src.unlink()
    dst.unlink()
    return quantized


# ------------------------------------------------------------------------------- evaluation


def span_scores(
    tokenizer: Tokenizer, probs: list[FloatArray], examples: list[Example]
) -> dict[str, dict[str, float]]:
    """Exact-span precision/recall/F2 per type on held-out synthetic examples, via the server's decoder."""
    counts = {t: [0, 0, 0] for t in ENTITY_TYPES}  # tp, fp, fn
    encodings = tokenizer.encode_batch([e.text for e in examples], add_special_tokens=False)
    for enc, p, example in zip(encodings, probs, examples, strict=True):
        decoded = decode_entities(p, enc.offsets, enc.word_ids, LABELS, example.text)
        found = {(e.start, e.end, e.entity_type) for e in decoded}
        gold = set(example.spans)
        for start, end, kind in found:
            counts[kind][0 if (start, end, kind) in gold else 1] += 1
        for span in gold - found:
            counts[span[2]][2] += 1
    scores: dict[str, dict[str, float]] = {}
    for kind, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
        scores[kind] = {"precision": round(precision, 4), "recall": round(recall, 4), "f2": round(f2, 4),
                        "support": tp + fn}  # fmt: skip
    return scores


def graph_probabilities(model: onnx.ModelProto, tokenizer: Tokenizer, texts: list[str]) -> list[FloatArray]:
    """Tag probabilities of each text's tokens (special tokens dropped) from a finished graph."""
    session = _session(model)
    out = []
    for text, enc in zip(texts, tokenizer.encode_batch(texts), strict=True):
        ids = np.asarray([enc.ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
            "word_shape": shapes_of(text, enc)[None, :],
        }
        (probs,) = session.run(["probabilities"], feed)
        keep = np.asarray(enc.special_tokens_mask) == 0
        out.append(np.asarray(probs[0][keep], dtype=np.float32))
    return out


# ------------------------------------------------------------------------------------ build


def build(model_dir: Path, options: BuildOptions, config: TrainConfig | None = None) -> dict[str, Any]:
    """Train the head, write model.onnx (+ fp16) and tokenizer.json; return the manifest."""
    config = config or TrainConfig()
    src = minilm.source_dir()
    full_cfg = BertConfig.from_json(json.loads((src / "config.json").read_text(encoding="utf-8")))
    cfg = replace(full_cfg, num_layers=min(LAYERS, full_cfg.num_layers))
    weights = load_file(str(src / "model.safetensors"))
    tokenizer = minilm.configure_tokenizer(Tokenizer.from_file(str(src / TOKENIZER_FILE)), MAX_LENGTH)
    tokenizer.no_padding()
    tokenizer.save(str(model_dir / TOKENIZER_FILE))
    probe = minilm.encode(
        minilm.configure_tokenizer(Tokenizer.from_file(str(src / TOKENIZER_FILE)), MAX_LENGTH),
        list(PROBE_SENTENCES),
    )
    scratch = model_dir / "encoder.tmp"

    # The CPU graph: first LAYERS layers, fused, int8 weights; the head learns on its features.
    plain = encoder_only(build_bert_sentence_encoder(weights, cfg))
    fused = _fuse(plain, cfg, scratch, probe) if options.fuse else plain
    cpu_encoder = _quantize(fused, scratch)
    train = Generator(config.seed).examples(config.train_examples)
    x, y = dataset(_session(cpu_encoder), tokenizer, train)
    head = train_head(x, y, epochs=config.epochs, seed=config.seed)
    model = with_head(cpu_encoder, head)
    onnx.save(model, str(model_dir / MODEL_FILE))

    test = Generator(config.seed + 1).examples(config.test_examples)
    texts = [e.text for e in test]
    evaluation: dict[str, Any] = {
        "graph": f"MiniLM layers 1-{cfg.num_layers}, {'onnxruntime-fused, ' if fused is not plain else ''}"
        "int8 dynamic quantisation; fp32 head",
        "held_out_synthetic_exact_span": span_scores(
            tokenizer, graph_probabilities(model, tokenizer, texts), test
        ),
        "held_out_synthetic_examples": config.test_examples,
        "privacy_corpus": "docs/privacy.md: P/R/F2 on the seed-7 evaluation corpus "
        "(scripts/privacy_eval.py --path deep)",
        "independent_sources": "docs/privacy_accuracy.md: the served ensemble on the synth and news "
        "sources (scripts/privacy_bench.py), next to Presidio",
    }
    files = [MODEL_FILE, TOKENIZER_FILE]
    fp16_file: str | None = None
    if options.fp16:
        half_encoder = encoder_only(build_bert_sentence_encoder(weights, cfg, fp16=True))
        half = with_head(_fuse(half_encoder, cfg, scratch, probe) if options.fuse else half_encoder, head)
        onnx.save(half, str(model_dir / FP16_MODEL_FILE))
        evaluation["fp16_held_out_synthetic_exact_span_cpu"] = span_scores(
            tokenizer, graph_probabilities(half, tokenizer, texts), test
        )
        files.append(FP16_MODEL_FILE)
        fp16_file = FP16_MODEL_FILE
    spacy_files, ensemble, spacy_facts = spacy_ner.write(model_dir)
    files.extend(spacy_files)

    return {
        "schema_version": SCHEMA_VERSION,
        "name": NAME,
        "version": VERSION,
        "task": "token-classification",
        "platform": "onnxruntime",
        "model_file": MODEL_FILE,
        "fp16_model_file": fp16_file,
        "artifacts": artifact_entries(model_dir, files),
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "entities", "datatype": "BYTES", "shape": [-1]}],
        "preprocessing": {
            "kind": "bert-tokenizer",
            "tokenizer": TOKENIZER_FILE,
            "max_length": MAX_LENGTH,
            "window_overlap": WINDOW_OVERLAP,
            "graph_inputs": list(GRAPH_INPUTS),
        },
        "postprocessing": {
            "kind": "token-spans",
            "graph_output": "probabilities",
            "labels": list(LABELS),
            "ensemble": ensemble,
        },
        "batching": text_batching(),
        "allow_non_finite": False,
        "approval": "approved",
        "labels": list(LABELS),
        "card": _card(evaluation, cfg, config, spacy_facts),
    }


def _card(
    evaluation: dict[str, Any], cfg: BertConfig, config: TrainConfig, spacy_facts: dict[str, Any]
) -> dict[str, Any]:
    return {
        "description": "Ensemble for personal names, places and street addresses: a token "
        f"classifier (BIO tags for {', '.join(ENTITY_TYPES)}; a 1-hidden-layer head over frozen "
        f"all-MiniLM-L6-v2 token features, first {cfg.num_layers} of 6 encoder layers, with each "
        "token's neighbours, exported with the encoder as one ONNX graph) merged on the server with "
        f"spaCy's {spacy_facts['model']} {spacy_facts['version']} NER (PERSON; GPE and LOC as "
        "LOCATION). Street addresses come from the classifier only. Serves Steward's deep privacy "
        "path.",
        "intended_use": "Finding PERSON, LOCATION and STREET_ADDRESS spans in English prompts and "
        "answers so the gateway can redact or pseudonymise them before a model sees them.",
        "out_of_scope_uses": "Identifying or profiling people; any decision about an individual; "
        "non-English text where recall matters; entity types other than the three labelled.",
        "training_data": f"{config.train_examples} synthetic sentences (seed {config.seed}) from "
        "gpu_backend/build/pii_synth.py: training-only templates (disjoint from the evaluation "
        "corpus), US Census names (names package), a small European name list, geonames places "
        "(steward/privacy/data/places.tsv.gz) and generated US/UK/DE/FR/ES/IT street addresses. "
        "No real personal data. The spaCy NER was trained by its publisher (Explosion) on "
        f"{', '.join(str(s) for s in spacy_facts['training_data'])} (per its meta.json; the NER on "
        "OntoNotes 5) and is used as shipped, not retrained here.",
        "evaluation": evaluation,
        "ensemble": spacy_facts,
        "fairness": {
            "note": "Name coverage follows the US Census lists plus ~60 European first and last "
            "names; names from other cultures are under-represented and may be missed more often."
        },
        "limitations": "Uncased vocabulary (capitalisation is invisible to the model); synthetic "
        "template training, so unusual phrasings and organisations named after people or places "
        "are confused; texts longer than 254 word pieces are read in overlapping windows.",
        "owner": "steward-ml-platform",
        "license": "Apache-2.0",
    }
