"""Every AWS client is bounded; ``STEWARD_AWS_TIMEOUT_SCALE`` widens the bounds (the local stack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from steward.adapters import aws


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_clients_are_bounded_as_asked_without_the_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_AWS_TIMEOUT_SCALE", raising=False)
    config = aws.client("sqs", "us-east-1", connect_timeout=1.0, read_timeout=3.0).meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.0, 3.0)
    assert config.retries["total_max_attempts"] == 2


def test_the_scale_widens_every_bound_and_keeps_the_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_AWS_TIMEOUT_SCALE", "4")
    config = aws.client("sqs", "us-east-1", connect_timeout=1.0, read_timeout=3.0).meta.config
    assert (config.connect_timeout, config.read_timeout) == (4.0, 12.0)
    assert config.retries["total_max_attempts"] == 2


@pytest.mark.parametrize("raw", ["0.5", "21", "fast"])
def test_a_scale_outside_1_to_20_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("STEWARD_AWS_TIMEOUT_SCALE", raw)
    with pytest.raises(ValueError):
        aws.client("sqs", "us-east-1")
