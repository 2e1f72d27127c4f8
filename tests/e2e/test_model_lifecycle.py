"""A model's version lifecycle on the local stack, as an operator and a client live it: compare the
two credit-risk versions ``make up`` registers, send 10 % canary traffic to version 2 with ground
truth for every prediction, shadow version 2, read the comparison, promote, roll back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REPO, RunningStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MODEL = "credit-risk"
ROW = [40.0, 55.0, 6.0, 0.3, 12.0, 4.0, 1.0, 20.0, 10.0, 1.0]
BODY = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 10], "data": ROW}]}
#: Canary predictions, each with feedback. moto copies every table a transaction touches (each
#: audit record and each feedback is one), so a local stack slows as its tables grow: this test
#: runs on a stack of its own, so the rest of the suite's stack stays as small as it was.
PREDICTIONS = 150
#: The freshness bound every registry change is in force within, plus polling slack.
IN_FORCE_S = 5.0 + 1.5


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("lifecycle-stack"))
    yield running
    running.stop()


def steward(stack: RunningStack, *argv: str) -> dict[str, Any]:
    """The operator's CLI against the running stack (its state file), as a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli", "--local-state", str(stack.state_file), *argv, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def infer(http: httpx.Client) -> tuple[str, str]:
    """(answering version, request id) of one unpinned prediction."""
    response = http.post(f"/v2/models/{MODEL}/infer", json=BODY)
    assert response.status_code == 200, response.text
    version = response.json()["model_version"]
    assert response.headers["x-steward-model-version"] == version
    return version, response.headers["x-request-id"]


def wait_for_version(http: httpx.Client, version: str) -> float:
    """Seconds until 10 unpinned predictions in a row come from ``version``."""
    start = time.monotonic()
    streak = 0
    while time.monotonic() - start < 30:
        streak = streak + 1 if infer(http)[0] == version else 0
        if streak == 10:
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"{MODEL}@{version} never took the traffic")


def test_canary_shadow_compare_promote_and_roll_back(own_stack: RunningStack) -> None:
    stack = own_stack
    headers = {"Authorization": f"Bearer {stack.key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
        # Given the two versions make up registers: 1 serves, 2 is approved and takes no traffic
        before = http.get(f"/v1/models/{MODEL}/compare").json()
        assert [v["version"] for v in before["versions"]] == ["1", "2"]
        assert {infer(http)[0] for _ in range(20)} == {"1"}

        # When the operator sends 10 % of traffic to version 2 and every prediction gets feedback
        routed = steward(stack, "models", "route", MODEL, "--weights", "1=90,2=10")
        assert routed["effective_weights"] == {"1": 90, "2": 10}
        time.sleep(IN_FORCE_S)
        answered = [infer(http) for _ in range(PREDICTIONS)]
        for n, (_version, request_id) in enumerate(answered):
            feedback = http.post("/v1/feedback", json={"request_id": request_id, "label": n % 2})
            assert feedback.status_code == 200, feedback.text
        to_two = sum(version == "2" for version, _ in answered)
        assert 3 <= to_two <= 30, to_two  # 15 expected; about 4 sigma either way

        # And shadows version 2 with all traffic on 1: nobody gets version 2's answer
        steward(stack, "models", "route", MODEL, "--weights", "1=100", "--shadow", "2")
        time.sleep(IN_FORCE_S)
        assert {infer(http)[0] for _ in range(30)} == {"1"}

        # Then the comparison shows both versions' serving, quality and shadow figures
        compared = http.get(f"/v1/models/{MODEL}/compare", params={"versions": "1,2"}).json()
        one, two = compared["versions"]
        assert one["serving"]["calls"] >= PREDICTIONS - to_two and two["serving"]["calls"] >= to_two
        assert one["serving"]["latency_p99_ms"] is not None and one["serving"]["error_rate"] == 0.0
        assert two["serving"]["shadow"]["calls"] >= 1 and two["serving"]["shadow"]["rows_compared"] >= 1
        assert one["quality"]["n"] >= PREDICTIONS - to_two and two["quality"]["n"] >= to_two
        page = http.get(f"/v1/models/{MODEL}/compare", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<svg" in page.text and "shadow agreement" in page.text

        # When version 2 is promoted, then every unpinned request gets it within the bound
        steward(stack, "models", "promote", MODEL, "2")
        assert wait_for_version(http, "2") <= IN_FORCE_S + 3
        # And a rollback brings version 1 back the same way
        rolled = steward(stack, "models", "rollback", MODEL)
        assert rolled["default_version"] == "1" and rolled["effective_weights"] == {"1": 1}
        assert wait_for_version(http, "1") <= IN_FORCE_S + 3

        # And the card tells the story: promoted, then rolled back, with who and why
        card = http.get(f"/v1/models/{MODEL}/card").json()
        events = [(e["event"], e["version"], e["reason"]) for e in card["history"][:2]]
        assert events == [("rolled_back", "1", "incident"), ("promoted", "2", "release")]
        steward(stack, "models", "route", MODEL, "--no-shadow")
