"""The Batch API wired to in-memory ports, with the worker behind a simulated SQS queue.

The app (routes, middleware, authorizer) and the worker share one set of ports, as the api and
worker functions share tables, bucket and queue. ``deliver`` plays Lambda's SQS event source:
jobs go to the worker's real handler (`functions.batch_worker.processing`) in Lambda's event
shape, up to ten per event, and the ones named in ``batchItemFailures`` are delivered again.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.testclient import TestClient
from steward import admin
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.batches.sealing import Seals
from steward.batches.service import BatchLimits
from steward.bootstrap import Api, BatchPorts, Worker, compose_api, compose_worker
from steward.catalog.registry import Registry, Target
from steward.limits.admission import RateLimiter
from steward.limits.plan import Plan
from steward.privacy.guard import PrivacyGuard
from steward.privacy.policies import PolicyBook
from steward.review.service import ReviewService
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings
from steward.usage_policy.book import UsagePolicyBook
from steward.usage_policy.engine import UsageGuard

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from functions.batch_worker.processing import make_handler
from scripts.local.api_gateway import with_authorizer
from scripts.local.event_pump import LocalLambdaContext, failed_ids, lambda_sqs_event
from tests.fakes import (
    FakeEncryptor,
    FakeTransport,
    InMemoryAuditStore,
    InMemoryBatchStore,
    InMemoryControlStore,
    InMemoryJobQueue,
    InMemoryKeyStore,
    InMemoryLimitStore,
    InMemoryObjectStore,
    InMemoryPolicyStore,
    InMemoryRegistryStore,
    InMemoryReviewStore,
    InMemoryUsagePolicyStore,
    demo_model,
    in_memory_idempotency,
)

PEPPER = b"unit-test-pepper-0123456789abcdef"
MINILM, CREDIT = "all-minilm-l6-v2", "credit-risk"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:steward-test-batch-jobs"
DIM = 8


def text_vector(text: str) -> list[float]:
    """A deterministic unit vector per text (so answers are comparable across paths)."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b - 128.0 for b in digest[:DIM]]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def backend(target: Target, request: BackendRequest) -> BackendResponse:
    """Embeddings of the (redacted) texts it is sent; probabilities for the tabular model."""
    tensor = request.payload["inputs"][0]
    if request.model == CREDIT:
        rows = len(tensor["data"]) // 2 or 1
        data = [0.3, 0.7] * rows
        out = {"name": "probabilities", "datatype": "FP32", "shape": [rows, 2], "data": data}
    else:
        texts = tensor["data"]
        out = {
            "name": "embedding",
            "datatype": "FP32",
            "shape": [len(texts), DIM],
            "data": [v for t in texts for v in text_vector(t)],
        }
    body = {"model_name": request.model, "model_version": request.version, "outputs": [out]}
    return BackendResponse(200, json.dumps(body).encode())


