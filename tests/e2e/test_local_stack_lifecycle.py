"""`make up` stops everything it started on Ctrl-C and can be run again."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.e2e.conftest import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _port_open(url: str) -> bool:
    parsed = urlparse(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parsed.hostname or "127.0.0.1", parsed.port or 80)) == 0


def test_ctrl_c_stops_everything_and_a_second_run_works(tmp_path: Path) -> None:
    for run in ("first", "second"):
        # Given a running local stack
        stack = start_stack(tmp_path / run)
        urls = [stack.state["api_url"], stack.state["backend_url"], stack.state["aws_endpoint_url"]]
        assert httpx.get(f"{stack.api_url}/health", timeout=10).status_code == 200
        # When the user presses Ctrl-C
        code = stack.stop()
        # Then it exits cleanly, its ports are closed and the state file is gone
        assert code == 0, stack.log_file.read_text(errors="replace")[-3000:]
        assert not any(_port_open(url) for url in urls)
        assert not stack.state_file.exists()
