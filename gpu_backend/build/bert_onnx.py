"""Builds a BERT sentence encoder as a plain ONNX graph from numpy weights (no torch export).

The node pattern mirrors what a PyTorch export of ``BertModel`` produces (MatMul+Add projections,
Reshape/Transpose heads, Div/Add/Softmax scores, ``LayerNormalization``, the Erf form of exact
GELU) because that is the shape ONNX Runtime's graph optimizers recognise and fuse on CPU and CUDA.
Mean pooling over the attention mask and L2 normalisation happen in-graph, so the server only
tokenises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MASK_BIAS = -10000.0  # finite, so the same graph stays safe after fp16 conversion
POOLING_PREFIX = "pool/"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class BertConfig:
    """The few ``config.json`` fields the graph depends on."""

    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float
    max_positions: int

    @classmethod
    def from_json(cls, config: dict[str, Any]) -> BertConfig:
        """Read a Hugging Face BERT ``config.json``; refuse features this builder does not model."""
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"unsupported hidden_act {config.get('hidden_act')!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            hidden_size=int(config["hidden_size"]),
            num_heads=int(config["num_attention_heads"]),
            num_layers=int(config["num_hidden_layers"]),
            intermediate_size=int(config["intermediate_size"]),
            layer_norm_eps=float(config["layer_norm_eps"]),
            max_positions=int(config["max_position_embeddings"]),
        )

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass
class _Graph:
    """Accumulates nodes and initializers with unique, readable names."""

    float_dtype: type[np.floating[Any]] = np.float32
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)

    def const(self, name: str, value: npt.ArrayLike, dtype: type[np.generic] | None = None) -> str:
        """An initializer; float values take the graph's compute dtype unless ``dtype`` says otherwise."""
        if name not in self._names:
            self._names.add(name)
            array = np.asarray(value, dtype=dtype or self.float_dtype)
            self.initializers.append(numpy_helper.from_array(array, name))
        return name

    @property
    def onnx_float(self) -> int:
        return TensorProto.FLOAT16 if self.float_dtype == np.float16 else TensorProto.FLOAT

    def node(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """Add a single-output node; its output tensor shares the node's name."""
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name


def _weight(weights: dict[str, FloatArray], key: str) -> FloatArray:
    try:
        return np.ascontiguousarray(weights[key], dtype=np.float32)
    except KeyError:
        raise KeyError(f"weight {key!r} missing from the checkpoint") from None


def _linear(g: _Graph, x: str, weights: dict[str, FloatArray], key: str, name: str) -> str:
    """``x @ W.T + b`` as MatMul+Add (torch Linear stores W as [out, in])."""
    w = g.const(f"{key}.weight_t", _weight(weights, f"{key}.weight").T.copy())
    b = g.const(f"{key}.bias", _weight(weights, f"{key}.bias"))
    return g.node("Add", [g.node("MatMul", [x, w], f"{name}/matmul"), b], f"{name}/add")


def _layer_norm(g: _Graph, x: str, weights: dict[str, FloatArray], key: str, name: str, eps: float) -> str:
    scale = g.const(f"{key}.weight", _weight(weights, f"{key}.weight"))
    bias = g.const(f"{key}.bias", _weight(weights, f"{key}.bias"))
    return g.node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)


