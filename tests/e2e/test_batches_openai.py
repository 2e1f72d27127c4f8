"""The ``openai`` client's Files and Batches API, unchanged, against the local stack (``make up``):
upload, create, poll, download. The worker runs behind the local event pump exactly as behind
Lambda's SQS event source, so what completes here is the deployed path minus AWS itself."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MINILM, CREDIT = "all-minilm-l6-v2", "credit-risk"
BLOCKED = "BATCHE2E-4242"  # the usage policy this test sets blocks this token (and nothing else)
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def _line(custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings", "body": body}


@pytest.fixture(scope="module")
def admin(stack: RunningStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.state['demo_admin_key']}"}


@pytest.fixture(scope="module")
def scoped_key(stack: RunningStack, admin: dict[str, str]) -> str:
    """A key of the demo tenant that may call the text model only."""
    created = httpx.post(
        f"{stack.api_url}/admin/keys",
        headers=admin,
        json={"tenant_id": "demo", "models": [MINILM], "name": "batch e2e"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


@pytest.fixture(scope="module")
def blocking_usage_policy(stack: RunningStack, admin: dict[str, str]) -> Iterator[None]:
    """A usage policy blocking one token, put back to none afterwards (the stack is shared)."""
    url = f"{stack.api_url}/admin/usage-policies/demo"
    policy = {
        "patterns": [{"name": "e2e", "regex": "BATCHE2E-[0-9]+", "action": "block"}],
        "apply_to": ["input"],
    }
    assert httpx.put(url, headers=admin, json=policy, timeout=30).status_code == 201
    time.sleep(5)  # the policy cache's freshness bound
    yield
    httpx.put(url, headers=admin, json={}, timeout=30).raise_for_status()


def _wait(client: openai.OpenAI, batch_id: str, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in TERMINAL or time.monotonic() > deadline:
            return batch
        time.sleep(1)


def test_openai_batches_complete_with_the_synchronous_embeddings_and_error_lines(
    stack: RunningStack, scoped_key: str, blocking_usage_policy: None
) -> None:
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=scoped_key, max_retries=0, timeout=60)
    texts = {
        "plain": "A man is eating food.",
        "list": ["The new movie is awesome.", "A cheetah runs to its prey."],
        "with-pii": "Contact Maria Garcia at maria.garcia@example.org about the invoice.",
    }
    lines = [_line(cid, {"model": MINILM, "input": text}) for cid, text in texts.items()]
    lines += [
        _line("malformed", {"model": MINILM, "input": 42}),
        _line("usage-blocked", {"model": MINILM, "input": f"Move {BLOCKED} today."}),
        _line("not-allowed", {"model": CREDIT, "input": "hello"}),
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()

    # Given a batch file uploaded with the SDK
    uploaded = client.files.create(file=("requests.jsonl", io.BytesIO(content)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(content)
    assert client.files.retrieve(uploaded.id).filename == "requests.jsonl"
    assert client.files.content(uploaded.id).content == content
    assert uploaded.id in [f.id for f in client.files.list(purpose="batch")]  # the SDK's pager
    # When a batch over it is created and polled to the end
    created = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h", metadata={"run": "e2e"}
    )
    assert created.status == "validating" and created.metadata == {"run": "e2e"}
    batch = _wait(client, created.id)

    # Then it completed, counting each line once
    assert batch.status == "completed", batch
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (
        6,
        3,
        3,
    )
    assert batch.id in {b.id for b in client.batches.list(limit=100).data}
    # And each output line's embeddings are the synchronous answer for the same body
    outputs = {
        o["custom_id"]: o
        for o in map(json.loads, client.files.content(batch.output_file_id).text.splitlines())
    }
    assert set(outputs) == {"plain", "list", "with-pii"}
    for custom_id, text in texts.items():
        out = outputs[custom_id]
        assert out["response"]["status_code"] == 200 and out["error"] is None
        batched = np.array([d["embedding"] for d in out["response"]["body"]["data"]])
        sync = client.embeddings.create(model=MINILM, input=text, encoding_format="float")
        assert np.abs(batched - np.array([d.embedding for d in sync.data])).max() < 1e-5
    # And each refused line is in the error file with the route's status and stable code
    errors = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
    codes = {e["custom_id"]: (e["response"]["status_code"], e["response"]["body"]["code"]) for e in errors}
    assert codes == {
        "malformed": (422, "input.invalid"),
        "usage-blocked": (400, "policy.denied_pattern"),
        "not-allowed": (404, "model.not_found"),
    }
    assert BLOCKED not in client.files.content(batch.error_file_id).text


def test_openai_cancel_and_a_malformed_file(stack: RunningStack) -> None:
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=stack.key, max_retries=0, timeout=60)
    bad = client.files.create(file=("bad.jsonl", io.BytesIO(b"not json\n")), purpose="batch")
    failed = _wait(client, client.batches.create(
        input_file_id=bad.id, endpoint="/v1/embeddings", completion_window="24h"
    ).id)  # fmt: skip
    assert failed.status == "failed" and failed.errors is not None and failed.errors.data
    assert (failed.errors.data[0].code, failed.errors.data[0].line) == ("invalid_json_line", 1)

    good = client.files.create(
        file=(
            "one.jsonl",
            io.BytesIO((json.dumps(_line("a", {"model": MINILM, "input": "x"})) + "\n").encode()),
        ),
        purpose="batch",
    )
    created = client.batches.create(input_file_id=good.id, endpoint="/v1/embeddings", completion_window="24h")
    cancelled = client.batches.cancel(created.id)
    assert cancelled.status in {"cancelling", "cancelled", "completed"} or cancelled.status == "in_progress"
    final = _wait(client, created.id)
    assert final.status in {"cancelled", "completed"}  # the pump may have run it before the cancel
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_" + "0" * 32)
    deleted = client.files.delete(good.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(good.id)


def test_a_file_dropped_into_the_bucket_runs_as_a_batch(stack: RunningStack) -> None:
    import boto3
    from steward.resources import ResourceNames

    # Given a file a pipeline writes straight into the batch bucket, naming the demo key
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=stack.key, max_retries=2, timeout=60)
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.state["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="steward-local",
        aws_secret_access_key="steward-local",
    )
    # (a name S3 must URL-encode in its notification: spaces, a plus sign, accents, CJK)
    object_key = f"incoming/demo/Nächte + 夜 drop {time.time_ns()}.jsonl"
    lines = [_line(f"d{i}", {"model": MINILM, "input": f"Dropped sentence number {i}."}) for i in range(3)]
    s3.put_object(
        Bucket=ResourceNames("local").batch_bucket,
        Key=object_key,
        Body="".join(json.dumps(line) + "\n" for line in lines).encode(),
        Metadata={"steward-key-id": stack.key.split("_")[1]},
    )
    # When the notification has run through the worker
    deadline, found = time.monotonic() + 120, None
    while found is None and time.monotonic() < deadline:
        found = next(
            (
                b
                for b in client.batches.list(limit=100).data
                if (b.metadata or {}).get("object") == object_key
            ),
            None,
        )
        time.sleep(1)
    assert found is not None, "no batch for the dropped file"
    batch = _wait(client, found.id)
    # Then it completed like an uploaded batch, and the dropped object is gone (kept sealed as its input)
    assert batch.status == "completed" and batch.request_counts is not None
    assert batch.request_counts.completed == 3
    outputs = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in outputs) == ["d0", "d1", "d2"]
    # And nothing went to the dead-letter queue: S3's s3:TestEvent (sent when the stack set the
    # bucket's notification up) was no job, and the encoded name decoded to the object's own
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.state["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="steward-local",
        aws_secret_access_key="steward-local",
    )
    # And the pipeline's manifest is under results/<tenant>/<name>/, naming the output file
    manifest_key = "results/demo/" + object_key.removeprefix("incoming/demo/") + "/manifest.json"
    manifest = json.loads(
        s3.get_object(Bucket=ResourceNames("local").batch_bucket, Key=manifest_key)["Body"].read()
    )
    assert manifest["status"] == "completed" and manifest["output_file_id"] == batch.output_file_id
    assert manifest["counts"] == {"total": 3, "ok": 3, "failed": 0, "blocked": 0}
    dlq = sqs.get_queue_url(QueueName=ResourceNames("local").jobs_dead_letter_queue)["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
    listed = s3.list_objects_v2(Bucket=ResourceNames("local").batch_bucket, Prefix="incoming/").get(
        "Contents", []
    )
    assert object_key not in {o["Key"] for o in listed}
