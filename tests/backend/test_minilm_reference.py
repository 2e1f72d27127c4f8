"""The ONNX MiniLM matches embeddings produced by the original PyTorch pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minilm_reference_embeddings.json"
MODEL = "all-minilm-l6-v2/1"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def tokenizer(model_repository: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(model_repository / MODEL / "tokenizer.json"))
    tok.enable_truncation(max_length=256)
    tok.enable_padding()
    return tok


def _feed(tokenizer: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def _session(path: Path, providers: list[str] | None = None) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_tokenizer_reproduces_reference_token_counts(reference: dict[str, Any], tokenizer: Tokenizer) -> None:
    # Given the reference sentences (including an empty one and one beyond 256 tokens)
    # When they are tokenised with the shipped tokenizer.json
    feed = _feed(tokenizer, reference["sentences"])
    # Then every sentence has the reference number of tokens
    assert feed["attention_mask"].sum(axis=1).tolist() == reference["token_counts"]


def test_fp32_batched_embeddings_match_reference(
    reference: dict[str, Any], tokenizer: Tokenizer, model_repository: Path
) -> None:
    # Given the fp32 model and the reference sentences padded into one batch
    session = _session(model_repository / MODEL / "model.onnx")
    # When the batch is embedded
    (embeddings,) = session.run(["sentence_embedding"], _feed(tokenizer, reference["sentences"]))
    # Then each embedding is unit length and within cosine 0.9999 of the reference
    cosines = _cosines(embeddings, np.asarray(reference["embeddings"], dtype=np.float32))
    assert cosines.min() >= 0.9999, cosines.tolist()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_fp32_unpadded_embeddings_match_reference(
    reference: dict[str, Any], tokenizer: Tokenizer, model_repository: Path
) -> None:
    # Given the fp32 model
    session = _session(model_repository / MODEL / "model.onnx")
    # When each sentence is embedded alone (no padding at all)
    embeddings = np.concatenate(
        [session.run(["sentence_embedding"], _feed(tokenizer, [s]))[0] for s in reference["sentences"]]
    )
    # Then the result agrees with the reference for every sentence
    cosines = _cosines(embeddings, np.asarray(reference["embeddings"], dtype=np.float32))
    assert cosines.min() >= 0.9999, cosines.tolist()


def test_sentence_embedding_is_normalised_mean_of_last_hidden_state(
    reference: dict[str, Any], tokenizer: Tokenizer, model_repository: Path
) -> None:
    # Given a padded batch
    feed = _feed(tokenizer, reference["sentences"][:4])
    session = _session(model_repository / MODEL / "model.onnx")
    # When both outputs are requested
    pooled, hidden = session.run(["sentence_embedding", "last_hidden_state"], feed)
    # Then last_hidden_state is [batch, seq, 384] and its masked mean, normalised, is the embedding
    assert hidden.shape == (*feed["input_ids"].shape, 384)
    mask = feed["attention_mask"][..., None].astype(np.float32)
    mean = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    np.testing.assert_allclose(mean / np.linalg.norm(mean, axis=1, keepdims=True), pooled, atol=1e-5)


def test_fp16_variant_matches_reference_on_cpu(
    reference: dict[str, Any], tokenizer: Tokenizer, model_repository: Path
) -> None:
    # Given the fp16 variant run by ONNX Runtime's CPU provider
    session = _session(model_repository / MODEL / "model.fp16.onnx")
    # When the reference batch is embedded
    (embeddings,) = session.run(["sentence_embedding"], _feed(tokenizer, reference["sentences"]))
    # Then outputs stay FP32 and within cosine 0.999 of the reference
    assert embeddings.dtype == np.float32
    cosines = _cosines(embeddings, np.asarray(reference["embeddings"], dtype=np.float32))
    assert cosines.min() >= 0.999, cosines.tolist()


@pytest.mark.gpu
@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs onnxruntime-gpu with CUDA"
)
@pytest.mark.parametrize("model_file,min_cosine", [("model.onnx", 0.9999), ("model.fp16.onnx", 0.999)])
def test_cuda_embeddings_match_reference(
    reference: dict[str, Any],
    tokenizer: Tokenizer,
    model_repository: Path,
    model_file: str,
    min_cosine: float,
) -> None:
    # Given a model placed on the CUDA provider
    session = _session(model_repository / MODEL / model_file, ["CUDAExecutionProvider"])
    assert session.get_providers()[0] == "CUDAExecutionProvider"
    # When the reference batch is embedded
    (embeddings,) = session.run(["sentence_embedding"], _feed(tokenizer, reference["sentences"]))
    # Then it agrees with the PyTorch reference
    cosines = _cosines(embeddings, np.asarray(reference["embeddings"], dtype=np.float32))
    assert cosines.min() >= min_cosine, cosines.tolist()
