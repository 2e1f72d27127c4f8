"""``python -m scripts.local up``: run Steward locally until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from scripts.local.stack import LocalStack, LocalStackConfig


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.local")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start moto, the backend and the gateway; Ctrl-C stops all")
    up.add_argument("--model-repository", type=Path, default=Path("models"))
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--backend-port", type=int, default=0)
    up.add_argument("--moto-port", type=int, default=0)
    up.add_argument("--state-file", type=Path, default=Path(".steward/local.json"))
    up.add_argument("--log-dir", type=Path, default=Path(".steward/logs"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not (args.model_repository / "all-minilm-l6-v2").is_dir():
        print(
            f"no model repository at {args.model_repository}: run `make models` "
            "(or `python -m gpu_backend.build --output models`) first",
            file=sys.stderr,
        )
        return 2
    stack = LocalStack(
        LocalStackConfig(
            model_repository=args.model_repository,
            host=args.host,
            port=args.port,
            backend_port=args.backend_port,
            moto_port=args.moto_port,
            state_file=args.state_file,
            log_dir=args.log_dir,
        )
    )
    print("starting moto server, inference backend and gateway ...", flush=True)
    # uvicorn handles SIGINT/SIGTERM itself, then re-raises the signal once it has shut down.
    # Turning SIGTERM into KeyboardInterrupt (as SIGINT already is) means the children are always
    # stopped below, whichever signal arrives and whenever.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        state = stack.start()
        stack.start_event_pump()  # batch jobs: the worker's handler, as Lambda's SQS source would
        import uvicorn

        from scripts.local.app import local_gateway_app

        app = local_gateway_app()
        server = uvicorn.Server(
            uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
        )

        def announce_when_listening() -> None:
            # The state file is the "ready" signal scripts and tests wait for: write it only
            # once the gateway accepts connections.
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                stack.write_state()
                print(
                    _banner(
                        state.api_url,
                        state.backend_url,
                        state.demo_api_key,
                        state.demo_admin_key,
                        args.state_file,
                    ),
                    flush=True,
                )

        threading.Thread(target=announce_when_listening, daemon=True).start()
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping ...", flush=True)
        stack.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _banner(api_url: str, backend_url: str, key: str, admin_key: str, state_file: Path) -> str:
    return f"""
Steward is running.
  gateway : {api_url}   (OpenAPI: {api_url}/openapi.json)
  backend : {backend_url}
  demo key: {key}
  admin key: {admin_key}   (admin scope for tenant "demo": /admin/policies/demo)
  state   : {state_file}

Try:
  curl -s {api_url}/v1/embeddings -H "Authorization: Bearer {key}" \\
       -H "Content-Type: application/json" \\
       -d '{{"model": "all-minilm-l6-v2", "input": "Steward keeps personal data out of models."}}'

Ctrl-C stops everything.
"""


if __name__ == "__main__":
    sys.exit(main())