@dataclass
class Rig:
    client: TestClient
    api: Api
    queue: InMemoryJobQueue
    objects: InMemoryObjectStore
    store: InMemoryBatchStore
    transport: FakeTransport
    audit: InMemoryAuditStore
    keys: InMemoryKeyStore
    limits: InMemoryLimitStore
    controls: InMemoryControlStore
    reviews: InMemoryReviewStore
    worker: Worker
    handler: Any
    settings: ApiSettings
    counted: Counter[str] = field(default_factory=Counter)
    receives: dict[str, int] = field(default_factory=dict)
    dead: list[dict[str, Any]] = field(default_factory=list)

    def key(self, tenant: str = "acme", models: tuple[str, ...] = ("*",), **kwargs: Any) -> str:
        token, _ = admin.create_api_key(
            tenant, models=models, settings=self.settings, store=self.keys, pepper=lambda: PEPPER, **kwargs
        )
        return token

    def sent_texts(self) -> list[str]:
        """Every text the backend was sent, in order, over all its calls."""
        return [
            str(t) for _, request, _ in self.transport.calls for t in request.payload["inputs"][0]["data"]
        ]

    def charged(self, tenant: str = "acme") -> int:
        """Requests charged to the tenant's counter of the current day."""
        return sum(
            requests
            for (owner, sk), (requests, _units) in self.limits.values.items()
            if owner == tenant and sk.startswith("d#") and sk.endswith("#tenant")
        )

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def upload(self, key: str, lines: list[Any], name: str = "requests.jsonl") -> str:
        content = b"".join(
            (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
        )
        answer = self.client.post(
            "/v1/files", headers=self.headers(key), files={"file": (name, content)}, data={"purpose": "batch"}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    def create(
        self, key: str, file_id: str, endpoint: str = "/v1/embeddings", **extra: Any
    ) -> dict[str, Any]:
        answer = self.client.post(
            "/v1/batches",
            headers=self.headers(key),
            json={"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def batch(self, key: str, batch_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/batches/{batch_id}", headers=self.headers(key))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def content(self, key: str, file_id: str) -> list[dict[str, Any]]:
        answer = self.client.get(f"/v1/files/{file_id}/content", headers=self.headers(key))
        assert answer.status_code == 200, answer.text
        return [json.loads(line) for line in answer.content.splitlines()]

    def event(self, jobs: list[dict[str, Any] | str]) -> tuple[dict[str, Any], list[str]]:
        """An SQS event of ``jobs`` (a str is sent as the raw body) and its message ids."""
        messages = []
        for job in jobs:
            body = job if isinstance(job, str) else json.dumps(job)
            message_id = str(uuid.uuid4())
            self.receives[body] = self.receives.get(body, 0) + 1
            messages.append(
                {
                    "MessageId": message_id,
                    "ReceiptHandle": f"rh-{message_id}",
                    "Body": body,
                    "Attributes": {"ApproximateReceiveCount": str(self.receives[body])},
                }
            )
        return lambda_sqs_event(messages, QUEUE_ARN, "us-east-1"), [m["MessageId"] for m in messages]

    def run_event(self, jobs: list[dict[str, Any] | str], timeout_s: float = 900) -> set[str]:
        """Deliver ``jobs`` as one SQS event; the message ids the handler reported failed."""
        event, _ = self.event(jobs)
        failed = failed_ids(self.handler(event, LocalLambdaContext(timeout_s)))
        assert failed is not None
        return failed

    def deliver(self, max_rounds: int = 50, max_receives: int = 5) -> None:
        """Run queued jobs (and what they queue) until none is left; a job failing
        ``max_receives`` times goes to ``dead`` (the DLQ)."""
        for _ in range(max_rounds):
            jobs = self.queue.take()
            if not jobs:
                return
            for start in range(0, len(jobs), 10):
                part = jobs[start : start + 10]
                event, ids = self.event(list(part))
                failed = failed_ids(self.handler(event, LocalLambdaContext(900)))
                assert failed is not None
                for job, message_id in zip(part, ids, strict=True):
                    if message_id in failed:
                        if self.receives[json.dumps(job)] >= max_receives:
                            self.dead.append(job)
                        else:
                            self.queue.sent.append(job)
        raise AssertionError("jobs still queued")


def build_rig(*, chunk_lines: int = 2, plan: Plan | None = None, max_lines: int = 100) -> Iterator[Rig]:
    settings = ApiSettings(stage="test", pepper=PEPPER.decode())
    registry = InMemoryRegistryStore()
    for entry, version in (demo_model(MINILM), demo_model(CREDIT, task="tabular-classification")):
        registry.put_entry(entry)
        registry.put_version(version)
    transport = FakeTransport(respond=backend)
    audit, keys, limits, controls = (
        InMemoryAuditStore(),
        InMemoryKeyStore(),
        InMemoryLimitStore(),
        InMemoryControlStore(),
    )
    store, objects, queue = InMemoryBatchStore(), InMemoryObjectStore(), InMemoryJobQueue()
    encryptor = FakeEncryptor()
    reviews = InMemoryReviewStore()  # flags go to the review queue, as the stage wires it
    ports = BatchPorts(
        store,
        objects,
        Seals(lambda tenant: encryptor),
        queue,
        BatchLimits(chunk_lines=chunk_lines, max_lines=max_lines),
    )
    api = compose_api(
        Registry(registry, ttl_s=0),
        Router(
            {"http": transport}, RouterPolicy(max_attempts=1, breaker_threshold=10**6), sleep=lambda _s: None
        ),
        audit,
        privacy=PrivacyGuard(PolicyBook(InMemoryPolicyStore(), ttl_s=0), pepper=lambda: PEPPER),
        rate_limiter=RateLimiter(limits, ttl_s=0, default_plan=plan or Plan()),
        controls=controls,
        controls_ttl_s=0,
        keys=KeyLifecycle(keys, lambda: PEPPER),
        usage=UsageGuard(UsagePolicyBook(InMemoryUsagePolicyStore(), ttl_s=0)),
        batches=ports,
        reviews=ReviewService(reviews, lambda tenant: encryptor, lambda: PEPPER),
    )
    worker = Worker(compose_worker(api, ports, keys, reserve_s=1.0), in_memory_idempotency())
    counted: Counter[str] = Counter()  # what the worker counts for operators
    authorizer = Authorizer(keys, lambda: PEPPER, ttl_s=0)
    app = with_authorizer(create_app(settings, api), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as client:
        yield Rig(
            client=client,
            api=api,
            queue=queue,
            objects=objects,
            store=store,
            transport=transport,
            audit=audit,
            keys=keys,
            limits=limits,
            controls=controls,
            reviews=reviews,
            worker=worker,
            handler=make_handler(lambda: worker, lambda name, value: counted.update({name: value})),
            counted=counted,
            settings=settings,
        )
