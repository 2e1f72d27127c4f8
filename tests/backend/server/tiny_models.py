"""Tiny ONNX models and manifests built with onnx.helper, so server tests run in seconds and can
craft bad cases (fixed shapes, tampered artifacts, malformed manifests) the real build never makes."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
WORDS = [
    "a",
    "man",
    "is",
    "eating",
    "food",
    "piece",
    "of",
    "bread",
    "the",
    "girl",
    "carrying",
    "baby",
    "riding",
    "horse",
    "quarterly",
    "revenue",
    "grew",
    "while",
    "operating",
    "costs",
    "stayed",
    "flat",
    "hello",
    "world",
    "steward",
    "serves",
    "models",
    "fast",
    "and",
    "safely",
]
EMBED_DIM = 8
N_FEATURES = 4
DTYPES = {
    "BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}  # fmt: skip


def _save(model: onnx.ModelProto) -> bytes:
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def tabular_graph(weights: np.ndarray, batch_dim: int | str = "batch") -> bytes:
    """features [N, F] -> softmax(features @ W + b) -> probabilities [N, 2]."""
    w = numpy_helper.from_array(weights.astype(np.float32), "W")
    b = numpy_helper.from_array(np.array([0.1, -0.1], dtype=np.float32), "B")
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tabular",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch_dim, weights.shape[0]])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch_dim, 2])],
        initializer=[w, b],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET))


def embedding_graph(vocab_size: int, seed: int = 0) -> bytes:
    """BERT-shaped toy: token + type embeddings, mean pooling over the mask, L2 normalisation."""
    rng = np.random.default_rng(seed)
    table = numpy_helper.from_array(rng.standard_normal((vocab_size, EMBED_DIM)).astype(np.float32), "E")
    types = numpy_helper.from_array(rng.standard_normal((2, EMBED_DIM)).astype(np.float32) * 0.1, "T")
    axis1 = numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")
    axis2 = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last")
    eps = numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "eps")
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["typ"]),
        helper.make_node("Add", ["tok", "typ"], ["last_hidden_state"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["last_hidden_state", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Max", ["count", "eps"], ["count_safe"]),
        helper.make_node("Div", ["summed", "count_safe"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["sentence_embedding"], axis=-1, p=2),
    ]
    ids = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    graph = helper.make_graph(
        nodes,
        "embed",
        ids,
        [
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", EMBED_DIM]),
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", EMBED_DIM]
            ),
        ],
        initializer=[table, types, axis1, axis2, eps],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET))


def tokenizer_json() -> str:
    """A word-level tokenizer with BERT's special tokens and [CLS] ... [SEP] template."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return str(tok.to_str())


def vocab_size() -> int:
    return 4 + len(dict.fromkeys(WORDS))


def identity_graph(names_types: dict[str, int], shape: list[int | str]) -> bytes:
    """One Identity per datatype: `in_<T>` -> `out_<T>`, to round-trip every OIP datatype."""
    nodes, inputs, outputs = [], [], []
    for name, elem in names_types.items():
        nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
        inputs.append(helper.make_tensor_value_info(f"in_{name}", elem, shape))
        outputs.append(helper.make_tensor_value_info(f"out_{name}", elem, shape))
    graph = helper.make_graph(nodes, "identity", inputs, outputs)
    return _save(helper.make_model(graph, opset_imports=OPSET))


def relu_graph(shape: list[int | str]) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET))


# ------------------------------------------------------------------------------------ manifests

BASE_BATCHING: dict[str, Any] = {
    "max_batch_size": 8,
    "max_queue_delay_ms": 1,
    "preferred_batch_sizes": [],
    "max_queue_size": 64,
    "request_timeout_ms": 10000,
}


