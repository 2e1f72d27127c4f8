"""Privacy guardrail errors. Both refuse the request: the privacy path fails closed.

Neither error ever carries a detected value: ``PiiBlocked`` names entity *types* only and
``DetectorFailure`` names the detector that broke, so an error body or a log line can't leak
the personal data it is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from steward.errors import StewardError


class PiiBlocked(StewardError):
    """The policy says these entity types must never reach the model: refuse the request."""

    status, code, title = 400, "pii.blocked", "Personal data not allowed"
    default_detail = "The request contains personal data that the policy does not allow."

    def __init__(self, entity_types: Iterable[str]) -> None:
        self.entity_types: tuple[str, ...] = tuple(sorted(set(entity_types)))
        super().__init__(
            "The request contains personal data of a type the policy blocks: "
            + ", ".join(self.entity_types)
            + "."
        )

    def problem_extra(self) -> dict[str, Any]:
        """Extra members for the problem document (types only, never values)."""
        return {"entity_types": list(self.entity_types)}


class DetectorFailure(StewardError):
    """A detector raised or the requested detection path is unavailable: refuse, never pass through."""

    status, code, title = 503, "pii.detector_error", "Personal data check unavailable"
    default_detail = "The personal data check could not run, so the request was refused. Retry later."

    def __init__(self, detector: str) -> None:
        self.detector = detector
        super().__init__(f"The personal data check '{detector}' could not run, so the request was refused.")


class PolicyError(StewardError):
    """A privacy policy document is malformed (admin input): 4xx, never applied half-way."""

    status, code, title = 422, "pii.policy_invalid", "Invalid privacy policy"
    default_detail = "The privacy policy is not valid."
