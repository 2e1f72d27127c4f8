"""The Batch API end to end in memory: files, batches, the worker behind a simulated SQS queue.

Given-When-Then bodies; the rig (`tests.unit.batch_rig`) wires the app and the worker to one set
of in-memory ports, and delivers jobs to the worker's real Lambda handler in Lambda's SQS shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from steward import admin
from steward.audit.record import SECONDS_PER_DAY
from steward.batches.worker import chunk_key
from steward.controls.model import Tenant
from steward.errors import ControlUnavailable
from steward.inference import embeddings
from steward.limits.plan import Plan
from steward.routing.transport import BackendResponse

from tests.unit.batch_rig import CREDIT, MINILM, Rig, backend, build_rig

SSN = "536-22-8714"


def line(custom_id: str, body: dict[str, Any], url: str = "/v1/embeddings") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def embed(custom_id: str, text: Any, model: str = MINILM) -> dict[str, Any]:
    return line(custom_id, {"model": model, "input": text})


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from build_rig()


def _stable(response: Any) -> dict[str, Any]:
    body = dict(response.json())
    body.pop("request_id", None)
    return body


# --- files -------------------------------------------------------------------------------------


def test_a_file_round_trips_and_is_stored_sealed(rig: Rig) -> None:
    # Given a key and a file holding a seeded SSN, under a name holding one too
    key = rig.key()
    file_id = rig.upload(key, [embed("a", f"my ssn is {SSN}")], name=f"ssn-{SSN}.jsonl")
    # When it is read back
    meta = rig.client.get(f"/v1/files/{file_id}", headers=rig.headers(key)).json()
    content = rig.client.get(f"/v1/files/{file_id}/content", headers=rig.headers(key))
    # Then it is the OpenAI file object and the bytes as uploaded
    assert (meta["object"], meta["purpose"], meta["status"], meta["filename"]) == (
        "file", "batch", "processed", f"ssn-{SSN}.jsonl"
    )  # fmt: skip
    assert (
        content.content == json.dumps(embed("a", f"my ssn is {SSN}"), separators=(",", ":")).encode() + b"\n"
    )
    assert meta["bytes"] == len(content.content)
    # And neither the bucket nor the store holds the SSN (sealed under the tenant)
    assert all(SSN.encode() not in blob for blob in rig.objects.objects.values())
    assert SSN not in repr(rig.store.files)
    # When it is deleted, it is gone
    deleted = rig.client.delete(f"/v1/files/{file_id}", headers=rig.headers(key))
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert rig.client.get(f"/v1/files/{file_id}", headers=rig.headers(key)).status_code == 404
    assert rig.objects.objects == {}


def test_a_file_over_the_limit_or_of_another_purpose_is_refused(rig: Rig) -> None:
    key = rig.key()
    big = rig.client.post(
        "/v1/files",
        headers=rig.headers(key),
        files={"file": ("big.jsonl", b"x" * (rig.settings.max_file_bytes + 1))},
        data={"purpose": "batch"},
    )
    assert (big.status_code, big.json()["code"]) == (413, "input.too_large")
    other = rig.client.post(
        "/v1/files",
        headers=rig.headers(key),
        files={"file": ("a.jsonl", b"{}")},
        data={"purpose": "fine-tune"},
    )
    assert (other.status_code, other.json()["code"]) == (422, "input.invalid")
    assert other.json()["error"]["code"] == "input.invalid"  # OpenAI's error object on these routes


def test_another_tenants_files_and_batches_answer_like_absent_ones(rig: Rig) -> None:
    # Given a file and a batch of tenant acme
    acme = rig.key("acme")
    file_id = rig.upload(acme, [embed("a", "hello")])
    batch_id = rig.create(acme, file_id)["id"]
    other = rig.headers(rig.key("globex"))
    absent_file, absent_batch = "file-" + "0" * 24, "batch_" + "0" * 32
    # When tenant globex names them, and ids that exist nowhere
    pairs = [
        ("GET", f"/v1/files/{file_id}", f"/v1/files/{absent_file}", None),
        ("GET", f"/v1/files/{file_id}/content", f"/v1/files/{absent_file}/content", None),
        ("DELETE", f"/v1/files/{file_id}", f"/v1/files/{absent_file}", None),
        ("GET", f"/v1/batches/{batch_id}", f"/v1/batches/{absent_batch}", None),
        ("POST", f"/v1/batches/{batch_id}/cancel", f"/v1/batches/{absent_batch}/cancel", None),
    ]
    for method, theirs, nowhere, body in pairs:
        a = rig.client.request(method, theirs, headers=other, json=body)
        b = rig.client.request(method, nowhere, headers=other, json=body)
        # Then each answers 404 with the same body
        assert a.status_code == b.status_code == 404, (theirs, a.text)
        assert _stable(a) == _stable(b)
    create = rig.client.post(
        "/v1/batches",
        headers=other,
        json={"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"},
    )
    assert (create.status_code, create.json()["code"]) == (404, "file.not_found")
    assert rig.client.get("/v1/batches", headers=other).json()["data"] == []
    # And acme's file and batch are untouched
    assert rig.batch(acme, batch_id)["status"] == "validating"
    assert rig.client.get(f"/v1/files/{file_id}", headers=rig.headers(acme)).status_code == 200


# --- a batch, end to end -----------------------------------------------------------------------


def test_a_batch_completes_with_the_synchronous_answers_and_an_error_line_per_refusal(rig: Rig) -> None:
    # Given a tenant whose privacy policy blocks SSNs and whose usage policy blocks account numbers
    admin_key = rig.key("acme", admin=True)
    assert (
        rig.client.put(
            "/admin/policies/acme",
            headers=rig.headers(admin_key),
            json={"entities": {"US_SSN": {"operator": "block"}}},
        ).status_code
        == 201
    )
    usage = {"patterns": [{"name": "acct", "regex": "ACC-[0-9]+", "action": "block"}], "apply_to": ["input"]}
    assert (
        rig.client.put("/admin/usage-policies/acme", headers=rig.headers(admin_key), json=usage).status_code
        == 201
    )
    # And a key for the text model only, with a file of good and bad lines
    key = rig.key("acme", (MINILM,))
    lines = [
        embed("ok-1", "The cat sat on the mat."),
        embed("ok-2", ["Two sentences.", "In one request."]),
        line("malformed", {"model": MINILM, "input": 42}),
        embed("pii", f"My SSN is {SSN}."),
        embed("usage", "Move ACC-12345 now."),
        embed("not-allowed", "hello", model=CREDIT),
    ]
    file_id = rig.upload(key, lines)
    created = rig.create(key, file_id, metadata={"run": "nightly"})
    assert created["status"] == "validating" and created["metadata"] == {"run": "nightly"}

    # When the worker runs its jobs
    rig.deliver()

    # Then the batch is completed with its counts and both files
    batch = rig.batch(key, created["id"])
    assert batch["status"] == "completed", batch
    assert batch["request_counts"] == {"total": 6, "completed": 2, "failed": 4}
    assert batch["in_progress_at"] and batch["finalizing_at"] and batch["completed_at"]
    outputs = {o["custom_id"]: o for o in rig.content(key, batch["output_file_id"])}
    errors = {e["custom_id"]: e for e in rig.content(key, batch["error_file_id"])}
    assert set(outputs) == {"ok-1", "ok-2"}
    # And each output is exactly the synchronous route's answer for the same body
    for custom_id in ("ok-1", "ok-2"):
        body = next(x["body"] for x in lines if x["custom_id"] == custom_id)
        sync = rig.client.post("/v1/embeddings", headers=rig.headers(key), json=body).json()
        out = outputs[custom_id]
        assert out["response"]["status_code"] == 200 and out["error"] is None
        assert out["id"].startswith("batch_req_") and out["response"]["request_id"] == out["id"]
        assert out["response"]["body"]["data"] == sync["data"]
    # And each refusal is the route's problem document (OpenAI's error object included)
    codes = {cid: (e["response"]["status_code"], e["response"]["body"]["code"]) for cid, e in errors.items()}
    assert codes == {
        "malformed": (422, "input.invalid"),
        "pii": (400, "pii.blocked"),
        "usage": (400, "policy.denied_pattern"),
        "not-allowed": (404, "model.not_found"),
    }
    assert errors["pii"]["response"]["body"]["error"]["code"] == "pii.blocked"
    assert SSN not in json.dumps(errors)  # the refusal names the type, never the value


def test_flagged_lines_go_to_the_review_queue_and_held_ones_wait_in_the_error_file(rig: Rig) -> None:
    # Given a usage policy that flags one word and holds another for review
    admin_key = rig.key("acme", admin=True)
    usage = {
        "word_lists": [
            {"name": "watch", "words": ["heist"], "action": "flag"},
            {"name": "wait", "words": ["tangerine"], "action": "flag", "hold": True},
        ]
    }
    put = rig.client.put("/admin/usage-policies/acme", headers=rig.headers(admin_key), json=usage)
    assert put.status_code == 201, put.text
    key = rig.key("acme")
    lines = [embed("flagged", "the heist"), embed("held", "a tangerine"), embed("plain", "hello")]
    batch_id = rig.create(key, rig.upload(key, lines))["id"]
    rig.deliver()
    # Then the flagged line is served, the held one is refused naming its review item, and both
    # are in the tenant's queue, as the synchronous path would have queued them
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "completed" and batch["request_counts"]["failed"] == 1
    [held] = rig.content(key, batch["error_file_id"])
    body = held["response"]["body"]
    assert (held["custom_id"], body["code"]) == ("held", "policy.held_for_review")
    items = {item.rule: item for item in rig.reviews.items.values()}
    assert set(items) == {"watch", "wait"} and {i.tenant_id for i in items.values()} == {"acme"}
    assert items["wait"].hold and items["wait"].review_id in body["detail"]
    assert items["wait"].request_id == held["id"]  # the line's request id, as in the audit trail
    assert "tangerine" not in json.dumps(rig.reviews.rows, default=str)


def test_the_chunks_are_audited_without_content(rig: Rig) -> None:
    # Given a batch of three lines in two chunks (two lines per chunk), one with an email
    key = rig.key()
    file_id = rig.upload(
        key, [embed("a", "mail jane.doe@example.com"), embed("b", "two"), embed("c", "three")]
    )
    batch_id = rig.create(key, file_id)["id"]
    rig.deliver()
    # Then one record per chunk, in the existing format, with the lines' counts and no content
    records = [r for r in rig.audit.records if r["route"] == "BATCH /v1/embeddings"]
    assert [r["n_inputs"] for r in records] == [2, 1]
    assert {r["request_id"] for r in records} == {f"{batch_id}.00000.0", f"{batch_id}.00001.0"}
    assert all(
        r["decision"] == "allow" and r["model"] == MINILM and r["model_version"] == "1" for r in records
    )
    assert records[0]["pii_counts"] == {"EMAIL_ADDRESS": 1}
    assert "jane.doe" not in json.dumps(rig.audit.records)
    assert all(len(r["input_hmac"]) == 64 and len(r["output_hmac"]) == 64 for r in records)


def test_chunk_records_are_kept_for_the_tenant_plans_retention(rig: Rig) -> None:
    # Given a tenant whose plan keeps audit records 30 days (the stage default is 400)
    rig.controls.create_tenant(Tenant("acme", audit_retention_days=30))
    key = rig.key()
    batch_id = rig.create(key, rig.upload(key, [embed("a", "one"), embed("b", "two"), embed("c", "x")]))["id"]
    rig.deliver()
    # Then its chunks' records expire when its API requests' records do, 30 days on
    chunks = [r for r in rig.audit.records if r["request_id"].startswith(batch_id)]
    requests = [r for r in rig.audit.records if r["route"] == "POST /v1/batches"]
    assert len(chunks) == 2 and len(requests) == 1
    for record in [*chunks, *requests]:
        started = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
        assert record["expires_at"] - int(started) == 30 * SECONDS_PER_DAY


def test_an_unreadable_plan_defers_the_chunks_record_rather_than_guess_its_retention(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tenant plan of 30 days that can't be read when the chunk's record is due (once)
    rig.controls.create_tenant(Tenant("acme", audit_retention_days=30))
    gate = rig.api.gate
    assert gate is not None
    read, failures = gate.retention, [ControlUnavailable()]

    def flaky(tenant_id: str) -> int | None:
        if failures:
            raise failures.pop()
        return read(tenant_id)

    monkeypatch.setattr(gate, "retention", flaky)
    key = rig.key()
    batch_id = rig.create(key, rig.upload(key, [embed("a", "one"), embed("b", "two")]))["id"]
    rig.deliver()
    # Then the chunk waited for a later try: one record, with the plan's retention, and its two
    # lines went in one backend call, once
    [record] = [r for r in rig.audit.records if r["request_id"].startswith(batch_id)]
    started = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
    assert record["expires_at"] - int(started) == 30 * SECONDS_PER_DAY
    assert len(rig.transport.calls) == 1 and rig.batch(key, batch_id)["status"] == "completed"


def test_a_malformed_file_fails_the_batch_with_errors_naming_lines(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(
        key,
        [
            embed("a", "fine"),
            b"this is not json",
            {"custom_id": "b", "method": "POST", "url": "/v1/embeddings"},
            line("c", {"model": MINILM, "input": "x"}, url="/v2/models/x/infer"),
            embed("a", "duplicate id"),
        ],
    )
    batch_id = rig.create(key, file_id)["id"]
    rig.deliver()
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "failed" and batch["failed_at"]
    assert [(e["code"], e["line"]) for e in batch["errors"]["data"]] == [
        ("invalid_json_line", 2),
        ("missing_required_parameter", 3),
        ("mismatched_endpoint", 4),
        ("duplicate_custom_id", 5),
    ]
    assert rig.transport.calls == []


def test_an_oip_batch_runs_each_line_as_the_infer_route(rig: Rig) -> None:
    key = rig.key()
    endpoint = f"/v2/models/{CREDIT}/infer"
    rows = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [0.1, 0.2]}]}
    file_id = rig.upload(key, [line("r1", rows, url=endpoint), line("r2", {"inputs": []}, url=endpoint)])
    batch_id = rig.create(key, file_id, endpoint=endpoint)["id"]
    rig.deliver()
    batch = rig.batch(key, batch_id)
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    out = rig.content(key, batch["output_file_id"])[0]["response"]["body"]
    sync = rig.client.post(endpoint, headers=rig.headers(key), json=rows).json()
    assert out["outputs"] == sync["outputs"] and out["model_name"] == CREDIT
    refused = rig.content(key, batch["error_file_id"])[0]["response"]
    assert refused["status_code"] == 422 and "[input.invalid]" in refused["body"]["error"]  # OIP's string


def test_an_endpoint_naming_a_model_the_key_cannot_use_is_refused_at_creation(rig: Rig) -> None:
    key = rig.key("acme", (MINILM,))
    file_id = rig.upload(key, [embed("a", "x")])
    for endpoint in (f"/v2/models/{CREDIT}/infer", "/v2/models/no-such-model/infer"):
        answer = rig.client.post(
            "/v1/batches",
            headers=rig.headers(key),
            json={"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"},
        )
        assert (answer.status_code, answer.json()["code"]) == (404, "model.not_found")


# --- delivery: partial failures, duplicates, retries --------------------------------------------


def test_poisoned_messages_are_exactly_the_batch_item_failures(rig: Rig) -> None:
    # Given a batch planned into 7 chunks of one line
    rig_one = next(build_rig(chunk_lines=1))
    key = rig_one.key()
    file_id = rig_one.upload(key, [embed(f"l{i}", f"line {i}") for i in range(7)])
    rig_one.create(key, file_id)
    plan = rig_one.queue.take()
    assert rig_one.run_event(plan) == set()
    chunks = rig_one.queue.take()
    assert len(chunks) == 7
    # When an SQS batch of 10 holds the 7 chunk jobs and 3 poisoned messages
    poisoned: list[dict[str, Any] | str] = [
        "not json",
        json.dumps({"kind": "explode", "tenant_id": "acme", "batch_id": "batch_x"}),
        {**chunks[0], "chunk": -1},
    ]
    jobs: list[dict[str, Any] | str] = [*chunks[:3], *poisoned, *chunks[3:]]
    event, ids = rig_one.event(jobs)
    from scripts.local.event_pump import LocalLambdaContext, failed_ids

    failed = failed_ids(rig_one.handler(event, LocalLambdaContext(900)))
    # Then exactly the poisoned messages' ids are reported failed, and the batch completed
    assert failed == {ids[3], ids[4], ids[5]}
    assert rig_one.queue.take() == []
    assert rig_one.batch(key, chunks[0]["batch_id"])["status"] == "completed"


def test_a_duplicate_delivery_runs_the_chunk_once(rig: Rig) -> None:
    # Given a planned batch of one chunk
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one"), embed("b", "two")])
    batch_id = rig.create(key, file_id)["id"]
    assert rig.run_event(rig.queue.take()) == set()
    chunk = rig.queue.take()
    # When the chunk's job is delivered twice in one SQS batch, then once more later
    assert rig.run_event([chunk[0], chunk[0]]) == set()
    assert rig.run_event([chunk[0]]) == set()
    # Then the backend saw each line once (in one call), and the output holds each line once
    assert rig.sent_texts() == ["one", "two"] and len(rig.transport.calls) == 1
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "completed" and batch["request_counts"]["completed"] == 2
    assert [o["custom_id"] for o in rig.content(key, batch["output_file_id"])] == ["a", "b"]
    # And even without its idempotency record (expired), a redelivery calls nothing again
    rig.worker.idempotency.records.clear()
    assert rig.run_event([chunk[0]]) == set()
    assert rig.sent_texts() == ["one", "two"] and rig.charged() == 2
    assert len([r for r in rig.audit.records if r["route"].startswith("BATCH")]) == 1


def test_a_backend_outage_defers_the_chunk_and_the_retry_charges_nothing_twice() -> None:
    # Given a chunk of three lines, whose backend answers its first call 503
    rig = next(build_rig(chunk_lines=3))
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one"), embed("b", "two"), embed("c", "three")])
    batch_id = rig.create(key, file_id)["id"]
    rig.run_event(rig.queue.take())
    chunk = rig.queue.take()
    rig.transport.respond = lambda target, request: BackendResponse(503, b"{}")
    # When the chunk runs: it is handed back (failed record), its reason noted, nothing counted
    assert len(rig.run_event(chunk)) == 1
    stored = rig.store.get_batch("acme", batch_id)
    assert stored.failures == {"00000": "backend.unavailable"} and stored.done == frozenset()
    assert rig.charged() == 3  # charged once, before the call
    # When the backend is back and the job comes again
    rig.transport.respond = backend
    assert rig.run_event(chunk) == set()
    # Then the lines ran in one call, were not charged again, and the batch completed with all
    assert rig.sent_texts() == ["one", "two", "three"] * 2 and len(rig.transport.calls) == 2
    assert rig.charged() == 3
    assert rig.batch(key, batch_id)["request_counts"] == {"total": 3, "completed": 3, "failed": 0}


def test_a_failure_after_some_lines_keeps_them_and_the_retry_resumes_after_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a chunk of four lines and a backend that takes two texts a call and fails its
    # second call once
    monkeypatch.setattr(embeddings, "DEFAULT_MAX_BATCH", 2)  # the test model declares no limit
    rig = next(build_rig(chunk_lines=4))
    key = rig.key()
    texts = ["one", "two", "three", "four"]
    batch_id = rig.create(key, rig.upload(key, [embed(t, t) for t in texts]))["id"]
    rig.run_event(rig.queue.take())
    chunk = rig.queue.take()
    seen = {"n": 0}

    def second_fails(target: Any, request: Any) -> BackendResponse:
        seen["n"] += 1
        return BackendResponse(503, b"{}") if seen["n"] == 2 else backend(target, request)

    rig.transport.respond = second_fails
    assert len(rig.run_event(chunk)) == 1
    # Then the first call's two lines are kept; the retry sends only the other two
    assert rig.run_event(chunk) == set()
    assert rig.sent_texts() == ["one", "two", "three", "four", "three", "four"]
    assert rig.charged() == 4
    outputs = rig.content(key, rig.batch(key, batch_id)["output_file_id"])
    assert [o["custom_id"] for o in outputs] == texts


def test_the_worker_counts_lines_deferrals_and_ended_batches_once_each(rig: Rig) -> None:
    from steward.batches import signals

    # Given a batch of three lines (one refused), whose first chunk's backend is down once
    key = rig.key()
    rows = [embed("a", "one"), embed("b", "two"), line("c", {"model": MINILM})]
    batch_id = rig.create(key, rig.upload(key, rows))["id"]
    rig.run_event(rig.queue.take())
    chunks = rig.queue.take()
    rig.transport.respond = lambda target, request: BackendResponse(503, b"{}")
    assert len(rig.run_event(chunks[:1])) == 1
    rig.transport.respond = backend
    # When every job runs, the first chunk twice more (one replayed from its idempotency record)
    rig.run_event(chunks[:1] + chunks[1:])
    rig.run_event(chunks[:1])
    # Then each line, the deferral and the ended batch were counted once
    assert rig.batch(key, batch_id)["status"] == "completed"
    assert rig.counted == {
        signals.CHUNKS_DEFERRED: 1,
        signals.LINES_COMPLETED: 2,
        signals.LINES_FAILED: 1,
        "BatchesCompleted": 1,
    }


def test_a_chunk_failing_every_delivery_ends_in_the_dead_letter_queue(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    batch_id = rig.create(key, file_id)["id"]
    rig.transport.respond = lambda target, request: BackendResponse(503, b"{}")
    rig.deliver(max_receives=3)
    assert [job["kind"] for job in rig.dead] == ["chunk"]
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "in_progress"  # nothing lost: the job waits in the DLQ for a redrive
    assert rig.store.get_batch("acme", batch_id).failures == {"00000": "backend.unavailable"}


# --- governance per line -------------------------------------------------------------------------


def test_lines_beyond_the_quota_go_to_the_error_file() -> None:
    # Given a tenant allowed 3 requests a day
    rig = next(build_rig(plan=Plan.model_validate({"tenant": {"daily": 3}})))
    key = rig.key()
    file_id = rig.upload(key, [embed(f"l{i}", f"line {i}") for i in range(5)])
    batch_id = rig.create(key, file_id)["id"]
    rig.deliver()
    batch = rig.batch(key, batch_id)
    # Then 3 lines ran and 2 were refused with quota.exceeded, never sent to the backend
    assert batch["request_counts"] == {"total": 5, "completed": 3, "failed": 2}
    refused = rig.content(key, batch["error_file_id"])
    assert {(e["response"]["status_code"], e["response"]["body"]["code"]) for e in refused} == {
        (429, "quota.exceeded")
    }
    assert len(rig.sent_texts()) == 3 and rig.charged() == 3


def test_a_key_revoked_after_creation_refuses_every_line(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one"), embed("b", "two")])
    batch_id = rig.create(key, file_id)["id"]
    admin.revoke_api_key(key.split("_")[1], store=rig.keys)
    rig.deliver()
    batch = rig.batch(rig.key(), batch_id)
    assert batch["request_counts"] == {"total": 2, "completed": 0, "failed": 2}
    codes = {e["response"]["body"]["code"] for e in rig.content(rig.key(), batch["error_file_id"])}
    assert codes == {"auth.invalid_key"} and rig.transport.calls == []


def test_a_suspended_tenant_refuses_lines_and_a_global_switch_holds_them(rig: Rig) -> None:
    from steward.controls.model import KillSwitch, Scope, Tenant, TenantStatus

    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    batch_id = rig.create(key, file_id)["id"]
    rig.run_event(rig.queue.take())
    chunk = rig.queue.take()
    # A global kill switch: the chunk waits (handed back), nothing runs
    rig.controls.switches["global"] = KillSwitch(
        Scope.parse("global"), reason="incident", note="", set_by="ops", set_at=1
    )
    assert len(rig.run_event(chunk)) == 1 and rig.transport.calls == []
    del rig.controls.switches["global"]
    # A suspended tenant: the lines are refused (403), as the route would refuse them
    rig.controls.tenants["acme"] = Tenant(tenant_id="acme", status=TenantStatus.SUSPENDED, reason="abuse")
    assert rig.run_event(chunk) == set()
    batch = rig.store.get_batch("acme", batch_id)
    assert (batch.status.value, batch.failed) == ("completed", 1) and rig.transport.calls == []


# --- cancel and list -------------------------------------------------------------------------------


def test_cancel_before_planning_ends_cancelled_and_runs_nothing(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    batch_id = rig.create(key, file_id)["id"]
    cancelled = rig.client.post(f"/v1/batches/{batch_id}/cancel", headers=rig.headers(key))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelling"
    rig.deliver()
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "cancelled" and batch["cancelled_at"] and rig.transport.calls == []
    # Cancelling again answers it as it is; a completed batch can't be cancelled
    again = rig.client.post(f"/v1/batches/{batch_id}/cancel", headers=rig.headers(key))
    assert again.json()["status"] == "cancelled"
    done_id = rig.create(key, file_id)["id"]
    rig.deliver()
    refused = rig.client.post(f"/v1/batches/{done_id}/cancel", headers=rig.headers(key))
    assert (refused.status_code, refused.json()["code"]) == (409, "batch.conflict")


def test_cancel_while_in_progress_keeps_what_ran(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed(f"l{i}", f"line {i}") for i in range(4)])  # two chunks
    batch_id = rig.create(key, file_id)["id"]
    rig.run_event(rig.queue.take())
    chunks = rig.queue.take()
    assert rig.run_event(chunks[:1]) == set()
    assert rig.client.post(f"/v1/batches/{batch_id}/cancel", headers=rig.headers(key)).status_code == 200
    assert rig.run_event(chunks[1:]) == set()
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "cancelled"
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 0}
    assert [o["custom_id"] for o in rig.content(key, batch["output_file_id"])] == ["l0", "l1"]


def test_batches_list_newest_first_with_openai_pagination(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    made = [rig.create(key, file_id)["id"] for _ in range(3)]
    first = rig.client.get("/v1/batches", headers=rig.headers(key), params={"limit": 2}).json()
    assert [b["id"] for b in first["data"]] == made[::-1][:2] and first["has_more"] is True
    assert first["first_id"] == made[2] and first["last_id"] == made[1]
    rest = rig.client.get("/v1/batches", headers=rig.headers(key), params={"after": first["last_id"]}).json()
    assert [b["id"] for b in rest["data"]] == [made[0]] and rest["has_more"] is False


def test_files_list_by_creation_with_purpose_paging_isolation_and_expiry(rig: Rig) -> None:
    # Given three uploads of one tenant (a second apart), and one of another tenant
    key, other = rig.key(), rig.key("globex")
    clock = {"now": 1_800_000_000.0}
    assert rig.api.batches is not None
    rig.api.batches._clock = lambda: clock["now"]
    made = []
    for n in range(3):
        made.append(rig.upload(key, [embed("a", str(n))], name=f"f{n}.jsonl"))
        clock["now"] += 1
    theirs = rig.upload(other, [embed("a", "x")])

    def listed(who: str, **params: Any) -> dict[str, Any]:
        answer = rig.client.get("/v1/files", headers=rig.headers(who), params=params)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    # Then the listing is newest first, pages by ``after``, and shows the tenant's own files only
    first = listed(key, limit=2)
    assert [f["id"] for f in first["data"]] == made[::-1][:2] and first["has_more"] is True
    assert [f["filename"] for f in first["data"]] == ["f2.jsonl", "f1.jsonl"]
    rest = listed(key, after=first["last_id"])
    assert [f["id"] for f in rest["data"]] == [made[0]] and rest["has_more"] is False
    assert [f["id"] for f in listed(key, order="asc")["data"]] == made
    assert [f["id"] for f in listed(other)["data"]] == [theirs]
    # And another tenant's id as the cursor ends the listing rather than revealing anything
    assert listed(key, after=theirs)["data"] == []
    # And ``purpose`` filters, a bad one is refused, an expired file is gone
    assert listed(key, purpose="batch_output")["data"] == []
    assert rig.client.get("/v1/files", headers=rig.headers(key), params={"purpose": "x"}).status_code == 422
    clock["now"] += 400 * 86_400
    assert listed(key)["data"] == []


def test_the_queue_refusing_the_first_job_refuses_the_batch(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    rig.queue.fail = True
    answer = rig.client.post(
        "/v1/batches",
        headers=rig.headers(key),
        json={"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"},
    )
    assert (answer.status_code, answer.json()["code"]) == (503, "queue.unavailable")
    (stored,) = rig.store.batches.values()
    assert stored.status.value == "failed"


def test_chunk_objects_hold_no_plaintext_and_jobs_hold_ids_only(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", f"ssn {SSN}")])
    batch_id = rig.create(key, file_id)["id"]
    rig.run_event(rig.queue.take())
    jobs = rig.queue.sent
    assert jobs == [{"kind": "chunk", "tenant_id": "acme", "batch_id": batch_id, "chunk": 0}]
    assert SSN.encode() not in rig.objects.objects[chunk_key("acme", batch_id, 0)]


# --- the 24 h window -------------------------------------------------------------------------------


def _later(rig: Rig, hours: float) -> None:
    """Move the worker's clock on (the sweep and expiry judge the window by it)."""
    import time

    rig.worker.worker._clock = lambda: time.time() + hours * 3600


