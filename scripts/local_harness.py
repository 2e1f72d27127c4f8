"""Shared by the load and fault scripts: the local stack as `make up` runs it, and a load loop.

Everything here talks to 127.0.0.1 only, every loop is bounded in time, and the stack (with any
process a script restarted) is stopped on exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
MINILM = "all-minilm-l6-v2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    workdir: Path
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.state["api_url"])

    @property
    def key(self) -> str:
        return str(self.state["demo_api_key"])

    def child(self, marker: str) -> int:
        """Pid of the stack's child whose command line contains ``marker`` (Linux /proc)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and marker in cmdline:
                return int(entry.name)
        raise LookupError(f"no child process matching {marker!r}")

    @staticmethod
    def command_of(pid: int) -> tuple[list[str], dict[str, str]]:
        """The argv and environment of a live process, to start it again after a kill."""
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        env_items = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        env = dict(item.decode().split("=", 1) for item in env_items if b"=" in item)
        return [a.decode() for a in argv], env

    def spawn(self, argv: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
        """Start a process that this stack stops on exit (e.g. a restarted child)."""
        log = (self.workdir / log_name).open("ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.extra.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.extra:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def local_stack(workdir: Path, models: Path, timeout_s: float = 300) -> Iterator[Stack]:
    """``python -m scripts.local up`` in a child process, on free ports; stopped on exit."""
    if not (models / MINILM).is_dir():
        sys.exit(f"no model repository at {models}: run `make models` first")
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "local.json"
    state_file.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "scripts.local", "up", "--model-repository", str(models),
        "--port", str(free_port()), "--state-file", str(state_file), "--log-dir", str(workdir / "logs"),
    ]  # fmt: skip
    log = (workdir / "up.log").open("wb")
    process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"local stack did not start; see {workdir / 'up.log'}")
        time.sleep(0.25)
    stack = Stack(process, json.loads(state_file.read_text()), workdir)
    try:
        yield stack
    finally:
        stack.stop()


@dataclass(frozen=True)
class Sample:
    started: float  # monotonic seconds
    latency_s: float
    status: int  # 0: no HTTP answer (connection error or client timeout)
    code: str


Request = Callable[[httpx.Client], httpx.Response]


def run_load(
    url: str,
    key: str,
    request: Request,
    *,
    workers: int,
    duration_s: float,
    timeout_s: float = 35.0,
    stop: threading.Event | None = None,
) -> list[Sample]:
    """``workers`` threads, each sending ``request`` back to back for ``duration_s`` seconds
    (or until ``stop`` is set)."""
    samples: list[Sample] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration_s
    stop = stop or threading.Event()

    def worker() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=timeout_s) as client:
            while time.monotonic() < stop_at and not stop.is_set():
                t0 = time.monotonic()
                try:
                    response = request(client)
                    status, code = response.status_code, _code(response)
                except httpx.HTTPError as error:
                    status, code = 0, type(error).__name__
                sample = Sample(t0, time.monotonic() - t0, status, code)
                with lock:
                    samples.append(sample)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration_s + timeout_s + 10)
    return samples


def _code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return "ok"
    try:
        return str(response.json().get("code", "?"))
    except ValueError:
        return "not-json"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarise(samples: list[Sample], duration_s: float) -> dict[str, Any]:
    latencies = sorted(s.latency_s * 1000 for s in samples)
    statuses = Counter(f"{s.status} {s.code}" for s in samples)
    return {
        "requests": len(samples),
        "per_s": round(len(samples) / duration_s, 1) if duration_s > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else float("nan"),
        "errors": sum(1 for s in samples if s.status != 200),
        "server_errors": sum(1 for s in samples if s.status == 0 or s.status >= 500),
        "statuses": dict(statuses.most_common()),
    }


def env_info() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
