"""Logs never carry personal data: a Powertools formatter that redacts every string it writes.

Every function's Logger uses :class:`RedactingFormatter`, and :func:`route_library_logs` sends
the ``steward.*`` library loggers through the same formatter. The message, every extra string
field and the formatted exception (traceback and message) pass through ``privacy.redact`` with a
redact-only policy (``<EMAIL_ADDRESS>``: nothing reversible, nothing to restore). Fail closed: a
field whose check errors is replaced by ``[REDACTION_FAILED]``, never written as is.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from steward.privacy.free_text import REDACTION_FAILED, redact_only_policy

if TYPE_CHECKING:
    from steward.privacy import PrivacyPolicy

LOG_TENANT = "_logs"
#: Keys Powertools and Steward fill with structural values only (times, ids, code locations).
STRUCTURAL_KEYS = frozenset(
    {
        "level", "location", "timestamp", "service", "sampling_rate", "xray_trace_id", "cold_start",
        "function_name", "function_memory_size", "function_arn", "function_request_id",
        "correlation_id", "exception_name", "code", "error_type", "detector", "status",
    }
)  # fmt: skip
_MARK = "_steward_redacting_handler"


def log_policy() -> PrivacyPolicy:
    """Every entity type removed for good (no placeholders: a log has no one to restore for)."""
    return redact_only_policy()


#: Short strings found clean (route, tenant id, model name recur on every line). Only strings in
#: which nothing was detected are kept, so the cache never holds a detected value.
_CLEAN: dict[str, None] = {}
_CLEAN_MAX_ENTRIES = 2048
_CLEAN_MAX_CHARS = 128


def scrub_text(text: str) -> str:
    """``text`` with every detected entity replaced by ``<TYPE>``; ``[REDACTION_FAILED]`` on error."""
    if not text or text in _CLEAN:
        return text
    try:
        from steward.privacy import RedactionContext, redact

        result = redact(text, log_policy(), RedactionContext(tenant_id=LOG_TENANT))
    except Exception:
        return REDACTION_FAILED
    if not result.findings and len(text) <= _CLEAN_MAX_CHARS and len(_CLEAN) < _CLEAN_MAX_ENTRIES:
        _CLEAN[text] = None
    return result.text


def scrub_value(value: Any) -> Any:
    """Strings redacted, containers walked; any other object (an exception in Powertools'
    ``stack_trace``) is written as its redacted ``str``, numbers and booleans as they are."""
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return scrub_text(str(value))


def scrub_log(log: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v if k in STRUCTURAL_KEYS else scrub_value(v) for k, v in log.items()}


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every non-structural string redacted before writing."""

    def serialize(self, log: Any) -> str:
        return super().serialize(scrub_log(log))


def route_library_logs(service: str, level: int = logging.INFO) -> None:
    """Send the ``steward`` package loggers through a redacting JSON handler (idempotent)."""
    library = logging.getLogger("steward")
    if any(getattr(h, _MARK, False) for h in library.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedactingFormatter(service=service))
    setattr(handler, _MARK, True)
    library.addHandler(handler)
    library.setLevel(level)
    library.propagate = False