def test_a_batch_past_its_window_expires_keeping_what_ran(rig: Rig) -> None:
    # Given a batch of two chunks, one of which ran
    key = rig.key()
    file_id = rig.upload(key, [embed(f"l{i}", f"line {i}") for i in range(4)])
    batch_id = rig.create(key, file_id)["id"]
    rig.run_event(rig.queue.take())
    chunks = rig.queue.take()
    assert rig.run_event(chunks[:1]) == set()
    calls = len(rig.transport.calls)
    # When the scheduled sweep runs after the 24 h window and its expire job follows
    _later(rig, 25)
    assert (
        rig.run_event([{"kind": "sweep", "tenant_id": "-", "batch_id": "sweep_2026-01-01T00:00:00Z"}])
        == set()
    )
    assert rig.queue.sent == [{"kind": "expire", "tenant_id": "acme", "batch_id": batch_id, "chunk": 0}]
    rig.deliver()
    # And the chunk still queued arrives late
    assert rig.run_event(chunks[1:]) == set()
    # Then the batch is expired: what ran is in the output, the rest is batch_expired, nothing more ran
    batch = rig.batch(key, batch_id)
    assert batch["status"] == "expired" and batch["expired_at"]
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert [o["custom_id"] for o in rig.content(key, batch["output_file_id"])] == ["l0", "l1"]
    expired = rig.content(key, batch["error_file_id"])
    assert [(e["custom_id"], e["response"], e["error"]["code"]) for e in expired] == [
        ("l2", None, "batch_expired"),
        ("l3", None, "batch_expired"),
    ]
    assert len(rig.transport.calls) == calls
    # And a later sweep finds nothing left to expire
    assert (
        rig.run_event([{"kind": "sweep", "tenant_id": "-", "batch_id": "sweep_2026-01-01T00:15:00Z"}])
        == set()
    )
    assert rig.queue.take() == []


