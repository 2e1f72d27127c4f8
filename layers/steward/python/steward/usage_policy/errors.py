"""Usage policy refusals: they name the rule, never the text that hit it."""

from __future__ import annotations

from typing import Any

from steward.errors import StewardError


class UsagePolicyDenied(StewardError):
    """A ``block`` rule matched (400). Subclasses fix the rule kind's code."""

    status, title = 400, "Usage policy violation"
    kind = ""

    def __init__(self, rule: str, *, output: bool = False) -> None:
        self.rule = rule
        what = "The model's answer" if output else "The request"
        super().__init__(f"{what} is refused by the usage policy's {self.kind} rule '{rule}'.")

    def problem_extra(self) -> dict[str, Any]:
        return {"rule": self.rule}


class DeniedWord(UsagePolicyDenied):
    code, kind = "policy.denied_word", "word list"


class DeniedPattern(UsagePolicyDenied):
    code, kind = "policy.denied_pattern", "pattern"


class DeniedTopic(UsagePolicyDenied):
    code, kind = "policy.denied_topic", "denied topic"


class UsagePolicyUnavailable(StewardError):
    """The usage policy could not be read or a check failed: refuse rather than pass (fail closed)."""

    status, code, title = 503, "policy.check_failed", "Usage policy check unavailable"
    default_detail = "The usage policy could not be applied, so the request was refused. Retry later."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class UsagePolicyNotFound(StewardError, LookupError):
    """No stored usage policy (version) for the scope asked about (``steward policies usage get``)."""

    status, code, title = 404, "policy.not_found", "Usage policy not found"
    default_detail = "No usage policy is stored for this tenant and scope."


class HeldForReview(StewardError):
    """A ``flag`` rule with ``hold`` matched a text no reviewer has approved (403): the request
    is not served (input: it never reaches the model; output: the answer is withheld) until a
    reviewer approves the review item ``review_id``; the same text is then served. Names the
    rule and the item, never the text."""

    status, code, title = 403, "policy.held_for_review", "Held for review"

    def __init__(self, kind: str, rule: str, review_id: str, *, output: bool = False) -> None:
        self.rule, self.review_id = rule, review_id
        what = "The model's answer" if output else "The request"
        label = _KIND_LABELS.get(kind, kind)
        super().__init__(
            f"{what} is held for human review under the usage policy's {label} rule '{rule}' "
            f"(review {review_id}); once a reviewer approves it, the same request is served."
        )

    def problem_extra(self) -> dict[str, Any]:
        return {"rule": self.rule, "review_id": self.review_id}


_KIND_LABELS = {"word": DeniedWord.kind, "pattern": DeniedPattern.kind, "topic": DeniedTopic.kind}
