"""What the usage policy's word lists and patterns add per request, in process (goal: <= 0.3 ms p50).

Checks a typical request text (a ~400-character prompt; and a 4,000-character one) against a
policy of 3 word lists (300 words and phrases in all) and 5 RE2 patterns, through the same
`UsageGuard.evaluate` the inference path calls (policy resolved from the cached book, word
index and RE2 programs compiled once per version). The topic check's embedding call is a
backend round trip and is measured by ``scripts/calibrate_topics.py`` / the backend benchmarks.

    .venv/bin/python scripts/bench_usage_policy.py [--n 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from steward.usage_policy.book import UsagePolicyBook, usage_policy_key
from steward.usage_policy.document import Direction
from steward.usage_policy.engine import UsageGuard
from steward.usage_policy.ports import UsagePolicyVersionExists

POLICY: dict[str, Any] = {
    "word_lists": [
        {"name": "violence", "words": [f"violentword{i}" for i in range(98)] + ["kill", "bomb"]},
        {"name": "slurs", "words": [f"slur{i}" for i in range(100)], "action": "block"},
        {"name": "watch", "words": [f"watch phrase {i}" for i in range(100)], "action": "flag"},
    ],
    "patterns": [
        {"name": "accounts", "regex": r"\bACC-\d{6}\b"},
        {"name": "projects", "regex": r"(?i)project\s+(falcon|osprey|kestrel)"},
        {"name": "cards", "regex": r"\b(?:\d[ -]?){13,16}\b", "action": "flag"},
        {"name": "internal", "regex": r"(?i)\binternal[-_ ]only\b"},
        {"name": "hosts", "regex": r"\b[a-z0-9-]+\.corp\.example\.com\b"},
    ],
    "apply_to": ["input", "output"],
}
PROMPT = (
    "Summarise the attached quarterly report for the leadership team, focusing on revenue, "
    "churn and the hiring plan. Keep it under two hundred words, use plain language, and list "
    "three risks with a mitigation for each. The audience is non-technical; avoid jargon and "
    "acronyms, and end with one recommendation the board can vote on next week. Thank you!"
)


class Store:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}

    def list_usage_policies(self, tenant_id: str) -> list[Any]:
        return [p for (t, _), p in self.items.items() if t == tenant_id]

    def put_usage_policy(self, policy: Any, *, author: str) -> None:
        key = (policy.tenant_id, usage_policy_key(policy.model, policy.version))
        if key in self.items:
            raise UsagePolicyVersionExists(key[1])
        self.items[key] = policy


def measure(guard: UsageGuard, text: str, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        chosen = guard.book.in_force("acme", "model")  # the cached read every request makes
        assert chosen is not None
        guard.evaluate(chosen, [text], Direction.INPUT)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    book = UsagePolicyBook(Store(), ttl_s=3600)
    book.save("acme", None, POLICY, author="bench")
    guard = UsageGuard(book)
    measure(guard, PROMPT, 200)  # warm: compile once, fill caches
    for label, text in (
        (f"{len(PROMPT)}-char prompt", PROMPT),
        (f"{len(PROMPT) * 10}-char prompt", " ".join([PROMPT] * 10)),
        ("obfuscated, non-ASCII", "Pl\u0435ase s\u00fcmmarise th\u0456s r\u0435port, n0 k 1 l l w0rds " * 4),
    ):
        p50, p99 = measure(guard, text, args.n)
        print(f"word lists + patterns, {label:>24}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  (goal p50 <= 0.3 ms)")


if __name__ == "__main__":
    main()