def test_a_batch_within_its_window_and_an_unplanned_one_past_it(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    fresh = rig.create(key, file_id)["id"]
    rig.queue.take()  # its plan job is lost in this test: only the sweep can end it
    assert rig.run_event([{"kind": "sweep", "tenant_id": "-", "batch_id": "sweep_a"}]) == set()
    assert rig.queue.take() == []  # within the window: nothing due
    _later(rig, 24.5)
    rig.run_event([{"kind": "sweep", "tenant_id": "-", "batch_id": "sweep_b"}])
    rig.deliver()
    assert rig.batch(key, fresh)["status"] == "expired" and rig.transport.calls == []


# --- the S3 drop-in -----------------------------------------------------------------------------------


def s3_event(key: str, when: str = "2026-12-02T01:02:03.456Z", etag: str = "abc") -> str:
    """S3's notification for ``key`` (URL-encoded, as S3 writes it) in the jobs queue."""
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": when,
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "bucket"}, "object": {"key": quote_plus(key), "size": 1, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def _drop(rig: Rig, key: str, lines: list[dict[str, Any]], **metadata: str) -> None:
    content = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    rig.objects.put(key, content, metadata)


def test_a_file_dropped_under_incoming_becomes_a_batch_and_runs(rig: Rig) -> None:
    # Given a file dropped under the tenant's prefix, naming one of its keys
    key = rig.key()
    key_id = key.split("_")[1]
    object_key = f"incoming/acme/nightly {SSN}.jsonl"
    _drop(rig, object_key, [embed("a", f"ssn {SSN}"), embed("b", "two")], **{"steward-key-id": key_id})
    # When S3's notification reaches the worker, twice (S3 may deliver it again)
    assert rig.run_event([s3_event(object_key), s3_event(object_key)]) == set()
    rig.deliver()
    # Then one batch ran it, listed for the tenant, naming the object in its metadata
    listed = rig.client.get("/v1/batches", headers=rig.headers(key)).json()["data"]
    assert len(listed) == 1
    batch = listed[0]
    assert batch["status"] == "completed" and batch["request_counts"] == {
        "total": 2,
        "completed": 2,
        "failed": 0,
    }
    assert batch["metadata"] == {"source": "s3", "object": object_key}
    # And the dropped object is gone, its bytes kept sealed as the batch's input file
    assert object_key not in rig.objects.objects
    assert all(SSN.encode() not in blob for blob in rig.objects.objects.values())
    content = rig.client.get(f"/v1/files/{batch['input_file_id']}/content", headers=rig.headers(key))
    assert f"ssn {SSN}".encode() in content.content
    # And the pipeline finds the manifest under results/<tenant>/<name>/: ids, counts, no content
    prefix = f"results/acme/nightly {SSN}.jsonl/"
    manifest = json.loads(rig.objects.objects[prefix + "manifest.json"])
    assert manifest["status"] == "completed" and manifest["batch_id"] == batch["id"]
    assert manifest["counts"] == {"total": 2, "ok": 2, "failed": 0, "blocked": 0}
    assert manifest["output_file_id"] == batch["output_file_id"] and manifest["error_file_id"] is None
    assert f"ssn {SSN}" not in rig.objects.objects[prefix + "manifest.json"].decode()


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({}, "invalid_key"),
        ({"steward-key-id": "nokey"}, "invalid_key"),
        ({"steward-key-id": "<globex>"}, "invalid_key"),
        ({"steward-key-id": "<acme>", "steward-endpoint": "/v1/chat/completions"}, "invalid_endpoint"),
        ({"steward-key-id": "<acme>", "steward-endpoint": "/v2/models/no-such/infer"}, "model_not_found"),
    ],
)
def test_a_drop_in_that_cannot_run_is_a_failed_batch_saying_why(
    rig: Rig, metadata: dict[str, str], code: str
) -> None:
    keys = {"<acme>": rig.key("acme").split("_")[1], "<globex>": rig.key("globex").split("_")[1]}
    filled = {k: keys.get(v, v) for k, v in metadata.items()}
    _drop(rig, "incoming/acme/x.jsonl", [embed("a", "one")], **filled)
    assert rig.run_event([s3_event("incoming/acme/x.jsonl")]) == set()
    (stored,) = rig.store.batches.values()
    assert stored.status.value == "failed" and stored.errors[0]["code"] == code
    assert rig.queue.sent == [] and rig.transport.calls == []
    assert "incoming/acme/x.jsonl" not in rig.objects.objects
    manifest = json.loads(rig.objects.objects["results/acme/x.jsonl/manifest.json"])
    assert manifest["status"] == "failed" and manifest["counts"]["total"] == 0


