"""One rule for reading a registered signature's tensor names (OIP checks, embeddings, deep PII)."""

from __future__ import annotations

from typing import Any

import pytest
from steward.catalog.signature import declared_names, tensor_name


@pytest.mark.parametrize(
    ("tensors", "names"),
    [
        ((), ()),
        (({"name": "text"},), ("text",)),
        (({"name": "a"}, {"name": "b"}), ("a", "b")),
        # Not a declaration: no name, an empty one, or one that is not a string.
        (({"datatype": "FP32"}, {"name": ""}, {"name": 3}, {"name": "x"}), ("x",)),
    ],
)
def test_a_declared_name_is_a_non_empty_string(
    tensors: tuple[dict[str, Any], ...], names: tuple[str, ...]
) -> None:
    assert declared_names(tensors) == names


@pytest.mark.parametrize(
    ("tensors", "expected"),
    [
        ((), "text"),  # nothing declared: the task's contract name
        (({"name": ""},), "text"),
        (({"name": "input_text"},), "input_text"),  # the one declared name
        (({"name": "ids"}, {"name": "text"}), "text"),  # the contract name, where declared
        (({"name": "ids"}, {"name": "mask"}), "ids"),  # else the first declared
    ],
)
def test_the_name_steward_uses_in_its_own_requests(
    tensors: tuple[dict[str, Any], ...], expected: str
) -> None:
    assert tensor_name(tensors, "text") == expected
