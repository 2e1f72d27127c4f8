"""The usage policy on the request path: the texts a model would see, and what it answers.

`UsageGuard` is process-wide (the book, the denied-topic check, the flag hook);
``begin`` resolves the policy in force for one request and backend call (`RequestUsage`).
Input rules run on the payload after the privacy guard has redacted it (the text as the model
sees it; the embedding call for denied topics never receives personal data), output rules on
the answer as the caller would get it. Word lists and patterns run first; the topic check's
embedding call is skipped when they already block.

Verdicts: ``block`` raises `DeniedWord` / `DeniedPattern` / `DeniedTopic` (400, naming the rule);
``flag`` lets the request through and is recorded in the audit draft's reason codes
(``policy.flagged_<kind>:<rule>``) and handed to the `FlagSink`, the human review queue
(`steward.review`), one `Flagged` per rule with the texts it matched (``review.<id>`` joins the
reason codes). A ``flag`` rule with ``hold`` is not served until a reviewer approves the text:
`HeldForReview` (403, naming the rule and the review item) unless the queue says a reviewer
already approved this exact text (``policy.released_<kind>:<rule>``). The queue keeps what the
privacy policy left of a text: the redacted input, and the answer with the caller's own values
masked again (``review_view``: the answer is checked as the caller gets it, unmasked).
Any failure (store, topic check, sink) refuses the request: `UsagePolicyUnavailable` (503).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    HeldForReview,
    UsagePolicyDenied,
    UsagePolicyUnavailable,
)
from steward.usage_policy.ports import Flagged, FlagOutcome, FlagSink, TopicCheck

logger = logging.getLogger("steward.usage_policy")
_DENIED: dict[str, type[UsagePolicyDenied]] = {WORD: DeniedWord, PATTERN: DeniedPattern, TOPIC: DeniedTopic}
BYTES = "BYTES"


@dataclass
class UsageGuard:
    book: UsagePolicyBook
    topics: TopicCheck | None = None
    flag_sink: FlagSink | None = None

    def begin(
        self, ctx: RequestContext, model: str | None, *, review_view: Callable[[str], str] | None = None
    ) -> RequestUsage:
        """The request's checker, with the policy in force now (503 if it can't be read).
        ``review_view``: what the review queue may keep of an answer's text (the privacy guard's
        `~steward.privacy.guard.RequestPrivacy.remask`); without it, a flagged answer is refused."""
        return RequestUsage(self, ctx, self.book.in_force(ctx.tenant_id, model), model, review_view)

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

    __slots__ = ("chosen", "ctx", "guard", "model", "review_view")

    def __init__(
        self,
        guard: UsageGuard,
        ctx: RequestContext,
        chosen: UsageInForce | None,
        model: str | None = None,
        review_view: Callable[[str], str] | None = None,
    ) -> None:
        self.guard = guard
        self.ctx = ctx
        self.chosen = chosen
        self.model = model
        self.review_view = review_view

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
        self._queue(verdicts, texts, direction)

    def _queue(self, verdicts: Sequence[Verdict], texts: Sequence[str], direction: Direction) -> None:
        """Flags to the review queue; raises `HeldForReview` for a held one (the first)."""
        sink = self.guard.flag_sink
        if sink is None:
            if any(v.hold for v in verdicts):
                raise UsagePolicyUnavailable(
                    "The usage policy holds requests for review, but this deployment has no review "
                    "queue; the request was refused."
                )
            return
        try:
            flags = self._flags(verdicts, texts, direction)
            outcomes = sink.flagged(self.ctx, flags)
            if len(outcomes) != len(flags) or any(o.held and not o.review_id for o in outcomes):
                raise ValueError("the review queue answered for other flags")
        except StewardError:
            raise
        except Exception as error:
            logger.error("flag sink failed", extra={"error_type": type(error).__name__})
            raise UsagePolicyUnavailable() from None
        held = _noted(self.ctx, flags, outcomes)
        if held is not None:
            flag, review_id = held
            raise HeldForReview(flag.kind, flag.rule, review_id, output=direction is Direction.OUTPUT)

    def _flags(
        self, verdicts: Sequence[Verdict], texts: Sequence[str], direction: Direction
    ) -> list[Flagged]:
        """One `Flagged` per rule, with the distinct texts it matched as the queue may keep them."""
        view = self.review_view if direction is Direction.OUTPUT else _as_checked
        if view is None:
            raise ValueError("no review view of the answer's texts")
        assert self.chosen is not None
        matched: dict[tuple[str, str], tuple[bool, list[int]]] = {}
        for v in verdicts:
            matched.setdefault((v.kind, v.rule), (v.hold, []))[1].append(v.index)
        return [
            Flagged(
                kind=kind,
                rule=rule,
                direction=direction,
                hold=hold,
                texts=tuple(dict.fromkeys(view(texts[i]) for i in indexes)),
                model=self.model,
                policy=self.chosen.label,
            )
            for (kind, rule), (hold, indexes) in matched.items()
        ]


def _as_checked(text: str) -> str:
    """An input text as checked: already redacted by the privacy guard."""
    return text


def _noted(
    ctx: RequestContext, flags: Sequence[Flagged], outcomes: Sequence[FlagOutcome]
) -> tuple[Flagged, str] | None:
    """The review items (``review.<id>``) and released holds as reason codes; the first held flag."""
    codes = ctx.draft.reason_codes
    held: tuple[Flagged, str] | None = None
    for flag, outcome in zip(flags, outcomes, strict=True):
        notes = [f"review.{outcome.review_id}"] if outcome.review_id else []
        if flag.hold and not outcome.held:
            notes.append(f"policy.released_{flag.kind}:{flag.rule}")
        codes.extend(n for n in notes if n not in codes)
        if outcome.held and outcome.review_id and held is None:
            held = (flag, outcome.review_id)
    return held


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
