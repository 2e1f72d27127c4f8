"""The token estimate quotas charge: exact on the shapes a caller could pick to pay less, close to
the real tokenizer on prose, and the same on both code paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from steward.inference import token_estimate
from steward.inference.token_estimate import estimate_tokens

TOKENIZER = Path(__file__).resolve().parents[2] / "models/all-minilm-l6-v2/1/tokenizer.json"
CHEAP_SHAPES = [
    "a b c d e " * 50,
    "1 2 3 4 " * 60,
    "日本語のテキスト" * 50,
    "Привет, как дела сегодня? " * 20,
    "🙂 " * 200,
    "!?.,;:" * 40,
]


def test_counts_word_pieces_and_the_special_tokens() -> None:
    assert estimate_tokens("") == 2
    assert estimate_tokens("hello world!") == 5
    assert estimate_tokens("internationalization") == 2 + 4  # 20 letters, 6 per piece
    assert estimate_tokens("1234567") == 2 + 4
    assert estimate_tokens("snake_case") == 2 + 3
    assert estimate_tokens("日本") == 4
    assert estimate_tokens("café") == 2 + 1 + 1  # "caf" + "é"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_fast_path_counts_like_the_general_one(text: str) -> None:
    assert estimate_tokens(text) == token_estimate._estimate_unicode(text)


@pytest.mark.parametrize("text", ["a" * 10_000, "7" * 10_000, "é" * 1_000])
def test_runs_longer_than_the_lookup_table(text: str) -> None:
    per_piece = {"a": 6, "7": 2, "é": 3}[text[0]]
    assert estimate_tokens(text) == 2 + -(-len(text) // per_piece)


@pytest.mark.skipif(not TOKENIZER.is_file(), reason="needs `make models` (the MiniLM tokenizer)")
@pytest.mark.parametrize("text", CHEAP_SHAPES)
def test_text_shaped_to_pay_less_is_charged_what_it_costs(text: str) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_truncation()
    assert estimate_tokens(text) >= len(tokenizer.encode(text).ids)
