"""Dynamic batching through the HTTP app: concurrent requests run as one batch; the switch off."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import numpy as np
from server_helpers import cpu_settings, running_app, text_request
from tiny_models import embed_reference, write_embedding

from gpu_backend.server import create_app

SENTENCES = [
    "a man is eating food",
    "hello world",
    "the girl is carrying a baby",
    "a man is riding a horse",
    "quarterly revenue grew",
    "steward serves models fast and safely",
    "operating costs stayed flat",
    "a piece of bread",
]


def batch_histogram(metrics_text: str) -> dict[str, float]:
    pattern = r'steward_backend_batch_size_bucket\{le="([^"]+)",model="tiny-embed",version="1"\} (\S+)'
    return {le: float(v) for le, v in re.findall(pattern, metrics_text)}


async def _send_all(http: httpx.AsyncClient) -> list[httpx.Response]:
    return await asyncio.gather(
        *(
            http.post("/v2/models/tiny-embed/infer", json=text_request([s], id=str(i)))
            for i, s in enumerate(SENTENCES)
        )
    )


def test_concurrent_requests_are_executed_together(tmp_path: Path) -> None:
    # Given an embedding model that batches up to 8 rows and would wait a minute for a full batch
    write_embedding(tmp_path, max_batch_size=8, max_queue_delay_ms=60_000)
    app = create_app(cpu_settings(tmp_path))

    async def scenario() -> tuple[list[httpx.Response], str]:
        async with running_app(app) as http:
            # When eight single-sentence requests arrive concurrently
            responses = await _send_all(http)
            return responses, (await http.get("/metrics")).text

    responses, metrics = asyncio.run(scenario())
    # Then the model executed once, with all eight rows
    hist = batch_histogram(metrics)
    assert hist["4.0"] == 0 and hist["8.0"] == 1 and hist["+Inf"] == 1
    # And each response holds its own sentence's embedding and id
    expected = embed_reference(SENTENCES)
    for i, response in enumerate(responses):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == str(i)
        np.testing.assert_allclose(body["outputs"][0]["data"], expected[i], atol=1e-5)


def test_no_batching_runs_each_request_alone(tmp_path: Path) -> None:
    # Given the same model served with batching switched off
    write_embedding(tmp_path, max_batch_size=8, max_queue_delay_ms=60_000)
    app = create_app(cpu_settings(tmp_path, no_batching=True))

    async def scenario() -> str:
        async with running_app(app) as http:
            # When eight requests arrive concurrently
            responses = await _send_all(http)
            assert all(r.status_code == 200 for r in responses)
            return (await http.get("/metrics")).text

    hist = batch_histogram(asyncio.run(scenario()))
    # Then there were eight executions of one row each
    assert hist["1.0"] == 8 and hist["+Inf"] == 8


def test_a_full_queue_answers_503_with_a_clear_error(tmp_path: Path) -> None:
    # Given a queue of 2 whose batches wait a minute for 8 rows
    write_embedding(
        tmp_path, max_batch_size=8, max_queue_delay_ms=60_000, max_queue_size=2, request_timeout_ms=60_000
    )
    app = create_app(cpu_settings(tmp_path))

    async def scenario() -> httpx.Response:
        async with running_app(app) as http:
            waiting = [
                asyncio.ensure_future(http.post("/v2/models/tiny-embed/infer", json=text_request(["x"])))
                for _ in range(2)
            ]
            while app.state.dataplane.models["tiny-embed"]["1"].batcher.queue_depth < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            # When a third request arrives
            response = await http.post("/v2/models/tiny-embed/infer", json=text_request(["y"]))
            for task in waiting:
                task.cancel()
            return response

    response = asyncio.run(scenario())
    # Then it gets 503 saying the queue is full
    assert response.status_code == 503
    assert "queue is full" in response.json()["error"]


def test_a_request_that_times_out_in_the_queue_is_503(tmp_path: Path) -> None:
    # Given a model whose batches wait a minute for 8 rows, and a 50 ms request timeout
    write_embedding(tmp_path, max_batch_size=8, max_queue_delay_ms=60_000, request_timeout_ms=50)
    app = create_app(cpu_settings(tmp_path))

    async def scenario() -> httpx.Response:
        async with running_app(app) as http:
            # When one request is sent
            return await http.post("/v2/models/tiny-embed/infer", json=text_request(["x"]))

    response = asyncio.run(scenario())
    # Then it times out in the queue with 503
    assert response.status_code == 503
    assert "request timeout" in response.json()["error"]


def test_two_instances_share_concurrent_requests_and_report_it(tmp_path: Path) -> None:
    # Given an embedding model served with two instances, batches of up to 8 and a long delay
    write_embedding(tmp_path, max_batch_size=8, max_queue_delay_ms=60_000)
    app = create_app(cpu_settings(tmp_path, instances=2))

    async def scenario() -> tuple[list[httpx.Response], str, dict[str, object]]:
        async with running_app(app) as http:
            # When eight single-sentence requests arrive concurrently
            responses = await _send_all(http)
            metadata = (await http.get("/v2/models/tiny-embed")).json()
            return responses, (await http.get("/metrics")).text, metadata

    responses, metrics, metadata = asyncio.run(scenario())
    # Then the two idle instances took four rows each
    hist = batch_histogram(metrics)
    assert hist["2.0"] == 0 and hist["4.0"] == 2 and hist["+Inf"] == 2
    # And every response still holds its own sentence's embedding
    expected = embed_reference(SENTENCES)
    for i, response in enumerate(responses):
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["outputs"][0]["data"], expected[i], atol=1e-5)
    # And the metadata says how many batches the model runs at once
    assert metadata["parameters"]["instances"] == 2  # type: ignore[index]
