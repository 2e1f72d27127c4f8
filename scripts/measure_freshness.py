"""Measure how long a change takes to be in force in a warm gateway process (promise: <= 5 s).

Four changes, each written straight to the tables the way another process (the ``steward`` CLI,
an admin route on another Lambda instance) would, never through the measured process's caches:

* revoke   - a key that just answered 200 is revoked; poll ``GET /v1/models`` until 401
* retire   - an approved version whose card just answered 200 is retired; poll until 404
* approve  - a pending version whose card just answered 404 is approved; poll until 200
* promote  - that version is promoted; poll until an unpinned card request gets it
* rollback - the model is rolled back; poll until an unpinned card request gets the old default
* policy   - a tenant whose ``/v1/redact`` just answered 200 stores a policy blocking e-mail
             addresses; poll until 400 ``pii.blocked``

Each change lands right after the gateway cached the item (the worst case), and the poll is
bounded (``--limit-s``, every ``--interval-s``). The probe uses its own tenant and model
(``freshness-probe``), so a running stack's demo data is left alone.

Usage:
  .venv/bin/python scripts/measure_freshness.py            # in-process moto server + gateway
  .venv/bin/python scripts/measure_freshness.py --state-file .steward/local.json   # `make up`

Exit status 1 when any change took longer than 5 s (or never showed within the limit).
Loopback only: the moto server and the gateway listen on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

BOUND_S = 5.0
PROBE = "freshness-probe"
CARD = {
    "description": "freshness probe",
    "intended_use": "measuring cache freshness",
    "out_of_scope_uses": "anything real",
    "training_data": "none",
    "evaluation": {"note": "not evaluated (probe)"},
    "fairness": {"note": "not assessed (probe)"},
    "limitations": "a probe",
    "owner": "platform",
}
DIGEST = "sha256:" + "0" * 64
LOCAL_AWS = {
    "AWS_ACCESS_KEY_ID": "steward-local",
    "AWS_SECRET_ACCESS_KEY": "steward-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], bool], *, limit_s: float, interval_s: float) -> float | None:
    """Seconds until ``check()`` holds (checked at once, then every ``interval_s``); None past
    ``limit_s``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > limit_s:
            return None
        time.sleep(interval_s)


