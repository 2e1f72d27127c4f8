"""What the usage policy engine plugs into: its store, the denied-topic check, and where flagged
verdicts go (the human review queue's hook)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from steward.context import RequestContext
    from steward.usage_policy.document import DeniedTopic, Direction, UsagePolicy


class UsagePolicyVersionExists(Exception):
    """Another writer stored this version first (conditional put lost the race)."""


class UsagePolicyStore(Protocol):
    def list_usage_policies(self, tenant_id: str) -> list[UsagePolicy]:
        """Every stored version of every scope of the tenant."""
        ...

    def put_usage_policy(self, policy: UsagePolicy, *, author: str) -> None:
        """Store a new version; raise :class:`UsagePolicyVersionExists` if that version exists."""
        ...


class TopicHit(Protocol):
    @property
    def name(self) -> str: ...


class TopicCheck(Protocol):
    """Which denied topics a text is on (`steward.usage_policy.topics.TopicChecker`: the text's
    MiniLM embedding against each topic's definition and examples, calibrated threshold).
    Raises on any failure (the engine refuses the request)."""

    def matches(self, text: str, topics: Sequence[DeniedTopic]) -> Sequence[TopicHit]: ...


@dataclass(frozen=True)
class Flagged:
    """One ``flag`` rule that matched in one backend call: the texts it matched, as the privacy
    policy left them (input: redacted; output: the answer with the caller's own values masked
    again), distinct and in order. Never logged: it holds the caller's text."""

    kind: str  # word | pattern | topic
    rule: str
    direction: Direction
    hold: bool
    texts: tuple[str, ...] = field(repr=False)  # never in a log line or a traceback
    model: str | None
    policy: str  # the usage policy version in force (``tenant@v3``)


@dataclass(frozen=True)
class FlagOutcome:
    """What became of one `Flagged`: the review item that holds its texts (a new one, or the
    one already holding them; None when every text was already approved), and whether the
    request must be held (a ``hold`` rule with a text not approved by a reviewer)."""

    review_id: str | None
    held: bool = False


class FlagSink(Protocol):
    """Where ``flag`` verdicts go besides the audit record: the human review queue
    (`steward.review.service.ReviewService`). One outcome per `Flagged`, in order. Raises on any
    failure (the engine refuses the request: a flag that can't be queued is not served)."""

    def flagged(self, ctx: RequestContext, flags: Sequence[Flagged]) -> list[FlagOutcome]: ...
