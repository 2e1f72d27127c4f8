"""The usage policy on the request path: the texts a model would see, and what it answers.

`UsageGuard` is process-wide (the book, the denied-topic check, the flag hook);
``begin`` resolves the policy in force for one request and backend call (`RequestUsage`).
Input rules run on the payload after the privacy guard has redacted it (the text as the model
sees it; the embedding call for denied topics never receives personal data), output rules on
the answer as the caller would get it. Word lists and patterns run first; the topic check's
embedding call is skipped when they already block.

Verdicts: ``block`` raises `DeniedWord` / `DeniedPattern` / `DeniedTopic` (400, naming the rule);
``flag`` lets the request through and is recorded in the audit draft's reason codes
(``policy.flagged_<kind>:<rule>``) and handed to the `FlagSink` (the human review queue's hook).
Any failure (store, topic check, sink) refuses the request: `UsagePolicyUnavailable` (503).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steward.context import RequestContext
from steward.errors import StewardError
from steward.usage_policy.book import UsageInForce, UsagePolicyBook
from steward.usage_policy.compiled import PATTERN, TOPIC, WORD, TopicsNotConfigured, Verdict
from steward.usage_policy.document import Direction
from steward.usage_policy.errors import (
    DeniedPattern,
    DeniedTopic,
    DeniedWord,
    UsagePolicyDenied,
    UsagePolicyUnavailable,
)
from steward.usage_policy.ports import FlagSink, TopicCheck

logger = logging.getLogger("steward.usage_policy")
_DENIED: dict[str, type[UsagePolicyDenied]] = {WORD: DeniedWord, PATTERN: DeniedPattern, TOPIC: DeniedTopic}
BYTES = "BYTES"


@dataclass
class UsageGuard:
    book: UsagePolicyBook
    topics: TopicCheck | None = None
    flag_sink: FlagSink | None = None

    def begin(self, ctx: RequestContext, model: str | None) -> RequestUsage:
        """The request's checker, with the policy in force now (503 if it can't be read)."""
        return RequestUsage(self, ctx, self.book.in_force(ctx.tenant_id, model))

    def evaluate(self, chosen: UsageInForce, texts: Sequence[str], direction: Direction) -> list[Verdict]:
        """Every verdict for ``texts`` (no side effect); topics only when nothing blocks yet.
        Raises `UsagePolicyUnavailable` if any check fails."""
        compiled = chosen.compiled
        if not compiled.policy.applies_to(direction) or not texts:
            return []
        try:
            verdicts = compiled.local_verdicts(texts, direction)
            if not any(v.blocks for v in verdicts):
                verdicts += compiled.topic_verdicts(texts, direction, self.topics)
        except TopicsNotConfigured:
            raise UsagePolicyUnavailable(
                "The usage policy has denied topics, but this deployment has no topic check; "
                "the request was refused."
            ) from None
        except Exception as error:  # fail closed, whatever broke (backend, matcher, a bug)
            logger.error("usage policy check failed", extra={"error_type": type(error).__name__})
            raise UsagePolicyUnavailable() from None
        return verdicts


def record(ctx: RequestContext, label: str, verdicts: Sequence[Verdict]) -> None:
    """Verdicts as audit reason codes: the policy version once, then each rule once."""
    codes = ctx.draft.reason_codes
    if verdicts and f"usage_policy:{label}" not in codes:
        codes.append(f"usage_policy:{label}")
    for v in verdicts:
        code = f"policy.{'denied' if v.blocks else 'flagged'}_{v.kind}:{v.rule}"
        if code not in codes:
            codes.append(code)


class RequestUsage:
    """Checks one backend call's request and answer against the policy in force."""

    __slots__ = ("chosen", "ctx", "guard")

    def __init__(self, guard: UsageGuard, ctx: RequestContext, chosen: UsageInForce | None) -> None:
        self.guard = guard
        self.ctx = ctx
        self.chosen = chosen

    def check_request(self, payload: Mapping[str, Any]) -> None:
        """Input rules on every text the backend would see; raises on ``block``."""
        if self.chosen is not None:
            self.enforce(list(request_texts(payload)), Direction.INPUT)

    def check_response(self, payload: Mapping[str, Any]) -> None:
        """Output rules on the text of the answer's output tensors; raises on ``block``."""
        if self.chosen is not None:
            self.enforce(list(response_texts(payload)), Direction.OUTPUT)

    def enforce(self, texts: Sequence[str], direction: Direction) -> None:
        if self.chosen is None:
            return
        verdicts = self.guard.evaluate(self.chosen, texts, direction)
        if not verdicts:
            return
        record(self.ctx, self.chosen.label, verdicts)
        blocking = next((v for v in verdicts if v.blocks), None)
        if blocking is not None:
            raise _DENIED[blocking.kind](blocking.rule, output=direction is Direction.OUTPUT)
        sink = self.guard.flag_sink
        if sink is not None:
            try:
                for verdict in verdicts:
                    sink.flagged(self.ctx, verdict, texts[verdict.index])
            except StewardError:
                raise
            except Exception as error:
                logger.error("flag sink failed", extra={"error_type": type(error).__name__})
                raise UsagePolicyUnavailable() from None


def request_texts(payload: Mapping[str, Any]) -> Iterator[str]:
    """The caller's text in an OIP request: BYTES tensor elements, string parameter values (of
    the request and of each tensor) and ``id``. Names, datatypes and keys are not content."""
    for tensor in _tensors(payload.get("inputs")):
        if tensor.get("datatype") == BYTES:
            yield from _string_leaves(tensor.get("data"))
        yield from _string_leaves(tensor.get("parameters"))
    for tensor in _tensors(payload.get("outputs")):
        yield from _string_leaves(tensor.get("parameters"))
    yield from _string_leaves(payload.get("parameters"))
    if isinstance(payload.get("id"), str):
        yield payload["id"]


def response_texts(payload: Mapping[str, Any]) -> Iterator[str]:
    """The text a model wrote: string elements of its output tensors."""
    for tensor in _tensors(payload.get("outputs")):
        yield from _string_leaves(tensor.get("data"))


def _tensors(value: Any) -> list[Mapping[str, Any]]:
    return [t for t in value if isinstance(t, Mapping)] if isinstance(value, list) else []


_NO_TEXT = frozenset({float, int, bool, type(None)})


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list):
        if _NO_TEXT.issuperset(map(type, value)):  # numeric tensors: one C-speed scan
            return
        for item in value:
            yield from _string_leaves(item)
