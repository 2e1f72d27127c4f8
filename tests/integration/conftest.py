"""Integration fixtures: a moto server (real boto3 wire path), tables from ResourceNames, and a
tiny in-process OIP backend over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from steward.adapters.aws import reset_clients
from steward.resources import ResourceNames, TableSpec

from scripts.local.provision import table_definition

STAGE = "test"
REGION = "us-east-1"
PEPPER = "integration-pepper-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_table(ddb: Any, spec: TableSpec) -> None:
    ddb.create_table(**table_definition(spec))
    if spec.ttl_attribute:
        ddb.update_time_to_live(
            TableName=spec.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    patch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "STEWARD_STAGE": STAGE,
    }.items():
        patch.setenv(name, value)
    patch.delenv("AWS_PROFILE", raising=False)
    reset_clients()
    names = ResourceNames(STAGE)
    ddb = boto3.client("dynamodb", region_name=REGION)
    for spec in names.tables:
        create_table(ddb, spec)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=names.pepper_secret, SecretString=PEPPER
    )
    yield endpoint
    server.stop()
    patch.undo()
    reset_clients()


@pytest.fixture(scope="session")
def names(moto_endpoint: str) -> ResourceNames:
    return ResourceNames(STAGE)


@pytest.fixture(scope="session")
def kms_key(moto_endpoint: str) -> str:
    """The stage's key, under the alias the functions and the CLI find it by (as provisioned)."""
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(Description="stage key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ResourceNames(STAGE).kms_alias, TargetKeyId=key_id)
    return str(key_id)


Reply = tuple[int, dict[str, Any] | bytes]


class FakeBackend:
    """An OIP v2 server on a free port; ``reply`` decides each answer, ``requests`` records them."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.reply: Callable[[str, dict[str, Any]], Reply] = self.embeddings
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                backend.requests.append((self.path, payload))
                status, body = backend.reply(self.path, payload)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def embeddings(path: str, payload: dict[str, Any]) -> Reply:
        n = payload["inputs"][0]["shape"][0]
        return 200, {
            "model_name": "all-minilm-l6-v2",
            "model_version": "1",
            "outputs": [
                {"name": "embedding", "datatype": "FP32", "shape": [n, 384], "data": [0.5] * (n * 384)}
            ],
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    fake = FakeBackend()
    yield fake
    fake.close()


@pytest.fixture
def serial_moto(names: ResourceNames, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto over the same backend, one request at a time, so each transaction is indivisible as in
    DynamoDB (moto's threaded server checks transaction conditions without a lock)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    server = make_server(
        "127.0.0.1", free_port(), DomainDispatcherApplication(create_backend_app), threaded=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    reset_clients()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    monkeypatch.undo()
    reset_clients()
