"""Fairness monitoring: outcome counters per sensitive group and the metrics derived from them.

Pure Python so it runs in the report Lambda; the numbers follow Fairlearn's definitions
(see `steward.fairness.metrics` module docstring for edge cases and NaN handling).
"""

from steward.fairness.counters import FairnessCounters
from steward.fairness.metrics import (
    FOUR_FIFTHS,
    FairnessReport,
    GroupRates,
    metrics,
    report_from_counters,
    wilson_interval,
)

__all__ = [
    "FOUR_FIFTHS",
    "FairnessCounters",
    "FairnessReport",
    "GroupRates",
    "metrics",
    "report_from_counters",
    "wilson_interval",
]
