"""Reading a batch input file: OpenAI's request-input lines, validated as OpenAI validates them.

A file that breaks the format fails the whole batch (``failed``, with up to `MAX_ERRORS` errors,
each naming its line): a line that is not a JSON object, lacks ``custom_id``, ``method``, ``url``
or ``body``, has a ``method`` other than POST, a ``url`` other than the batch's endpoint, or a
``custom_id`` seen before; a file with no lines or more than the limit. What a line's ``body``
holds is judged when the line runs, exactly as the synchronous route judges it, and a bad body is
that line's error, in the error file: one bad request never fails the others.

The messages are Steward's own words: nothing of a line is ever echoed (it may be personal data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_ERRORS = 20
MAX_CUSTOM_ID = 512
#: As the synchronous JSON gate (``functions.api.json_guard``): deeper than any request Steward
#: serves, far below the recursion limits of the parser, the validator and the encoder.
MAX_DEPTH = 64
REQUIRED = ("custom_id", "method", "url", "body")


@dataclass(frozen=True)
class InputLine:
    """One request of the file: its position (0-based), the caller's id and body, and the line
    as written (what the audit record MACs)."""

    index: int
    custom_id: str
    body: dict[str, Any]
    raw: bytes


@dataclass
class Validated:
    lines: list[InputLine] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, code: str, message: str, *, line: int | None = None, param: str | None = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def split_lines(content: bytes) -> list[bytes]:
    """The file's lines (``\\n`` or ``\\r\\n``); one trailing newline ends the last line."""
    if content.endswith(b"\n"):
        content = content[:-1]
    return [line.removesuffix(b"\r") for line in content.split(b"\n")] if content else []


def validate(content: bytes, endpoint: str, *, max_lines: int) -> Validated:
    """Every line of ``content`` checked against the batch's ``endpoint``."""
    result = Validated()
    raw_lines = split_lines(content)
    if not raw_lines:
        result.fail("empty_file", "The input file holds no requests.")
        return result
    if len(raw_lines) > max_lines:
        result.fail("too_many_requests", f"The input file may hold at most {max_lines} requests.")
        return result
    seen: set[str] = set()
    for index, raw in enumerate(raw_lines):
        number = index + 1
        document = parse_line(raw)
        if not isinstance(document, dict):
            result.fail("invalid_json_line", f"Line {number} is not a JSON object.", line=number)
            continue
        missing = [name for name in REQUIRED if name not in document]
        if missing:
            result.fail(
                "missing_required_parameter",
                f"Line {number} lacks '{missing[0]}'.",
                line=number,
                param=missing[0],
            )
            continue
        custom_id, method, url, body = (document[name] for name in REQUIRED)
        if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
            result.fail(
                "invalid_parameter",
                f"Line {number}: 'custom_id' must be a string of 1 to {MAX_CUSTOM_ID} characters.",
                line=number,
                param="custom_id",
            )
        elif custom_id in seen:
            result.fail("duplicate_custom_id", f"Line {number} repeats an earlier 'custom_id'.", line=number)
        elif method != "POST":
            result.fail(
                "invalid_parameter", f"Line {number}: 'method' must be POST.", line=number, param="method"
            )
        elif url != endpoint:
            result.fail(
                "mismatched_endpoint",
                f"Line {number}: 'url' must be the batch's endpoint.",
                line=number,
                param="url",
            )
        elif not isinstance(body, dict):
            result.fail(
                "invalid_parameter", f"Line {number}: 'body' must be an object.", line=number, param="body"
            )
        else:
            seen.add(custom_id)
            result.lines.append(InputLine(index, custom_id, body, raw))
    return result


def parse_line(raw: bytes) -> Any:
    """The line's JSON value, or None where it is not strict JSON (orjson: UTF-8, no lone
    surrogates, no NaN) within `MAX_DEPTH`."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and deeper_than(value, MAX_DEPTH):
        return None
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Iterative (a recursive walk would fail on exactly the input it is meant to refuse)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def encode_chunk(lines: list[InputLine]) -> bytes:
    """A chunk object: the lines as the caller wrote them, with their positions."""
    return orjson.dumps({"lines": [[line.index, line.raw.decode()] for line in lines]})


def decode_chunk(data: bytes) -> list[InputLine]:
    """The lines of a chunk object (validated when the batch was planned)."""
    lines = []
    for index, text in orjson.loads(data)["lines"]:
        raw = text.encode()
        document = orjson.loads(raw)
        lines.append(InputLine(int(index), document["custom_id"], document["body"], raw))
    return lines
