"""A stalled DynamoDB (accepts the connection, never answers) fails fast, not after 20 s.

The stall is a loopback socket that accepts and then stays silent, i.e. what a paused moto or a
browned-out endpoint looks like to botocore. Every wait is bounded; the socket closes at the end.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.aws import reset_clients
from steward.adapters.fairness_store import DynamoFairnessStore
from steward.adapters.key_store import DynamoKeyStore
from steward.adapters.policy_store import DynamoPolicyStore
from steward.adapters.registry_store import DynamoRegistryStore
from steward.audit.chain import AuditChain
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from tests.fakes import FakeTransport, InMemoryRegistryStore, demo_model

pytestmark = pytest.mark.integration
REGION = "us-east-1"
PEPPER = "stall-test-pepper-0123456789abcdef"
CHAIN = AuditChain(PEPPER.encode)
#: API Gateway gives up at 29 s; the audit write (try, retry, correction) must fit well inside.
AUDIT_BUDGET_S = 5.0
#: Scheduling slack on a loaded 2-core machine (the bounds themselves are asserted exactly on the
#: clients' configuration in test_every_table_client_is_bounded).
SLACK_S = 2.0


@pytest.fixture
def stalled_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    reset_clients()
    yield endpoint
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()
    reset_clients()


def _record() -> dict[str, object]:
    return {"tenant_id": "t", "sk": "2030-01-01T00:00:00.000Z#r1", "request_id": "r1", "status": 200}


def _seconds_to_fail(call: object) -> float:
    """Seconds until ``call`` fails against the stalled endpoint (clients are built beforehand:
    creating a boto3 client is not what the bound is about)."""
    assert callable(call)
    t0 = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017 - any botocore failure; the point is how fast
        call()
    return time.perf_counter() - t0


def test_a_stalled_audit_table_fails_the_write_and_the_correction_fast(stalled_endpoint: str) -> None:
    store = DynamoAuditStore("steward-test-audit", region=REGION, chain=CHAIN)
    assert store.client is not None
    put_s = _seconds_to_fail(lambda: store.put(_record()))
    correct_s = _seconds_to_fail(lambda: store.correct(_record()))
    print(f"stalled audit table: put failed after {put_s:.2f} s, correction after {correct_s:.2f} s")
    assert put_s + correct_s < AUDIT_BUDGET_S + SLACK_S


def test_a_stalled_audit_table_answers_the_caller_503_within_the_budget(stalled_endpoint: str) -> None:
    registry = InMemoryRegistryStore()
    entry, version = demo_model("all-minilm-l6-v2")
    registry.put_entry(entry)
    registry.put_version(version)
    router = Router({"http": FakeTransport()}, RouterPolicy())
    audit = DynamoAuditStore("steward-test-audit", region=REGION, chain=CHAIN)
    assert audit.client is not None
    use_cases = compose_api(Registry(registry), router, audit)
    app = create_app(ApiSettings(stage="test", pepper=PEPPER), use_cases)
    with TestClient(app) as client:
        t0 = time.perf_counter()
        response = client.get("/v1/models")  # no authorizer context: a 401 that must be audited
        elapsed = time.perf_counter() - t0
    print(f"stalled audit table: caller answered {response.status_code} after {elapsed:.2f} s")
    assert (response.status_code, response.json()["code"]) == (503, "audit.unavailable")
    assert elapsed < AUDIT_BUDGET_S + SLACK_S


def test_a_stalled_table_on_the_request_path_fails_within_bounds(stalled_endpoint: str) -> None:
    keys = DynamoKeyStore("steward-test-api-keys", region=REGION)
    assert keys.client is not None
    seconds = _seconds_to_fail(lambda: keys.get("k3y1d0000001"))
    print(f"stalled key table: lookup failed after {seconds:.2f} s")
    assert seconds < 6.0 + SLACK_S  # 2 tries x (1 s connect + 2 s read)


@pytest.mark.parametrize(
    "store",
    [DynamoKeyStore, DynamoRegistryStore, DynamoPolicyStore, DynamoFairnessStore, DynamoAuditStore],
)
def test_every_table_client_is_bounded(store: type, stalled_endpoint: str) -> None:
    extra = {"chain": CHAIN} if store is DynamoAuditStore else {}
    config = store("t", region=REGION, **extra).client.meta.config
    worst_s = config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout)
    assert worst_s <= 6.0, (store.__name__, config.retries, config.connect_timeout, config.read_timeout)
