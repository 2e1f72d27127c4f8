"""What the usage policy adds per request, in process, and what its denied-topic check costs.

Checks a typical request text (a ~400-character prompt; and a 4,000-character one) against a
policy of 3 word lists (300 words and phrases in all) and 5 RE2 patterns, through the same
`UsageGuard.evaluate` the inference path calls (policy resolved from the cached book, word
index and RE2 programs compiled once per version). Goal: <= 0.3 ms p50.

``--topics`` adds 1 and then 5 denied topics (the calibration topics of
``tests/fixtures/topics/tuning.jsonl``) to the same policy and times the whole check again: the
word lists and patterns pass the benign prompt, so each request also makes the topic check's
embedding call. That call goes as in the deployment: `TopicChecker` over `RouterTopicEmbedder`,
the registry's ``all-minilm-l6-v2`` version and `bootstrap.build_router` (HTTP transport,
deadline, retries, breaker) to a real ``gpu_backend`` server. The script starts one on a free
port serving only MiniLM from ``--model-repository`` (CPU unless the machine has CUDA), or uses
``--backend-url`` (e.g. the local stack's, or a GPU host). Topic vectors are cached per process
after the first request, as on the Lambda, so a request embeds only its own text windows.

    .venv/bin/python scripts/bench_usage_policy.py [--n 5000]
    .venv/bin/python scripts/bench_usage_policy.py --topics [--topic-n 100] [--backend-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steward.usage_policy.book import UsagePolicyBook, usage_policy_key  # noqa: E402
from steward.usage_policy.document import Direction  # noqa: E402
from steward.usage_policy.engine import UsageGuard  # noqa: E402
from steward.usage_policy.ports import UsagePolicyVersionExists  # noqa: E402
from steward.usage_policy.topics import TopicChecker, TopicEmbedder  # noqa: E402

TOPIC_MODEL = "all-minilm-l6-v2"
TOPICS_FILE = ROOT / "tests" / "fixtures" / "topics" / "tuning.jsonl"

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
LONG = " ".join([PROMPT] * 10)
TEXTS = ((f"{len(PROMPT)}-char prompt", PROMPT), (f"{len(LONG)}-char prompt", LONG))


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


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def timed(guard: UsageGuard, text: str, n: int, tenant: str = "acme") -> list[float]:
    """Milliseconds per request of the check the inference path makes."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        chosen = guard.book.in_force(tenant, "model")  # the cached read every request makes
        assert chosen is not None
        guard.evaluate(chosen, [text], Direction.INPUT)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(guard: UsageGuard, text: str, n: int, tenant: str = "acme") -> tuple[float, float]:
    return percentiles(timed(guard, text, n, tenant))


class TimedEmbedder:
    """The embedder the checker uses, timing each embedding call (the backend round trip)."""

    def __init__(self, inner: TopicEmbedder) -> None:
        self.inner = inner
        self.calls_ms: list[float] = []

    def model_id(self) -> str:
        return self.inner.model_id()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.calls_ms.append((time.perf_counter() - started) * 1000)


def denied_topics(count: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in TOPICS_FILE.read_text().splitlines() if line.strip()]
    topics = [r for r in rows if r.get("kind") == "topic"][:count]
    assert len(topics) == count, f"{TOPICS_FILE} has fewer than {count} topics"
    return [
        {"name": t["name"], "definition": t["definition"], "examples": t["examples"], "action": "block"}
        for t in topics
    ]


@contextlib.contextmanager
def backend(url: str | None, model_repository: Path) -> Iterator[str]:
    """``url``, or a gpu_backend server serving only MiniLM from ``model_repository``."""
    if url:
        yield url.rstrip("/")
        return
    from scripts.local.processes import ChildProcess, free_port, python_module, wait_http_ok

    with tempfile.TemporaryDirectory(prefix="bench-topics-") as tmp:
        repository = Path(tmp) / "models"
        repository.mkdir()
        (repository / TOPIC_MODEL).symlink_to((model_repository / TOPIC_MODEL).resolve())
        port = free_port()
        argv = ["serve", "--model-repository", str(repository), "--host", "127.0.0.1", "--port", str(port)]
        child = ChildProcess("backend", python_module("gpu_backend", *argv), Path(tmp) / "backend.log")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http_ok(f"{url}/v2/health/ready", child, timeout_s=180)
            yield url
        finally:
            child.stop()


