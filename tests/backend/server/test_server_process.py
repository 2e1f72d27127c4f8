"""The real process: `python -m gpu_backend serve`, SIGTERM drain and queue-full over TCP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from server_helpers import READY_WAIT_S, text_request
from tiny_models import write_embedding

from gpu_backend.cli import build_parser, main, settings_from_args
from gpu_backend.settings import Settings

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[3]
HOLD_MS = 4000  # queue delay that keeps a lone request in flight while the test acts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, repository: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "gpu_backend", "serve", "--model-repository", str(repository),
               "--host", "127.0.0.1", "--port", str(self.port), "--cpu", "--intra-op-threads", "1",
               *extra]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early: {self.output()}")
            try:
                if self.http.get("/v2/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready")

    def queue_depth(self) -> float:
        text = self.http.get("/metrics").text
        match = re.search(r'steward_backend_queue_depth\{model="tiny-embed",version="1"\} (\S+)', text)
        return float(match.group(1)) if match else 0.0

    def wait_queue_depth(self, depth: int) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while self.queue_depth() < depth:
            if time.monotonic() > deadline:
                raise AssertionError(f"queue never reached {depth}")
            time.sleep(0.01)

    def output(self) -> str:
        if self.proc.stdout is None:
            return ""
        return self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def holding_repository(tmp_path: Path) -> Path:
    write_embedding(
        tmp_path, max_batch_size=8, max_queue_delay_ms=HOLD_MS, max_queue_size=2, request_timeout_ms=60_000
    )
    return tmp_path


@pytest.fixture
def server(holding_repository: Path) -> Iterator[Server]:
    srv = Server(holding_repository)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _infer(url: str, text: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as http:
        return http.post("/v2/models/tiny-embed/infer", json=text_request([text]))


def test_sigterm_drains_refuses_new_work_finishes_in_flight_and_exits_zero(server: Server) -> None:
    # Given a request in flight (held in the batch queue)
    with ThreadPoolExecutor(1) as pool:
        in_flight: Future[httpx.Response] = pool.submit(_infer, server.url, "hello world")
        server.wait_queue_depth(1)
        # When the process gets SIGTERM
        server.proc.send_signal(signal.SIGTERM)
        # Then readiness turns false while the listener stays open
        deadline = time.monotonic() + READY_WAIT_S
        while server.http.get("/v2/health/ready").status_code == 200:
            assert time.monotonic() < deadline, "readiness never turned false"
            time.sleep(0.01)
        assert server.http.get("/ping").status_code == 503
        # And new inference is refused with 503
        refused = server.http.post("/v2/models/tiny-embed/infer", json=text_request(["late"]))
        assert refused.status_code == 503
        assert "draining" in refused.json()["error"]
        # And the in-flight request still completes
        response = in_flight.result(timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [1, 8]
    # And the process exits cleanly
    assert server.proc.wait(timeout=30) == 0


def test_queue_full_is_503_over_tcp_and_queued_requests_still_complete(server: Server) -> None:
    # Given two requests filling a queue of two
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(_infer, server.url, "hello") for _ in range(2)]
        server.wait_queue_depth(2)
        # When a third arrives
        response = server.http.post("/v2/models/tiny-embed/infer", json=text_request(["one too many"]))
        # Then it gets 503 with a clear error
        assert response.status_code == 503
        assert "queue is full" in response.json()["error"]
        # And the queued ones complete
        assert [f.result(timeout=60).status_code for f in held] == [200, 200]


def test_serve_is_accepted_as_the_first_argument_and_workers_must_be_one() -> None:
    # Given the container's argument vector (SageMaker runs `<image> serve`)
    args = build_parser().parse_args(["serve"])
    # When settings are built from an empty environment
    settings = settings_from_args(args, env={})
    # Then the SageMaker defaults apply
    assert (str(settings.model_repository), settings.port, settings.host) == (
        "/opt/ml/model",
        8080,
        "0.0.0.0",
    )
    # And the environment and SAGEMAKER_BIND_TO_PORT are honoured, flags win over both
    env = {
        "STEWARD_MODEL_REPOSITORY": "/models",
        "SAGEMAKER_BIND_TO_PORT": "9000",
        "STEWARD_BACKEND_NO_BATCHING": "1",
    }
    from_env = settings_from_args(build_parser().parse_args(["serve"]), env=env)
    assert (str(from_env.model_repository), from_env.port, from_env.no_batching) == ("/models", 9000, True)
    flagged = settings_from_args(build_parser().parse_args(["serve", "--port", "9100"]), env=env)
    assert flagged.port == 9100
    # And more than one worker is refused (batching needs one process)
    assert main(["serve", "--workers", "2"]) == 2


def test_an_invalid_environment_value_is_refused_at_start() -> None:
    # Given a malformed boolean in the environment
    env = {**os.environ, "STEWARD_BACKEND_NO_BATCHING": "maybe"}
    # When the server starts
    proc = subprocess.run(
        [sys.executable, "-m", "gpu_backend", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    # Then it exits 2 naming the variable
    assert proc.returncode == 2
    assert b"STEWARD_BACKEND_NO_BATCHING" in proc.stderr


def test_instances_default_to_two_with_the_cores_shared_out_and_can_be_set() -> None:
    # Given no setting on a machine with several cores
    auto = Settings(model_repository=Path("/models"))
    cores = os.cpu_count() or 1
    # Then two batches run at once per model, each replica on its share of the cores on the CPU,
    # and on ORT's own default on CUDA
    assert auto.model_instances == min(2, cores)
    assert auto.session_threads(on_gpu=False) == max(1, cores // auto.model_instances)
    assert auto.session_threads(on_gpu=True) == 0
    # And the flag and the environment set it, the flag winning
    env = {"STEWARD_BACKEND_INSTANCES": "3", "STEWARD_BACKEND_INTRA_OP_THREADS": "2"}
    from_env = settings_from_args(build_parser().parse_args(["serve"]), env=env)
    assert (from_env.model_instances, from_env.session_threads(on_gpu=False)) == (3, 2)
    flagged = settings_from_args(build_parser().parse_args(["serve", "--instances", "1"]), env=env)
    assert flagged.model_instances == 1
    # And a negative count is refused
    with pytest.raises(ValueError, match="instances"):
        Settings(instances=-1)
