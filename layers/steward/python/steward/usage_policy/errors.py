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
