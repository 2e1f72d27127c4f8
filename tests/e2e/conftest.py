"""End-to-end fixtures: the local stack exactly as ``make up`` starts it, in a child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.local.processes import free_port

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("STEWARD_MODEL_REPOSITORY", REPO / "models"))


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    state: dict[str, str]
    state_file: Path
    log_file: Path

    @property
    def api_url(self) -> str:
        return self.state["api_url"]

    @property
    def key(self) -> str:
        return self.state["demo_api_key"]

    def stop(self) -> int:
        """Ctrl-C, as a user would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def start_stack(workdir: Path, timeout_s: float = 300) -> RunningStack:
    if not (MODELS / "all-minilm-l6-v2").is_dir():
        pytest.fail(f"model repository missing at {MODELS}: run `make models`")
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "local.json"
    log_file = workdir / "up.log"
    argv = [
        sys.executable, "-m", "scripts.local", "up",
        "--model-repository", str(MODELS),
        "--port", str(free_port()),
        "--state-file", str(state_file),
        "--log-dir", str(workdir / "logs"),
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"local stack did not start:\n{log_file.read_text(errors='replace')[-4000:]}")
        time.sleep(0.25)
    return RunningStack(process, json.loads(state_file.read_text()), state_file, log_file)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()