@pytest.mark.parametrize("name", ["Nächte + 夜.jsonl", "a%2Fb c+d.jsonl", "emoji 🙂 (1).jsonl"])
def test_a_drop_in_named_with_any_unicode_runs_under_its_decoded_name(rig: Rig, name: str) -> None:
    key = rig.key()
    object_key = f"incoming/acme/{name}"
    _drop(rig, object_key, [embed("a", "one")], **{"steward-key-id": key.split("_")[1]})
    assert rig.run_event([s3_event(object_key)]) == set()  # S3 sends the key URL-encoded
    rig.deliver()
    [batch] = rig.client.get("/v1/batches", headers=rig.headers(key)).json()["data"]
    assert batch["status"] == "completed" and batch["metadata"] == {"source": "s3", "object": object_key}
    assert object_key not in rig.objects.objects


def test_a_drop_in_reports_progress_then_a_manifest_counting_blocked_lines(rig: Rig) -> None:
    # Given a drop-in of three chunks whose last line names a model the key can't use and whose
    # first is refused by the schema, under a tenant privacy policy that blocks e-mail addresses
    admin_key = rig.key("acme", admin=True)
    policy = {"entities": {"EMAIL_ADDRESS": {"operator": "block"}}}
    assert (
        rig.client.put("/admin/policies/acme", headers=rig.headers(admin_key), json=policy).status_code == 201
    )
    key = rig.key(models=(MINILM,))
    rows = [line("a", {"model": MINILM}), embed("b", "write to ana@example.com"), embed("c", "two"),
            embed("d", "three"), embed("e", "four"), embed("f", "x", model=CREDIT)]  # fmt: skip
    object_key = "incoming/acme/run.jsonl"
    _drop(rig, object_key, rows, **{"steward-key-id": key.split("_")[1]})
    rig.run_event([s3_event(object_key)])
    rig.run_event(rig.queue.take())  # the plan: three chunks queued
    chunks = rig.queue.take()
    # When the first chunk is counted, progress says so
    rig.run_event(chunks[:1])
    progress = json.loads(rig.objects.objects["results/acme/run.jsonl/progress.json"])
    assert progress["status"] == "in_progress" and (progress["chunks_done"], progress["chunk_count"]) == (
        1,
        3,
    )
    assert "results/acme/run.jsonl/manifest.json" not in rig.objects.objects
    # And once all are, the manifest counts the blocked line apart from the other refusals
    rig.run_event(chunks[1:])
    manifest = json.loads(rig.objects.objects["results/acme/run.jsonl/manifest.json"])
    assert manifest["status"] == "completed"
    assert manifest["counts"] == {"total": 6, "ok": 3, "failed": 3, "blocked": 1}
    assert "ana@example.com" not in json.dumps(manifest)


def test_an_api_batch_writes_no_results_under_any_name(rig: Rig) -> None:
    key = rig.key()
    file_id = rig.upload(key, [embed("a", "one")])
    for tenant in ("acme", "globex"):  # look-alike metadata, its own tenant's prefix or another's
        rig.create(key, file_id, metadata={"source": "s3", "object": f"incoming/{tenant}/x"})
    rig.deliver()
    assert not [k for k in rig.objects.objects if k.endswith(("manifest.json", "progress.json"))]


def test_s3_test_events_are_no_jobs_and_foreign_prefixes_are_poison(rig: Rig) -> None:
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert rig.run_event([test_event]) == set()
    assert len(rig.run_event([s3_event("files/acme/x"), s3_event("incoming/../x.jsonl")])) == 2
    assert rig.store.batches == {}