def _embeddings(g: _Graph, weights: dict[str, FloatArray], cfg: BertConfig) -> str:
    words = g.const(
        "embeddings.word_embeddings.weight", _weight(weights, "embeddings.word_embeddings.weight")
    )
    positions = g.const(
        "embeddings.position_embeddings.weight", _weight(weights, "embeddings.position_embeddings.weight")
    )
    types = g.const(
        "embeddings.token_type_embeddings.weight", _weight(weights, "embeddings.token_type_embeddings.weight")
    )
    position_ids = g.const("embeddings.position_ids", np.arange(cfg.max_positions)[None, :], np.int64)
    seq_len = g.node("Shape", ["input_ids"], "emb/seq_len", start=1, end=2)
    zero = g.const("const/zero_1d", [0], np.int64)
    one = g.const("const/one_1d", [1], np.int64)
    sliced_ids = g.node("Slice", [position_ids, zero, seq_len, one], "emb/position_ids")
    word_emb = g.node("Gather", [words, "input_ids"], "emb/word")
    pos_emb = g.node("Gather", [positions, sliced_ids], "emb/position")
    type_emb = g.node("Gather", [types, "token_type_ids"], "emb/token_type")
    summed = g.node("Add", [g.node("Add", [word_emb, pos_emb], "emb/add_pos"), type_emb], "emb/add_type")
    return _layer_norm(g, summed, weights, "embeddings.LayerNorm", "emb/layernorm", cfg.layer_norm_eps)


def _mask_bias(g: _Graph) -> str:
    """Additive attention bias [batch, 1, 1, seq]: 0 where attended, ``MASK_BIAS`` at padding.

    Unsqueeze, Unsqueeze, Cast, Sub, Mul in exactly this order: the mask pattern that ORT's
    transformer optimizer needs to fuse the attention block.
    """
    axis1 = g.const("const/axes_1", [1], np.int64)
    expanded = g.node("Unsqueeze", ["attention_mask", axis1], "mask/unsqueeze_1")
    expanded = g.node("Unsqueeze", [expanded, g.const("const/axes_2", [2], np.int64)], "mask/unsqueeze_2")
    mask = g.node("Cast", [expanded], "mask/float", to=g.onnx_float)
    inverted = g.node("Sub", [g.const("const/one_f", 1.0), mask], "mask/invert")
    return g.node("Mul", [inverted, g.const("const/mask_bias", MASK_BIAS)], "mask/bias")


def _attention(g: _Graph, x: str, bias: str, weights: dict[str, FloatArray], cfg: BertConfig, i: int) -> str:
    key = f"encoder.layer.{i}.attention"
    name = f"layer{i}/attn"
    heads = g.const("const/head_shape", [0, 0, cfg.num_heads, cfg.head_size], np.int64)
    merged = g.const("const/merged_shape", [0, 0, cfg.hidden_size], np.int64)

    def split(proj: str, perm: list[int]) -> str:
        projected = _linear(g, x, weights, f"{key}.self.{proj}", f"{name}/{proj}")
        reshaped = g.node("Reshape", [projected, heads], f"{name}/{proj}/reshape")
        return g.node("Transpose", [reshaped], f"{name}/{proj}/transpose", perm=perm)

    q = split("query", [0, 2, 1, 3])
    k = split("key", [0, 2, 3, 1])
    v = split("value", [0, 2, 1, 3])
    scores = g.node("MatMul", [q, k], f"{name}/scores")
    scaled = g.node("Div", [scores, g.const("const/sqrt_head", math.sqrt(cfg.head_size))], f"{name}/scale")
    probs = g.node("Softmax", [g.node("Add", [scaled, bias], f"{name}/mask")], f"{name}/softmax", axis=-1)
    context = g.node("MatMul", [probs, v], f"{name}/context")
    context = g.node("Transpose", [context], f"{name}/context/transpose", perm=[0, 2, 1, 3])
    context = g.node("Reshape", [context, merged], f"{name}/context/reshape")
    out = _linear(g, context, weights, f"{key}.output.dense", f"{name}/output")
    residual = g.node("Add", [out, x], f"{name}/residual")
    return _layer_norm(
        g, residual, weights, f"{key}.output.LayerNorm", f"{name}/layernorm", cfg.layer_norm_eps
    )


