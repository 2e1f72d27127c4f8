"""The usage policy document: denied topics, word lists and patterns, each ``block`` or ``flag``.

``{"denied_topics": [{"name", "definition", "examples", "action", "hold"}], "word_lists": [{"name",
"words", "action", "hold"}], "patterns": [{"name", "regex", "action", "hold"}], "apply_to":
["input", "output"]}``. ``hold`` (``flag`` rules only): a hit is not served until a reviewer
approves it (`steward.review`).
An absent list means no rule of that kind. Rule names are identifiers (they appear in problem
documents and audit reason codes, with the rule's kind); a word without a letter or digit never
matches. Bounds keep a policy cheap to check on every request; a pattern is compiled and costed
when saved (`steward.usage_policy.patterns`: 422 when RE2 refuses it or it is too costly).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from steward.errors import InvalidInput
from steward.usage_policy.patterns import MAX_PATTERN_CHARS, PatternRefused, check_pattern

RULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_RULES = 50  # of each kind
MAX_WORDS = 2_000  # per list
MAX_WORD_CHARS = 100
MAX_EXAMPLES = 20
MAX_TOPIC_CHARS = 1_000


class Action(StrEnum):
    BLOCK = "block"
    FLAG = "flag"


class Direction(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


_STRICT = ConfigDict(extra="forbid", frozen=True)
RuleName = Annotated[str, Field(pattern=RULE_NAME_PATTERN)]
TopicText = Annotated[str, Field(min_length=1, max_length=MAX_TOPIC_CHARS)]


class _Rule(BaseModel):
    """What every rule has: its action, and for ``flag`` whether a hit is held for review.

    ``hold``: the request is not served until a reviewer approves the text (`steward.review`);
    it only means something for a ``flag`` (a ``block`` is refused outright), so a ``block``
    rule with ``hold`` is an invalid document rather than silently ignored.
    """

    # The same rule in the published schema, so a schema-valid document is a valid one: an
    # explicit ``"action": "flag"``, or no ``hold: true``.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["action"], "properties": {"action": {"const": "flag"}}},
                {"properties": {"hold": {"const": False}}},
            ]
        },
    )
    action: Action = Action.BLOCK
    hold: StrictBool = False  # ``"true"`` or ``1`` is not a yes to holding requests

    @model_validator(mode="after")
    def _hold_needs_flag(self) -> _Rule:
        if self.hold and self.action is not Action.FLAG:
            raise ValueError("'hold' applies to rules with action 'flag' only")
        return self


class DeniedTopic(_Rule):
    name: RuleName
    definition: TopicText
    examples: Annotated[tuple[TopicText, ...], Field(max_length=MAX_EXAMPLES)] = ()


class WordList(_Rule):
    name: RuleName
    words: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=MAX_WORD_CHARS)], ...],
        Field(min_length=1, max_length=MAX_WORDS),
    ]


class PatternRule(_Rule):
    name: RuleName
    regex: Annotated[
        str, Field(min_length=1, max_length=MAX_PATTERN_CHARS, json_schema_extra={"format": "regex"})
    ]

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str) -> str:
        try:
            check_pattern(regex)
        except PatternRefused as refused:
            raise ValueError(f"the pattern {refused}") from None
        return regex


class UsagePolicy(BaseModel):
    """One stored version (``tenant_id``, ``model`` and ``version`` are set by the book)."""

    model_config = _STRICT
    tenant_id: str = ""
    model: str | None = None
    version: int = Field(default=0, ge=0)
    denied_topics: Annotated[tuple[DeniedTopic, ...], Field(max_length=MAX_RULES)] = ()
    word_lists: Annotated[tuple[WordList, ...], Field(max_length=MAX_RULES)] = ()
    patterns: Annotated[tuple[PatternRule, ...], Field(max_length=MAX_RULES)] = ()
    apply_to: Annotated[tuple[Direction, ...], Field(min_length=1, max_length=2)] = (Direction.INPUT,)

    def applies_to(self, direction: Direction) -> bool:
        return direction in self.apply_to

    @property
    def is_empty(self) -> bool:
        return not (self.denied_topics or self.word_lists or self.patterns)


def parse_usage_policy(document: Mapping[str, Any], *, tenant_id: str, model: str | None) -> UsagePolicy:
    """Validate an admin's document (422 ``input.invalid`` naming the field, never a value)."""
    if not isinstance(document, Mapping):
        raise InvalidInput("A usage policy is a JSON object.")
    body = {k: v for k, v in document.items() if k not in ("version", "tenant_id", "model")}
    try:
        return UsagePolicy.model_validate({**body, "tenant_id": tenant_id, "model": model})
    except ValidationError as error:
        issues = "; ".join(f"{_where(e)}: {_message(e)}" for e in error.errors()[:5])
        raise InvalidInput(f"Invalid usage policy: {issues}.") from None


def _where(error: Any) -> str:
    """The field's location; an unknown key is not named (the caller chose it)."""
    loc = list(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and loc:
        loc[-1] = "<unknown field>"
    return ".".join(str(p) for p in loc) or "document"


def _message(error: Any) -> str:
    """Pydantic's message without the input it quotes (a regex or a word is the admin's own
    text, but error bodies never echo input)."""
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")
