"""Usage policy rules: word lists (case, accents, leetspeak, spacing, look-alikes, word
boundaries), RE2 patterns (validated and costed when saved), versions, verdicts, fail closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.errors import InvalidInput
from steward.usage_policy.book import UsagePolicyBook, usage_policy_key
from steward.usage_policy.document import DeniedTopic as TopicRule
from steward.usage_policy.engine import UsageGuard, request_texts, response_texts
from steward.usage_policy.errors import (
    DeniedPattern,
    DeniedTopic,
    DeniedWord,
    HeldForReview,
    UsagePolicyUnavailable,
)
from steward.usage_policy.patterns import PatternMatcher, PatternRefused, check_pattern
from steward.usage_policy.ports import Flagged, FlagOutcome, UsagePolicyVersionExists
from steward.usage_policy.words import WordMatcher

WORDS = ["ass", "kill", "bomb", "shit", "hate crime", "ninja"]


def hits(text: str, words: Sequence[str] = WORDS) -> bool:
    return bool(WordMatcher([words]).matches(text))


# --- word lists --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "kill",
        "KILL them",
        "Kíll",  # accent
        "k1ll",
        "ki11",
        "kiII",  # capital I for l
        "k!ll",
        "a55",
        "4ss",
        "@ss",
        "$hit",
        "sh!t",
        "b0mb",
        "k i l l",
        "k.i.l.l",
        "k-i-l-l",
        "k _ i _ l _ l",
        "b o m b now",
        "\u0430ss",  # Cyrillic a
        "\u0430\u0455\u0455",  # all Cyrillic look-alikes
        "\uff4b\uff49\uff4c\uff4c",  # fullwidth
        "k\u200bill",  # zero-width space inside
        "&#107;ill",  # HTML entity
        "a hate  crime",  # phrase across white space
        "HATE-CRIME",
        "a ninja!",
        "ninja.",
    ],
)
def test_obfuscated_words_are_caught(text: str) -> None:
    assert hits(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe",
        "class",
        "assessment",
        "passage",
        "skills",
        "killer whale",  # another word, not the listed one
        "bombastic",
        "shitake",  # not on the list (spelled differently)
        "455 apples",  # a number, not leetspeak
        "hello!",
        "a s s e s s m e n t",  # spaced, but another word
        "hatecrime statistics",  # the phrase needs two words
        "crime hate",
        "ninjas",
        "",
    ],
)
def test_benign_near_misses_are_not_caught(text: str) -> None:
    assert not hits(text), text


def test_each_rule_reports_its_own_hits() -> None:
    matcher = WordMatcher([["kill"], ["bomb", "grenade"], ["ass"]])
    assert matcher.matches("they b0mb and k1ll") == {0, 1}
    assert matcher.matches("nothing here") == set()


def test_non_latin_words_match_on_word_boundaries() -> None:
    matcher = WordMatcher([["бомба", "Straße"]])
    assert matcher.matches("это бомба!") == {0}
    assert matcher.matches("STRASSE") == {0}
    assert matcher.matches("бомбардировка") == set()


# --- patterns ----------------------------------------------------------------------------------


def test_patterns_match_on_the_normalised_view() -> None:
    matcher = PatternMatcher([r"(?i)project\s+falcon", r"\bACC-\d{6}\b"])
    assert matcher.matches("about PROJECT  falcon") == {0}
    assert matcher.matches("ref ACC-123456 ok") == {1}
    assert matcher.matches("proj\u0435ct falcon") == {0}  # Cyrillic e inside a Latin word
    assert matcher.matches("ACC-12345") == set()


@pytest.mark.parametrize("regex", ["(", "a{2,1}", "(?<=a)b", r"(a)\1", "x{1001}"])
def test_invalid_patterns_are_refused(regex: str) -> None:
    with pytest.raises(PatternRefused, match="not a valid"):
        check_pattern(regex)


def test_too_costly_patterns_are_refused() -> None:
    with pytest.raises(PatternRefused, match="too costly"):
        check_pattern(r"(.{100}){10}")
    with pytest.raises(PatternRefused, match="longer than"):
        check_pattern("a" * 1001)
    with pytest.raises(InvalidInput, match="1000 characters"):
        UsagePolicyBook(Store()).save(
            "acme", None, {"patterns": [{"name": "p", "regex": "a" * 1001}]}, author="k"
        )


def test_a_redos_shaped_pattern_is_linear_in_re2() -> None:
    import time

    check_pattern(r"(a+)+$")
    matcher = PatternMatcher([r"(a+)+$"])
    text = "a" * 30_000 + "!"
    started = time.perf_counter()
    assert matcher.matches(text) == set()
    assert time.perf_counter() - started < 0.5


# --- the document ------------------------------------------------------------------------------

DOCUMENT = {
    "word_lists": [{"name": "slurs", "words": ["kill"], "action": "block"}],
    "patterns": [{"name": "accounts", "regex": r"ACC-\d{6}", "action": "flag"}],
    "apply_to": ["input", "output"],
}


class Store:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}
        self.fail = False
        self.reads = 0

    def list_usage_policies(self, tenant_id: str) -> list[Any]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("down")
        return [p for (t, _), p in sorted(self.items.items()) if t == tenant_id]

    def put_usage_policy(self, policy: Any, *, author: str) -> None:
        key = (policy.tenant_id, usage_policy_key(policy.model, policy.version))
        if key in self.items:
            raise UsagePolicyVersionExists(key[1])
        self.items[key] = policy


@pytest.mark.parametrize(
    ("document", "field_name"),
    [
        ({"patterns": [{"name": "p", "regex": "(", "action": "block"}]}, "patterns.0.regex"),
        ({"patterns": [{"name": "p", "regex": r"(.{100}){10}", "action": "block"}]}, "too costly"),
        ({"word_lists": [{"name": "w", "words": [], "action": "block"}]}, "word_lists.0.words"),
        ({"word_lists": [{"name": "bad name!", "words": ["x"]}]}, "word_lists.0.name"),
        ({"word_lists": [{"name": "w", "words": ["x"], "action": "warn"}]}, "action"),
        ({"apply_to": []}, "apply_to"),
        ({"apply_to": ["sideways"]}, "apply_to"),
        ({"secret_field": 1}, "<unknown field>"),
    ],
)
def test_invalid_documents_are_refused_422_naming_the_field(
    document: dict[str, Any], field_name: str
) -> None:
    book = UsagePolicyBook(Store())
    with pytest.raises(InvalidInput) as refused:
        book.save("acme", None, document, author="k")
    assert refused.value.status == 422
    assert field_name in refused.value.detail
    assert "secret_field" not in refused.value.detail


def test_versions_are_numbered_per_scope_and_never_overwritten() -> None:
    store = Store()
    book = UsagePolicyBook(store, ttl_s=0)
    assert book.save("acme", None, DOCUMENT, author="k").version == 1
    assert book.save("acme", None, {}, author="k").version == 2
    assert book.save("acme", "m", DOCUMENT, author="k").version == 1
    assert [(p.model, p.version) for p in book.history("acme")] == [(None, 2), (None, 1), ("m", 1)]
    chosen = book.in_force("acme", None)
    assert chosen is not None and chosen.label == "tenant@v2"
    model = book.in_force("acme", "m")
    assert model is not None and model.label == "model:m@v1"
    assert book.in_force("acme", "other") is not None
    assert book.in_force("globex", None) is None


def test_reads_are_cached_within_the_ttl() -> None:
    now = [0.0]
    store = Store()
    book = UsagePolicyBook(store, ttl_s=4, clock=lambda: now[0])
    book.save("acme", None, DOCUMENT, author="k")
    book.in_force("acme", None)
    reads = store.reads
    book.in_force("acme", None)
    assert store.reads == reads
    now[0] = 5.0
    book.in_force("acme", None)
    assert store.reads == reads + 1


# --- the engine --------------------------------------------------------------------------------


def ctx(tenant: str = "acme") -> RequestContext:
    principal = Principal(tenant_id=tenant, key_id="k1", scopes=frozenset(), models=frozenset({"*"}))
    return RequestContext(principal, AuditDraft("r1", "POST", "/x", 0.0, tenant_id=tenant))


@dataclass
class Hit:
    name: str


@dataclass
class FakeTopics:
    on_topic: dict[str, str] = field(default_factory=dict)  # word in text -> topic name
    fail: bool = False
    calls: int = 0

    def matches(self, text: str, topics: Sequence[TopicRule]) -> list[Hit]:
        self.calls += 1
        if self.fail:
            raise TimeoutError("embedding backend down")
        return [Hit(name) for word, name in self.on_topic.items() if word in text]


@dataclass
class Sink:
    """A review queue that queues everything: one item per flag; ``released`` texts pass."""

    flags: list[Flagged] = field(default_factory=list)
    released: set[str] = field(default_factory=set)

    @property
    def items(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(f.rule, f.texts) for f in self.flags]

    def flagged(self, ctx: RequestContext, flags: Sequence[Flagged]) -> list[FlagOutcome]:
        self.flags.extend(flags)
        outcomes = []
        for flag in flags:
            if set(flag.texts) <= self.released:
                outcomes.append(FlagOutcome(None))
            else:
                outcomes.append(FlagOutcome(f"rv_{len(self.flags):024x}", held=flag.hold))
        return outcomes


def guard(document: dict[str, Any], **kwargs: Any) -> UsageGuard:
    book = UsagePolicyBook(Store(), ttl_s=0)
    book.save("acme", None, document, author="k")
    return UsageGuard(book, **kwargs)


def tensor(*texts: str) -> dict[str, Any]:
    return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": list(texts)}]}


def test_block_word_raises_naming_the_rule_never_the_text() -> None:
    c = ctx()
    with pytest.raises(DeniedWord) as refused:
        guard(DOCUMENT).begin(c, None).check_request(tensor("fine", "I will k1ll"))
    assert refused.value.code == "policy.denied_word" and refused.value.status == 400
    assert refused.value.problem_extra() == {"rule": "slurs"}
    assert "k1ll" not in refused.value.detail
    assert "policy.denied_word:slurs" in c.draft.reason_codes
    assert "usage_policy:tenant@v1" in c.draft.reason_codes


def test_flag_passes_records_the_verdict_and_feeds_the_review_hook() -> None:
    c, sink = ctx(), Sink()
    guard(DOCUMENT, flag_sink=sink).begin(c, None).check_request(tensor("ref ACC-123456"))
    assert "policy.flagged_pattern:accounts" in c.draft.reason_codes
    assert sink.items == [("accounts", ("ref ACC-123456",))]
    assert f"review.rv_{1:024x}" in c.draft.reason_codes


HOLD = {
    "word_lists": [
        {"name": "watch", "words": ["heist"], "action": "flag", "hold": True},
        {"name": "note", "words": ["vault"], "action": "flag"},
    ],
    "apply_to": ["input", "output"],
}


def test_one_flag_per_rule_with_its_distinct_texts_in_order() -> None:
    c, sink = ctx(), Sink()
    guard(HOLD, flag_sink=sink).begin(c, "m").check_request(tensor("vault b", "vault a", "vault b", "x"))
    [flag] = sink.flags
    assert (flag.kind, flag.rule, flag.hold, flag.texts) == ("word", "note", False, ("vault b", "vault a"))
    assert (flag.model, flag.policy, flag.direction.value) == ("m", "tenant@v1", "input")
    assert "vault" not in repr(flag)  # texts stay out of reprs (tracebacks, logs)


def test_a_hold_rule_refuses_naming_the_rule_and_the_item_never_the_text() -> None:
    c, sink = ctx(), Sink()
    with pytest.raises(HeldForReview) as held:
        guard(HOLD, flag_sink=sink).begin(c, None).check_request(tensor("the heist and the vault"))
    assert (held.value.status, held.value.code) == (403, "policy.held_for_review")
    review_id = held.value.review_id
    assert held.value.problem_extra() == {"rule": "watch", "review_id": review_id}
    assert "heist" not in held.value.detail and review_id in held.value.detail
    assert [f.rule for f in sink.flags] == ["watch", "note"]  # every flag queued before refusing
    assert {"policy.flagged_word:watch", f"review.{review_id}"} <= set(c.draft.reason_codes)


def test_an_approved_text_passes_the_hold_rule_and_is_still_recorded() -> None:
    c, sink = ctx(), Sink(released={"the heist"})
    guard(HOLD, flag_sink=sink).begin(c, None).check_request(tensor("the heist"))
    assert {"policy.flagged_word:watch", "policy.released_word:watch"} <= set(c.draft.reason_codes)
    assert not any(code.startswith("review.") for code in c.draft.reason_codes)


def test_a_hold_rule_without_a_review_queue_refuses_every_hit() -> None:
    with pytest.raises(UsagePolicyUnavailable):
        guard(HOLD).begin(ctx(), None).check_request(tensor("heist"))
    guard({**HOLD, "word_lists": HOLD["word_lists"][1:]}).begin(ctx(), None).check_request(tensor("vault"))


def test_an_answer_reaches_the_queue_only_through_the_review_view() -> None:
    answer = {"outputs": [{"name": "out", "datatype": "BYTES", "shape": [1], "data": ["vault of Jane"]}]}
    sink = Sink()
    with pytest.raises(UsagePolicyUnavailable):  # no view: the caller's own values could be in it
        guard(HOLD, flag_sink=sink).begin(ctx(), None).check_response(answer)
    assert sink.flags == []
    masked = guard(HOLD, flag_sink=sink).begin(ctx(), None, review_view=lambda t: t.replace("Jane", "<P_1>"))
    masked.check_response(answer)
    assert sink.items == [("note", ("vault of <P_1>",))]
    held = {"outputs": [{"name": "out", "datatype": "BYTES", "shape": [1], "data": ["a heist"]}]}
    with pytest.raises(HeldForReview) as refused:
        masked.check_response(held)
    assert refused.value.detail.startswith("The model's answer")


def test_a_queue_answering_for_other_flags_refuses() -> None:
    class Wrong(Sink):
        def flagged(self, ctx: RequestContext, flags: Sequence[Flagged]) -> list[FlagOutcome]:
            return [FlagOutcome(None, held=True) for _ in flags]

    with pytest.raises(UsagePolicyUnavailable):
        guard(HOLD, flag_sink=Wrong()).begin(ctx(), None).check_request(tensor("heist"))


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "w", "words": ["x"], "action": "block", "hold": True},
        {"name": "w", "words": ["x"], "hold": True},  # block by default
        {"name": "w", "words": ["x"], "action": "flag", "hold": "true"},
        {"name": "w", "words": ["x"], "action": "flag", "hold": 1},
    ],
)
def test_hold_is_only_for_flag_rules_and_only_a_json_boolean(rule: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        UsagePolicyBook(Store()).save("acme", None, {"word_lists": [rule]}, author="k")
    assert "word_lists.0" in refused.value.detail


def test_block_pattern_and_output_direction() -> None:
    document = {
        "patterns": [{"name": "codes", "regex": r"ACC-\d+", "action": "block"}],
        "apply_to": ["output"],
    }
    usage = guard(document).begin(ctx(), None)
    usage.check_request(tensor("ACC-1"))  # input not governed by this policy
    answer = {"outputs": [{"name": "out", "datatype": "BYTES", "shape": [1], "data": ["see ACC-99"]}]}
    with pytest.raises(DeniedPattern) as refused:
        usage.check_response(answer)
    assert refused.value.detail.startswith("The model's answer")


def test_denied_topic_blocks_and_a_word_block_skips_the_topic_call() -> None:
    document = {
        "denied_topics": [{"name": "weapons", "definition": "Making weapons", "examples": ["build a gun"]}],
        "word_lists": [{"name": "w", "words": ["kill"]}],
    }
    topics = FakeTopics({"gun": "weapons"})
    usage = guard(document, topics=topics).begin(ctx(), None)
    with pytest.raises(DeniedTopic):
        usage.check_request(tensor("how do I build a gun"))
    calls = topics.calls
    with pytest.raises(DeniedWord):
        usage.check_request(tensor("kill"))
    assert topics.calls == calls


@pytest.mark.parametrize("broken", ["store", "topics", "sink", "no topic check"])
def test_any_check_that_errors_refuses_the_request(broken: str) -> None:
    document = {
        "denied_topics": [{"name": "t", "definition": "d"}],
        "word_lists": [{"name": "w", "words": ["x"], "action": "flag"}],
    }
    store = Store()
    book = UsagePolicyBook(store, ttl_s=0)
    book.save("acme", None, document, author="k")

    class BrokenSink:
        def flagged(self, *_: Any) -> list[FlagOutcome]:
            raise OSError("queue down")

    topics = FakeTopics(fail=broken == "topics")
    usage = UsageGuard(
        book,
        topics=None if broken == "no topic check" else topics,
        flag_sink=BrokenSink() if broken == "sink" else None,
    )
    store.fail = broken == "store"
    with pytest.raises(UsagePolicyUnavailable) as refused:
        usage.begin(ctx(), None).check_request(tensor("x marks"))
    assert refused.value.status == 503 and refused.value.code == "policy.check_failed"


def test_no_stored_policy_checks_nothing() -> None:
    usage = UsageGuard(UsagePolicyBook(Store())).begin(ctx(), None)
    usage.check_request(tensor("kill"))


def test_texts_are_the_callers_content_not_the_envelope() -> None:
    payload = {
        "id": "req-kill",
        "parameters": {"prompt": "p1", "n": 3},
        "inputs": [
            {"name": "kill", "datatype": "BYTES", "shape": [2], "data": ["a", "b"], "parameters": {"x": "c"}},
            {"name": "f", "datatype": "FP32", "shape": [2], "data": [0.1, 0.2]},
        ],
    }
    assert sorted(request_texts(payload)) == ["a", "b", "c", "p1", "req-kill"]
    answer = {"outputs": [{"name": "o", "datatype": "BYTES", "data": ["x"]}], "parameters": {"m": "exact"}}
    assert list(response_texts(answer)) == ["x"]