@contextmanager
def in_process_stack() -> Iterator[str]:
    """A moto server and the local gateway app (uvicorn), both on loopback; yields the API URL."""
    from moto.server import ThreadedMotoServer

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    os.environ.update(
        {
            **LOCAL_AWS,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "STEWARD_STAGE": "local",
            "STEWARD_BACKEND_URL": "http://127.0.0.1:9",  # no backend call is measured
            "STEWARD_PRIVACY_DEEP_MODEL": "",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Steward",
            "POWERTOOLS_LOG_LEVEL": "WARNING",  # the report is the output, not one line a request
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    server: Any = None
    thread: threading.Thread | None = None
    try:
        import boto3
        import uvicorn
        from steward.resources import ResourceNames

        from scripts.local.app import local_gateway_app
        from scripts.local.provision import provision

        provision(ResourceNames(stage="local"), boto3.session.Session())
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                local_gateway_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        moto.stop()


@contextmanager
def running_stack(state_file: Path) -> Iterator[str]:
    """The stack `make up` started: its API URL, with this process pointed at its moto server."""
    state = json.loads(state_file.read_text())
    settings = state.get("settings") or {}
    os.environ.update({**LOCAL_AWS, "AWS_ENDPOINT_URL": state["aws_endpoint_url"]})
    os.environ.setdefault("STEWARD_STAGE", str(settings.get("stage") or "local"))
    yield str(state["api_url"])


def measure(api_url: str, *, limit_s: float, interval_s: float) -> dict[str, float | None]:
    """Seed the probe, make each change right after the gateway cached the item, time each."""
    from steward import admin
    from steward.adapters.policy_store import DynamoPolicyStore
    from steward.privacy.policies import PolicyBook
    from steward.settings import AdminSettings, ApiSettings

    settings = AdminSettings()  # what the CLI writes to; the api's policy table from the same env
    policies_table = ApiSettings().policies_table
    target = {"kind": "http", "url": "http://127.0.0.1:9"}
    suffix = str(int(time.time()))  # versions unique per run: a stack may be measured twice
    v_retire, v_approve = f"r{suffix}", f"a{suffix}"
    common: dict[str, Any] = {"target": target, "task": "sentence-embedding", "artifact_digest": DIGEST}
    # A stable default version keeps the probe model online while the others change state.
    admin.register_model(PROBE, "base", approval="approved", card=CARD, make_default=True, **common)
    admin.register_model(PROBE, v_retire, approval="approved", card=CARD, make_default=False, **common)
    admin.register_model(PROBE, v_approve, approval="pending", card=CARD, make_default=False, **common)
    token, record = admin.create_api_key(PROBE, models=[PROBE], name="freshness probe")
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, float | None] = {}

    with httpx.Client(base_url=api_url, timeout=10) as http:

        def status(method: str, path: str, **kwargs: Any) -> int:
            return http.request(method, path, headers=auth, **kwargs).status_code

        def card(version: str) -> int:
            return status("GET", f"/v1/models/{PROBE}/card", params={"version": version})

        def redact() -> httpx.Response:
            return http.post("/v1/redact", headers=auth, json={"text": "write to probe@example.com"})

        def wait_for(check: Callable[[], bool]) -> float | None:
            return poll(check, limit_s=limit_s, interval_s=interval_s)

        # Retire: the version is served (and cached) now
        assert card(v_retire) == 200, "probe version not served"
        admin.set_approval(PROBE, v_retire, "retired", settings=settings)
        results["retire"] = wait_for(lambda: card(v_retire) == 404)

        # Approve: the pending version is refused (and that is cached) now
        assert card(v_approve) == 404, "pending version served"
        admin.set_approval(PROBE, v_approve, "approved", settings=settings)
        results["approve"] = wait_for(lambda: card(v_approve) == 200)

        # Promote, then roll back: the version unpinned requests get follows each within the bound
        def routed() -> str:
            return str(http.get(f"/v1/models/{PROBE}/card", headers=auth).json().get("version"))

        assert routed() == "base", "probe default not served"
        lifecycle = admin.model_lifecycle(settings=settings)
        lifecycle.promote(PROBE, v_approve, actor="probe")
        results["promote"] = wait_for(lambda: routed() == v_approve)
        lifecycle.rollback(PROBE, actor="probe")
        results["rollback"] = wait_for(lambda: routed() == "base")

        # Policy: the built-in policy redacts the address now; a stored one blocks it
        assert redact().status_code == 200, "redact failed before the policy change"
        book = PolicyBook(DynamoPolicyStore(policies_table, region=settings.region), ttl_s=0)
        book.save(PROBE, None, {"entities": {"EMAIL_ADDRESS": {"operator": "block"}}}, author="probe")
        results["policy"] = wait_for(lambda: redact().status_code == 400)

        # Revoke last (the probe key is needed above): it answers now, then is revoked
        assert status("GET", "/v1/models") == 200, "probe key refused before revocation"
        admin.revoke_api_key(record.key_id, settings=settings)
        results["revoke"] = wait_for(lambda: status("GET", "/v1/models") == 401)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-file", type=Path, help="measure the stack `make up` started")
    parser.add_argument("--limit-s", type=float, default=45.0, help="give up on a change after this")
    parser.add_argument("--interval-s", type=float, default=0.1, help="poll interval")
    args = parser.parse_args(argv)
    stack = running_stack(args.state_file) if args.state_file else in_process_stack()
    # The in-process gateway prints its metrics (EMF) to stdout: keep stdout for the report.
    with contextlib.redirect_stdout(sys.stderr), stack as api_url:
        results = measure(api_url, limit_s=args.limit_s, interval_s=args.interval_s)
    ok = all(seconds is not None and seconds <= BOUND_S for seconds in results.values())
    report = {
        "target": "local stack" if args.state_file else "in-process moto server + gateway",
        "bound_s": BOUND_S,
        "seconds": {k: None if v is None else round(v, 2) for k, v in results.items()},
        "within_bound": ok,
    }
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
