"""Fast-path detectors, one module per family. Each is pure Python over RE2 patterns."""

from __future__ import annotations

from steward.privacy.detectors.base import Detector


def fast_path_detectors() -> list[Detector]:
    """Every fast-path detector, freshly built (patterns compile on first construction)."""
    from steward.privacy.detectors.contact import ContactDetector
    from steward.privacy.detectors.datetimes import DateTimeDetector
    from steward.privacy.detectors.financial import FinancialDetector
    from steward.privacy.detectors.government import GovernmentIdDetector
    from steward.privacy.detectors.names_places import NamesPlacesDetector
    from steward.privacy.detectors.network import NetworkDetector
    from steward.privacy.detectors.secrets import SecretsDetector

    return [
        SecretsDetector(),
        ContactDetector(),
        FinancialDetector(),
        GovernmentIdDetector(),
        NetworkDetector(),
        DateTimeDetector(),
        NamesPlacesDetector(),
    ]


__all__ = ["Detector", "fast_path_detectors"]
