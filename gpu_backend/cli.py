"""`python -m gpu_backend serve ...`: the container entry point (SageMaker runs `<image> serve`).

SIGTERM starts a drain instead of uvicorn's immediate shutdown: readiness goes false, new inference
requests get 503 while the listener stays open (so load balancers see "not ready" rather than
connection errors), in-flight requests finish, then the process exits 0. A second SIGTERM/SIGINT
exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Generator, Sequence
from pathlib import Path

import uvicorn

from gpu_backend.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, Settings

log = logging.getLogger("gpu_backend")

#: CPython's GIL switch interval while serving (see `serve`).
GIL_SWITCH_INTERVAL_S = 0.0005


class DrainingServer(uvicorn.Server):
    """uvicorn server whose signal handling runs the data plane's drain first."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings
        self._drain_task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        if self._drain_task is not None:
            log.warning("second signal %s: exiting without waiting", signal.Signals(sig).name)
            self.should_exit = True
            self.force_exit = True
            return
        log.info("%s received: draining", signal.Signals(sig).name)
        self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        app = self.config.loaded_app
        plane = getattr(getattr(getattr(app, "app", app), "state", None), "dataplane", None)
        # uvicorn may wrap the app (proxy headers middleware); find the Starlette state through it.
        inner = app
        while plane is None and hasattr(inner, "app"):
            inner = inner.app
            plane = getattr(getattr(inner, "state", None), "dataplane", None)
        if plane is not None:
            await plane.drain(self.settings.drain_timeout_s)
            if self.settings.drain_grace_s > 0:
                await asyncio.sleep(self.settings.drain_grace_s)
        self.should_exit = True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gpu_backend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the inference server")
    serve.add_argument(
        "--model-repository", type=Path, default=None,
        help="model repository directory (default: $STEWARD_MODEL_REPOSITORY or /opt/ml/model)",
    )  # fmt: skip
    serve.add_argument("--host", default=None, help="bind address (default 0.0.0.0)")
    serve.add_argument(
        "--port", type=int, default=None, help=f"port (default $SAGEMAKER_BIND_TO_PORT or {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        help=f"request body limit (default {DEFAULT_MAX_BODY_BYTES})",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="must be 1: batching needs one process per device"
    )
    serve.add_argument("--no-batching", action="store_true", default=None, help="force max_batch_size=1")
    serve.add_argument("--fp16", action="store_true", default=None, help="use the fp16 graph on CUDA")
    serve.add_argument("--cpu", action="store_true", help="ignore CUDA even when available")
    serve.add_argument(
        "--intra-op-threads", type=int, default=None, help="ORT threads per session replica (0 = auto)"
    )
    serve.add_argument(
        "--instances", type=int, default=None,
        help="batches in flight per model, one session replica each (0 = auto: 2)",
    )  # fmt: skip
    serve.add_argument(
        "--ort-spinning", action="store_true", default=None, help="let idle ORT threads spin (ORT default)"
    )
    serve.add_argument(
        "--drain-timeout", type=float, default=None, help="seconds to wait for in-flight requests"
    )
    serve.add_argument("--drain-grace", type=float, default=None, help="seconds to stay up after the drain")
    serve.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    return parser


def settings_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    port = args.port
    if port is None and env.get("SAGEMAKER_BIND_TO_PORT"):
        port = int(env["SAGEMAKER_BIND_TO_PORT"])
    return Settings.from_env(
        env,
        model_repository=args.model_repository,
        host=args.host,
        port=port,
        max_body_bytes=args.max_body_bytes,
        no_batching=args.no_batching,
        fp16=args.fp16,
        use_gpu=False if args.cpu else None,
        intra_op_threads=args.intra_op_threads,
        instances=args.instances,
        ort_spinning=args.ort_spinning,
        drain_timeout_s=args.drain_timeout,
        drain_grace_s=args.drain_grace,
        log_level=args.log_level,
    )


def serve(settings: Settings) -> None:
    from gpu_backend.server import create_app

    # An ORT thread whose run has finished needs the GIL back to hand its batch over; under load the
    # event loop holds the GIL while it parses requests, and CPython's default 5 ms switch interval
    # leaves that instance idle meanwhile. 0.5 ms measured ~8 % more throughput at c=32 on the
    # 2-core box (A/B of two servers, alternating rounds; docs/benchmarks.md).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # nothing here reads the client address; saves a middleware per request
        log_level=settings.log_level,
        timeout_keep_alive=75,  # longer than typical load balancer idle timeouts (60 s)
        backlog=2048,
        server_header=False,
    )
    DrainingServer(config, settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        if args.workers != 1:
            print(
                "--workers must be 1: each process batches for its own device; run more containers",
                file=sys.stderr,
            )
            return 2
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            print(f"invalid setting: {exc}", file=sys.stderr)
            return 2
        serve(settings)
        return 0
    return 2
