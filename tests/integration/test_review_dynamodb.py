"""The review queue against moto: items sealed with KMS data keys under the tenant's context (no
text in clear anywhere in the table, a blob that opens under no other tenant or item), the state
index and the id index, claims decided by DynamoDB (two concurrent claims: exactly one wins), and
the whole flow over HTTP: a held request, its release after approval, a violation revoking the key.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from starlette.testclient import TestClient
from steward import admin, bootstrap
from steward.adapters.key_store import DynamoKeyStore
from steward.adapters.kms_encryptor import KmsEnvelopeEncryptor
from steward.adapters.review_store import DynamoReviewStore
from steward.audit.record import AuditDraft
from steward.auth.authorize import Authorizer
from steward.auth.lifecycle import KeyLifecycle
from steward.auth.principal import Principal
from steward.context import RequestContext
from steward.errors import ReviewClaimed, ReviewNotFound
from steward.resources import ResourceNames
from steward.review.model import Decision, State, seal_context
from steward.review.service import ReviewService
from steward.settings import AdminSettings, ApiSettings
from steward.usage_policy.document import Direction
from steward.usage_policy.ports import Flagged

from tests.fakes import complete_card

from .conftest import PEPPER, REGION, FakeBackend

pytestmark = pytest.mark.integration
SEEDED = "wire the ransom to account 7731-HEIST"
MINILM = "all-minilm-l6-v2"


def service(names: ResourceNames, kms_key: str, **kwargs: Any) -> ReviewService:
    keys = KeyLifecycle(DynamoKeyStore(names.api_keys_table.name, region=REGION), lambda: PEPPER.encode())
    return ReviewService(
        DynamoReviewStore(names.reviews_table.name, region=REGION),
        lambda tenant: KmsEnvelopeEncryptor(kms_key, tenant, region=REGION),
        lambda: PEPPER.encode(),
        keys=keys,
        **kwargs,
    )


def flag(queue: ReviewService, tenant: str, *texts: str, hold: bool = False) -> str:
    caller = Principal(tenant, "k" * 12, frozenset(), frozenset({"*"}))
    ctx = RequestContext(caller, AuditDraft(f"req-{uuid.uuid4()}", "POST", "/v1/embeddings", 0.0, tenant))
    [outcome] = queue.flagged(
        ctx, [Flagged("word", "watch", Direction.INPUT, hold, texts, MINILM, "tenant@v1")]
    )
    assert outcome.review_id is not None
    return outcome.review_id


def raw_items(names: ResourceNames, tenant: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).query(
        TableName=names.reviews_table.name,
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant}},
    )["Items"]


def admin_of(tenant: str, *, platform: bool = False) -> Principal:
    scopes = {"admin", "platform-admin"} if platform else {"admin"}
    return Principal(tenant, uuid.uuid4().hex[:12], frozenset(scopes), frozenset({"*"}))


def test_an_item_keeps_no_text_in_clear_and_opens_only_under_its_own_context(
    names: ResourceNames, kms_key: str
) -> None:
    # Given a flagged text recorded for a fresh tenant
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    queue = service(names, kms_key)
    review_id = flag(queue, tenant, SEEDED)
    # Then no attribute of any raw item holds the text, in any form
    items = raw_items(names, tenant)
    assert {i["sk"]["S"].split("#")[0] for i in items} == {review_id, "mark"}
    raw = json.dumps(items, default=lambda v: bytes(v).decode("latin-1"))
    assert "7731" not in raw and "ransom" not in raw.lower() and "heist" not in raw.lower()
    sealed = next(i for i in items if i["sk"]["S"].endswith("#text"))["sealed"]["B"]
    assert SEEDED.encode() not in sealed
    # And the reviewer gets it back
    assert queue.get(admin_of(tenant), review_id)["texts"] == [SEEDED]
    # But the blob opens under no other tenant (KMS refuses the data key) and no other item
    with pytest.raises(ClientError) as refused:
        KmsEnvelopeEncryptor(kms_key, "globex", region=REGION).decrypt(
            sealed, seal_context("globex", review_id)
        )
    assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"
    with pytest.raises(InvalidTag):  # the item is associated data of the seal
        KmsEnvelopeEncryptor(kms_key, tenant, region=REGION).decrypt(
            sealed, seal_context(tenant, "rv_" + "1" * 24)
        )


def test_indexes_list_by_state_and_find_by_id_only_for_who_may_see_it(
    names: ResourceNames, kms_key: str
) -> None:
    tenant, other = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    queue = service(names, kms_key)
    ids = [flag(queue, tenant, f"text {i}") for i in range(3)]
    theirs = flag(queue, other, "their text")
    reviewer = admin_of(tenant)
    queue.claim(reviewer, ids[0])
    queue.resolve(reviewer, ids[0], Decision.VIOLATION)
    pages, cursor = [], None
    while True:
        page = queue.list(reviewer, state=State.OPEN, cursor=cursor, limit=1)
        pages.append([i["review_id"] for i in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [p for p in pages if p] == [[ids[1]], [ids[2]]]
    assert [i["review_id"] for i in queue.list(reviewer, state=State.RESOLVED)["data"]] == [ids[0]]
    # Another tenant's admin never finds it; a platform admin does (through the id index)
    with pytest.raises(ReviewNotFound):
        queue.get(admin_of(tenant), theirs)
    assert queue.get(admin_of("ops", platform=True), theirs)["tenant_id"] == other
    # The operator lists every tenant's queue (a full read, oldest first), then claims
    everywhere = [i["review_id"] for i in queue.list(None, state=State.OPEN, limit=100)["data"]]
    assert [i for i in everywhere if i in {*ids, theirs}] == [ids[1], ids[2], theirs]
    assert queue.claim(None, theirs)["claimed_by"] == "cli"


@pytest.fixture
def serial_queue(names: ResourceNames, kms_key: str, serial_moto: str) -> Iterator[ReviewService]:
    """The queue on moto answering one request at a time: like DynamoDB, each conditional write
    and transaction is indivisible (moto's threaded server checks conditions without a lock)."""
    yield service(names, kms_key)


def race(calls: list[Any]) -> tuple[list[Any], list[Exception]]:
    barrier, lock = threading.Barrier(len(calls)), threading.Lock()
    won: list[Any] = []
    lost: list[Exception] = []

    def run(call: Any) -> None:
        barrier.wait(timeout=30)
        try:
            result = call()
        except Exception as error:
            with lock:
                lost.append(error)
        else:
            with lock:
                won.append(result)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, lost


def test_two_concurrent_claims_exactly_one_wins(serial_queue: ReviewService, names: ResourceNames) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    review_id = flag(serial_queue, tenant, "claimed twice")
    reviewers = [admin_of(tenant) for _ in range(6)]
    won, lost = race([lambda r=r: serial_queue.claim(r, review_id) for r in reviewers])
    assert len(won) == 1 and len(lost) == 5 and all(isinstance(e, ReviewClaimed) for e in lost)
    assert serial_queue.get(reviewers[0], review_id)["claimed_by"] == won[0]["claimed_by"]


def test_concurrent_flags_of_one_text_open_one_item(
    serial_queue: ReviewService, names: ResourceNames
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    won, lost = race([lambda: flag(serial_queue, tenant, SEEDED, hold=True) for _ in range(6)])
    assert lost == [] and len(set(won)) == 1
    assert (
        len(
            [
                i
                for i in raw_items(names, tenant)
                if i["sk"]["S"].startswith("rv_") and "#" not in i["sk"]["S"]
            ]
        )
        == 1
    )


# --- the whole flow over HTTP ------------------------------------------------------------------


@pytest.fixture
def gateway(
    names: ResourceNames, kms_key: str, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], str]]:
    """The api app as deployed, over moto (build_api: the review queue on its table and the stage
    key), behind the authorizer's code; a tenant with a hold policy, its admin and a user."""
    from functions.api.app import create_app
    from functions.authorizer.handler import authorize_event
    from scripts.local.api_gateway import with_authorizer

    monkeypatch.setenv("STEWARD_BACKEND_URL", backend.url)
    monkeypatch.setattr(bootstrap, "api_settings", bootstrap.Lazy(ApiSettings))
    settings = AdminSettings()
    admin.register_model(
        MINILM, "1", target={"kind": "http"}, approval="approved", task="sentence-embedding",
        artifact_digest="sha256:" + "cd" * 32, card=complete_card(), settings=settings,
    )  # fmt: skip
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    user, _ = admin.create_api_key(tenant, models=[MINILM], settings=settings)
    admin_key, _ = admin.create_api_key(tenant, models=["*"], admin=True, settings=settings)
    key_store = DynamoKeyStore(names.api_keys_table.name, region=REGION)
    authorizer = Authorizer(key_store, lambda: PEPPER.encode(), ttl_s=0)
    app = with_authorizer(create_app(ApiSettings()), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {admin_key}"}
        policy = {"word_lists": [{"name": "watch", "words": ["heist"], "action": "flag", "hold": True}]}
        assert client.put(f"/admin/usage-policies/{tenant}", json=policy, headers=headers).status_code == 201
        yield client, headers, {"Authorization": f"Bearer {user}"}, tenant


def test_held_approved_released_then_a_violation_revokes_the_key(
    gateway: tuple[TestClient, dict[str, str], dict[str, str], str],
    backend: FakeBackend,
    names: ResourceNames,
) -> None:
    client, admin_headers, user, tenant = gateway

    def embed(text: str) -> Any:
        return client.post("/v1/embeddings", json={"model": MINILM, "input": text}, headers=user)

    # Given a request the hold rule matches, with personal data in it: held, never sent
    held = embed(f"{SEEDED}, mail jane.doe@example.com")
    assert held.status_code == 403 and held.json()["code"] == "policy.held_for_review"
    review_id = held.json()["review_id"]
    assert backend.requests == []
    # When a reviewer opens it: the redacted text, never the caller's email
    shown = client.get(f"/admin/reviews/{review_id}", headers=admin_headers).json()
    assert shown["texts"] == [f"{SEEDED}, mail <EMAIL_ADDRESS_1>"]
    raw = json.dumps(raw_items(names, tenant), default=lambda v: bytes(v).decode("latin-1"))
    assert "jane.doe" not in raw and "7731" not in raw
    # And approves it: the same request is served
    assert client.post(f"/admin/reviews/{review_id}/claim", headers=admin_headers).status_code == 200
    approve = {"decision": "approve"}
    assert (
        client.post(f"/admin/reviews/{review_id}/resolve", json=approve, headers=admin_headers).status_code
        == 200
    )
    assert embed(f"{SEEDED}, mail jane.doe@example.com").status_code == 200
    assert len(backend.requests) == 1
    # When another held text is confirmed a violation with the key suspended
    other = embed("a heist of another kind").json()["review_id"]
    client.post(f"/admin/reviews/{other}/claim", headers=admin_headers)
    violation = {"decision": "violation", "suspend_key": True}
    decided = client.post(f"/admin/reviews/{other}/resolve", json=violation, headers=admin_headers)
    assert decided.status_code == 200, decided.text
    # Then the key that made the request is refused like any revoked key
    refused = embed("hello")
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.invalid_key")
