"""A usage policy version ready to check texts: word index and RE2 programs built once per
version (versions are immutable); topic vectors are cached by the topic check itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from steward.usage_policy.document import Action, Direction, UsagePolicy
from steward.usage_policy.patterns import PatternMatcher
from steward.usage_policy.ports import TopicCheck
from steward.usage_policy.words import WordMatcher

WORD, PATTERN, TOPIC = "word", "pattern", "topic"


@dataclass(frozen=True)
class Verdict:
    """One rule that matched one text (``index``: which text of the checked ones)."""

    kind: str  # word | pattern | topic
    rule: str
    action: Action
    direction: Direction
    index: int = 0
    hold: bool = False  # a ``flag`` rule whose hits are not served until reviewed

    @property
    def blocks(self) -> bool:
        return self.action is Action.BLOCK


class TopicsNotConfigured(RuntimeError):
    """The policy has denied topics but the deployment has no topic check."""


class CompiledPolicy:
    __slots__ = ("patterns", "policy", "words")

    def __init__(self, policy: UsagePolicy) -> None:
        self.policy = policy
        self.words = WordMatcher([rule.words for rule in policy.word_lists])
        self.patterns = PatternMatcher([rule.regex for rule in policy.patterns])

    def local_verdicts(self, texts: Sequence[str], direction: Direction) -> list[Verdict]:
        """Word lists and patterns (no I/O): every rule hit in every text, in document order."""
        verdicts: list[Verdict] = []
        word_rules, pattern_rules = self.policy.word_lists, self.policy.patterns
        for index, text in enumerate(texts):
            if self.words:
                for i in sorted(self.words.matches(text)):
                    word = word_rules[i]
                    verdicts.append(Verdict(WORD, word.name, word.action, direction, index, word.hold))
            if self.patterns:
                for i in sorted(self.patterns.matches(text)):
                    rule = pattern_rules[i]
                    verdicts.append(Verdict(PATTERN, rule.name, rule.action, direction, index, rule.hold))
        return verdicts

    def topic_verdicts(
        self, texts: Sequence[str], direction: Direction, check: TopicCheck | None
    ) -> list[Verdict]:
        """Denied topics: the topic check per text (it embeds the text and caches the topics')."""
        topics = self.policy.denied_topics
        if not topics or not texts:
            return []
        if check is None:
            raise TopicsNotConfigured()
        by_name = {t.name: t for t in topics}
        verdicts = []
        for index, text in enumerate(texts):
            for hit in check.matches(text, topics):
                topic = by_name.get(hit.name)
                if topic is None:
                    raise ValueError("the topic check named no topic of the policy")
                verdicts.append(Verdict(TOPIC, topic.name, topic.action, direction, index, topic.hold))
        return verdicts
