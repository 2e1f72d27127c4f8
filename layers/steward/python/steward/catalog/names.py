"""What a model or version may be called: one rule for registration, publishing and routing.

Names become parts of storage keys (``serving#<model>#<version>``, S3 prefixes ``<model>/<version>/``)
and of URLs, and they are echoed in answers: 1-64 of ``A-Z a-z 0-9 . _ -`` (never ``.`` or ``..``)
keeps every one of those unambiguous and short.
"""

from __future__ import annotations

import re

from steward.errors import InvalidInput

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
RULE = "1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"


def is_name(value: object) -> bool:
    return isinstance(value, str) and bool(NAME_PATTERN.fullmatch(value)) and value not in (".", "..")


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid model or version name, else `InvalidInput` (not echoing it)."""
    if not is_name(value):
        raise InvalidInput(f"The {what} name must be {RULE}.")
    return value