def write_model(
    root: Path,
    name: str,
    version: str,
    files: dict[str, bytes],
    manifest: dict[str, Any],
) -> Path:
    """Write artifacts and a manifest whose `artifacts` digests match them."""
    version_dir = root / name / version
    version_dir.mkdir(parents=True, exist_ok=True)
    for file_name, data in files.items():
        (version_dir / file_name).write_bytes(data)
    full = copy.deepcopy(manifest)
    full.setdefault("schema_version", 1)
    full.setdefault("name", name)
    full.setdefault("version", version)
    full.setdefault("platform", "onnxruntime")
    full.setdefault("model_file", "model.onnx")
    full.setdefault("approval", "approved")
    full.setdefault("card", {"description": "test model"})
    full["artifacts"] = {
        fn: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for fn, data in files.items()
    }
    (version_dir / "manifest.json").write_text(json.dumps(full, indent=2), encoding="utf-8")
    return version_dir


def tabular_weights(version: int = 1) -> np.ndarray:
    rng = np.random.default_rng(version)
    return rng.standard_normal((N_FEATURES, 2)).astype(np.float32)


def write_tabular(root: Path, name: str = "tiny-tabular", version: str = "1", **batching: Any) -> Path:
    background = np.zeros((4, N_FEATURES), dtype=np.float32)
    import io

    buf = io.BytesIO()
    np.save(buf, background)
    return write_model(
        root,
        name,
        version,
        {"model.onnx": tabular_graph(tabular_weights(int(version))), "background.npy": buf.getvalue()},
        {
            "task": "tabular-classification",
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, N_FEATURES]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
            "preprocessing": {"kind": "none"},
            "postprocessing": {"kind": "none"},
            "batching": {**BASE_BATCHING, **batching},
            "allow_non_finite": False,
            "explain": {
                "background": "background.npy",
                "feature_names": [f"f{i}" for i in range(N_FEATURES)],
                "sensitive_features": ["f0"],
                "target_names": ["deny", "approve"],
            },
        },
    )


def write_embedding(root: Path, name: str = "tiny-embed", version: str = "1", **batching: Any) -> Path:
    return write_model(
        root,
        name,
        version,
        {"model.onnx": embedding_graph(vocab_size()), "tokenizer.json": tokenizer_json().encode()},
        {
            "task": "sentence-embedding",
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, EMBED_DIM]}],
            "preprocessing": {
                "kind": "bert-tokenizer",
                "tokenizer": "tokenizer.json",
                "max_length": 16,
                "graph_inputs": ["input_ids", "attention_mask", "token_type_ids"],
            },
            "postprocessing": {"kind": "graph-output", "graph_output": "sentence_embedding"},
            "batching": {**BASE_BATCHING, "sequence_buckets": [4, 8, 16], **batching},
            "allow_non_finite": False,
        },
    )


def write_dtypes(root: Path, name: str = "dtypes", version: str = "1") -> Path:
    return write_model(
        root,
        name,
        version,
        {"model.onnx": identity_graph(DTYPES, ["batch", 2])},
        {
            "task": "identity",
            "inputs": [{"name": f"in_{t}", "datatype": t, "shape": [-1, 2]} for t in DTYPES],
            "outputs": [{"name": f"out_{t}", "datatype": t, "shape": [-1, 2]} for t in DTYPES],
            "batching": {**BASE_BATCHING, "max_queue_delay_ms": 0},
            "allow_non_finite": True,
        },
    )


def write_fixed(root: Path, name: str = "fixed", version: str = "1") -> Path:
    """A graph with a fixed [1, 3] input: served without batching, other shapes refused."""
    return write_model(
        root,
        name,
        version,
        {"model.onnx": relu_graph([1, 3])},
        {
            "task": "relu",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 3]}],
            "batching": {"max_batch_size": 1},
        },
    )


def embed_reference(texts: list[str]) -> np.ndarray:
    """What the tiny embedding model should return, computed without the server."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json())
    tok.enable_truncation(max_length=16)
    sess = ort.InferenceSession(embedding_graph(vocab_size()), providers=["CPUExecutionProvider"])
    rows = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        rows.append(sess.run(["sentence_embedding"], feeds)[0][0])
    return np.stack(rows)