def topic_guard(book: UsagePolicyBook, url: str, model_repository: Path) -> tuple[UsageGuard, TimedEmbedder]:
    """The deployment's topic check over an in-memory registry holding the backend's MiniLM."""
    from steward import admin
    from steward.bootstrap import build_router
    from steward.catalog.registry import Registry
    from steward.settings import AdminSettings, ApiSettings
    from steward.usage_policy.topic_embedder import RouterTopicEmbedder, topic_model_resolver

    from scripts.local.seed import manifests
    from tests.fakes import InMemoryRegistryStore

    store = InMemoryRegistryStore()
    (manifest,) = [m for m in manifests(model_repository) if m["name"] == TOPIC_MODEL]
    target = {"kind": "http", "url": url}
    admin.register_from_manifest(manifest, target=target, settings=AdminSettings(), store=store)
    router = build_router(ApiSettings(stage="local", backend_url=url))
    embedder = TimedEmbedder(RouterTopicEmbedder(router, topic_model_resolver(Registry(store), TOPIC_MODEL)))
    return UsageGuard(book, topics=TopicChecker(embedder)), embedder


def bench_topics(args: argparse.Namespace, book: UsagePolicyBook, local_p50: dict[str, float]) -> None:
    with backend(args.backend_url, args.model_repository) as url:
        guard, embedder = topic_guard(book, url, args.model_repository)
        for count in (1, 5):
            policy = {**POLICY, "denied_topics": denied_topics(count)}
            book.save(f"topics-{count}", None, policy, author="bench")
        print(f"topic check: backend {url}, {TOPIC_MODEL}, {args.topic_n} requests per row; per request:")
        for label, text in TEXTS:
            for count in (1, 5):
                tenant = f"topics-{count}"
                timed(guard, text, 5, tenant)  # warm: topic vectors cached, connection open
                embedder.calls_ms.clear()
                totals = timed(guard, text, args.topic_n, tenant)
                calls = embedder.calls_ms
                assert len(calls) == len(totals)  # one embedding call per request
                p50, p99 = percentiles(totals)
                call_p50, call_p99 = percentiles(calls)
                rest_p50, _ = percentiles([total - call for total, call in zip(totals, calls, strict=True)])
                topics = f"{count} denied topic{'s' if count > 1 else ''}"
                print(
                    f"  {topics:>15}, {label:>17}: whole check p50 {p50:.2f} ms p99 {p99:.2f} ms | "
                    f"embedding call p50 {call_p50:.2f} ms p99 {call_p99:.2f} ms | "
                    f"in process p50 {rest_p50:.2f} ms (word lists + patterns only {local_p50[label]:.3f})"
                )
    model_alone(args, TEXTS)


def model_alone(args: argparse.Namespace, texts: Sequence[tuple[str, str]]) -> None:
    """The same windows through gpu_backend's model class in this process: the compute alone, so
    the embedding call's remainder is the HTTP round trip and the server's batching."""
    from steward.usage_policy.topics import windows

    from scripts.calibrate_topics import LocalEmbedder

    local = LocalEmbedder(args.model_repository)
    for label, text in texts:
        cut = windows(text)
        local.embed(cut)  # warm
        samples = []
        for _ in range(args.topic_n):
            started = time.perf_counter()
            local.embed(cut)
            samples.append((time.perf_counter() - started) * 1000)
        p50, p99 = percentiles(samples)
        what = f"{len(cut):>2} windows of the {label}"
        print(f"MiniLM in process, {what:>33}: p50 {p50:.2f} ms  p99 {p99:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--topics", action="store_true", help="also time the denied-topic check")
    parser.add_argument("--topic-n", type=int, default=100, help="requests per topic row")
    parser.add_argument("--backend-url", help="a running gpu_backend (default: start one)")
    parser.add_argument("--model-repository", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    book = UsagePolicyBook(Store(), ttl_s=3600)
    book.save("acme", None, POLICY, author="bench")
    guard = UsageGuard(book)
    measure(guard, PROMPT, 200)  # warm: compile once, fill caches
    local_p50: dict[str, float] = {}
    for label, text in (
        *TEXTS,
        ("obfuscated, non-ASCII", "Pl\u0435ase s\u00fcmmarise th\u0456s r\u0435port, n0 k 1 l l w0rds " * 4),
    ):
        p50, p99 = measure(guard, text, args.n)
        local_p50[label] = p50
        print(f"word lists + patterns, {label:>24}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  (goal p50 <= 0.3 ms)")
    if args.topics:
        bench_topics(args, book, local_p50)


if __name__ == "__main__":
    main()
