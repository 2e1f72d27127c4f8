"""The tensors a registered model version declares (its manifest's signature), read one way.

The OIP checks (which names a request may use), the embeddings shaping and the deep privacy check
(which names Steward uses when it builds a request itself) all read a signature through here, so
they agree on what a declared name is: a tensor's non-empty string ``name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def declared_names(tensors: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The names the signature declares, in manifest order (empty: the registry doesn't know)."""
    return tuple(name for tensor in tensors if isinstance(name := tensor.get("name"), str) and name)


def tensor_name(tensors: Iterable[Mapping[str, Any]], default: str) -> str:
    """The tensor to name in a request Steward builds: ``default`` (the task's contract name) when
    the signature declares it or declares nothing, else the first name it declares."""
    names = declared_names(tensors)
    return default if not names or default in names else names[0]