def _feed_forward(g: _Graph, x: str, weights: dict[str, FloatArray], cfg: BertConfig, i: int) -> str:
    """Exact GELU as ``x * 0.5 * (1 + erf(x / sqrt 2))`` — the pattern ORT fuses into (Bias)Gelu."""
    key = f"encoder.layer.{i}"
    name = f"layer{i}/ffn"
    h = _linear(g, x, weights, f"{key}.intermediate.dense", f"{name}/intermediate")
    erf = g.node(
        "Erf",
        [g.node("Div", [h, g.const("const/sqrt2", math.sqrt(2.0))], f"{name}/gelu/div")],
        f"{name}/gelu/erf",
    )
    one_plus = g.node("Add", [erf, g.const("const/one_f", 1.0)], f"{name}/gelu/add")
    gelu = g.node(
        "Mul", [g.node("Mul", [h, one_plus], f"{name}/gelu/mul"), g.const("const/half", 0.5)], f"{name}/gelu"
    )
    out = _linear(g, gelu, weights, f"{key}.output.dense", f"{name}/output")
    residual = g.node("Add", [out, x], f"{name}/residual")
    return _layer_norm(
        g, residual, weights, f"{key}.output.LayerNorm", f"{name}/layernorm", cfg.layer_norm_eps
    )


def _mean_pool_normalise(g: _Graph, hidden: str) -> str:
    """Mean over attended tokens, then L2 normalisation (eps as in sentence-transformers).

    Always fp32: the hidden state arrives as fp32 even from the fp16 encoder.
    """
    p = POOLING_PREFIX
    mask = g.node("Cast", ["attention_mask"], f"{p}mask_float", to=TensorProto.FLOAT)
    mask3 = g.node("Unsqueeze", [mask, g.const("const/axes_2", [2], np.int64)], f"{p}mask_unsqueeze")
    axis1 = g.const("const/axes_1", [1], np.int64)
    summed = g.node("ReduceSum", [g.node("Mul", [hidden, mask3], f"{p}masked"), axis1], f"{p}sum", keepdims=0)
    count = g.node("ReduceSum", [mask3, axis1], f"{p}count", keepdims=0)
    count = g.node("Max", [count, g.const("const/count_eps", 1e-9, np.float32)], f"{p}count_clamp")
    mean = g.node("Div", [summed, count], f"{p}mean")
    norm = g.node("ReduceL2", [mean], f"{p}norm", axes=[1], keepdims=1)
    norm = g.node("Max", [norm, g.const("const/norm_eps", 1e-12, np.float32)], f"{p}norm_clamp")
    return g.node("Div", [mean, norm], f"{p}normalise")


def build_bert_sentence_encoder(
    weights: dict[str, FloatArray], cfg: BertConfig, *, fp16: bool = False
) -> onnx.ModelProto:
    """The full encoder + pooling graph with dynamic ``[batch, seq]`` INT64 inputs.

    With ``fp16`` the weights, embeddings and encoder compute are float16 (ORT accumulates
    LayerNormalization and Softmax in fp32 on CUDA), while the graph outputs, mean pooling and
    L2 normalisation stay float32 so the server code and the numerics of the sum over up to
    256 tokens are the same for both variants. Built directly rather than converted afterwards:
    a generic converter would round-trip the pooling through fp16 between blocked nodes.
    """
    g = _Graph(float_dtype=np.float16 if fp16 else np.float32)
    hidden = _embeddings(g, weights, cfg)
    bias = _mask_bias(g)
    for i in range(cfg.num_layers):
        hidden = _attention(g, hidden, bias, weights, cfg, i)
        hidden = _feed_forward(g, hidden, weights, cfg, i)
    if fp16:
        hidden = g.node("Cast", [hidden], "encoder/to_fp32", to=TensorProto.FLOAT)
    g.nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"], name="last_hidden_state"))
    embedding = _mean_pool_normalise(g, hidden)
    g.nodes.append(
        helper.make_node("Identity", [embedding], ["sentence_embedding"], name="sentence_embedding")
    )

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    outputs = [
        helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden_size]),
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", cfg.hidden_size]
        ),
    ]
    graph = helper.make_graph(g.nodes, "bert_sentence_encoder", inputs, outputs, g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="steward.gpu_backend.build"
    )
    model.ir_version = 8  # opset 17 needs IR >= 8; keeps older ORT builds able to load it
    onnx.checker.check_model(model, full_check=True)
    return model
