"""DynamoDB attribute-value (de)serialisation for the low-level client.

Hand-rolled so the adapters can use the light ``dynamodb`` client instead of importing the
resource layer; covers the types Steward stores (str, int, float, bool, None, list, dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def to_attr(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"L": [to_attr(v) for v in sorted(value)]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attr(attr: Mapping[str, Any]) -> Any:
    (kind, value), *_ = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind in ("SS", "BS"):
        return list(value)
    if kind == "NS":
        return [from_attr({"N": v}) for v in value]
    if kind == "B":
        return value
    raise TypeError(f"unknown DynamoDB type {kind}")


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: to_attr(value) for key, value in data.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: from_attr(value) for key, value in item.items()}
