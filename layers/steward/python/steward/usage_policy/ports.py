"""What the usage policy engine plugs into: its store, the denied-topic check, and where flagged
verdicts go (the human review queue's hook)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from steward.context import RequestContext
    from steward.usage_policy.compiled import Verdict
    from steward.usage_policy.document import DeniedTopic, UsagePolicy


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


class FlagSink(Protocol):
    """Where ``flag`` verdicts go besides the audit record: the human review queue plugs in here.
    ``text`` is the checked text (input: already redacted by the privacy policy)."""

    def flagged(self, ctx: RequestContext, verdict: Verdict, text: str) -> None: ...
