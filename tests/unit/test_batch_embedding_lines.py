"""A chunk's embeddings lines are charged together when they fit, line by line when they don't."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from steward.audit.record import AuditDraft
from steward.auth.principal import Principal
from steward.batches.chunk_result import ChunkDeferred, ChunkResult
from steward.batches.embedding_lines import EmbeddingLines
from steward.batches.endpoints import parse_endpoint
from steward.batches.jsonl import InputLine
from steward.limits.admission import RateLimiter
from steward.limits.plan import Plan

from tests.unit.batch_rig import MINILM, Rig, build_rig

NOW = 1_800_000_000.0  # on a minute's first second


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from build_rig()


def lines(n: int, model: str = MINILM) -> list[InputLine]:
    return [InputLine(i, f"c{i}", {"model": model, "input": f"text {i}"}, b"") for i in range(n)]


def runner(
    rig: Rig, plan: Plan, clock: Clock, result: ChunkResult, time_left_s: float = 900.0
) -> EmbeddingLines:
    inference = rig.api.inference
    inference.rate_limiter = RateLimiter(rig.limits, ttl_s=0, clock=clock, default_plan=plan)
    endpoint = parse_endpoint("/v1/embeddings")
    assert endpoint is not None
    return EmbeddingLines(
        inference=inference,
        principal=Principal("acme", "k1", frozenset(), frozenset({"*"})),
        endpoint=endpoint,
        result=result,
        new_draft=lambda line: AuditDraft(f"r{line.index}", "POST", "/v1/embeddings", clock(), "acme", "k1"),
        remaining_s=lambda: time_left_s,
        reserve_s=1.0,
        sleep=clock.sleep,
    )


def test_lines_that_fit_are_charged_in_one_admission_and_sent_in_one_call(rig: Rig) -> None:
    result, clock, saves = ChunkResult(NOW), Clock(), []
    runner(rig, Plan(), clock, result).run(lines(5), save=lambda: saves.append(set(result.charged)))
    assert [line["ok"] for line in result.lines] == [True] * 5
    assert rig.charged() == 5 and len(rig.transport.calls) == 1
    assert saves == [{0, 1, 2, 3, 4}]  # what is charged is saved before the call


def test_a_chunk_larger_than_the_rate_runs_what_fits_then_waits_for_the_next_minute(rig: Rig) -> None:
    # Given a tenant allowed 3 requests a minute and a chunk of 5 lines
    plan = Plan.model_validate({"tenant": {"rpm": 3}})
    result, clock = ChunkResult(NOW), Clock()
    runner(rig, plan, clock, result).run(lines(5), save=lambda: None)
    # Then all 5 ran, the last 2 after waiting out the minute, each charged once
    assert [line["ok"] for line in result.lines] == [True] * 5
    assert rig.charged() == 5 and clock.now - NOW == 60
    assert len(rig.sent_texts()) == 5


def test_a_wait_longer_than_the_time_left_defers_with_the_charged_lines_saved(rig: Rig) -> None:
    plan = Plan.model_validate({"tenant": {"rpm": 3}})
    result, clock, saves = ChunkResult(NOW), Clock(), []
    with pytest.raises(ChunkDeferred) as deferred:
        runner(rig, plan, clock, result, time_left_s=30).run(lines(5), save=lambda: saves.append(1))
    assert deferred.value.code == "rate.limited"
    assert result.charged == {0, 1, 2} and saves and rig.transport.calls == []
    # And the retry (a minute later) charges only the two lines left
    clock.now += 60
    runner(rig, plan, clock, result).run(lines(5), save=lambda: None)
    assert rig.charged() == 5 and len(result.lines) == 5


def test_lines_of_two_models_are_charged_per_model_and_a_bad_line_is_neither_charged_nor_sent(
    rig: Rig,
) -> None:
    result, clock = ChunkResult(NOW), Clock()
    chunk = [*lines(2), InputLine(2, "bad", {"model": MINILM}, b""), *lines(1, model="no-such-model")]
    chunk[3] = InputLine(3, "c3", chunk[3].body, b"")
    runner(rig, Plan(), clock, result).run(chunk, save=lambda: None)
    codes = [(line["ok"], line["trace"].get("code")) for line in result.lines]
    assert codes[:2] == [(True, None), (True, None)]
    assert codes[2] == (False, "input.invalid") and codes[3][0] is False
    assert result.charged == {0, 1} and rig.charged() == 2 and len(rig.sent_texts()) == 2
