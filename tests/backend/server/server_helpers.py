"""Helpers shared by the server tests: settings, readiness waits, request builders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient
from tiny_models import relu_graph, write_dtypes, write_embedding, write_fixed, write_model, write_tabular

from gpu_backend.server import InferenceFastPath
from gpu_backend.settings import Settings

READY_WAIT_S = 60.0  # an upper bound for slow CI machines, not a timing assertion


def build_tiny_repository(root: Path) -> Path:
    """Good models plus one of each refusal: tampered artifact, malformed manifest, shape mismatch."""
    write_tabular(root)
    write_tabular(root, version="2")
    write_embedding(root)
    write_dtypes(root)
    write_fixed(root)
    tampered = write_tabular(root, name="tampered")
    model = bytearray((tampered / "model.onnx").read_bytes())
    model[-5] ^= 0x01  # same size, different digest
    (tampered / "model.onnx").write_bytes(bytes(model))
    malformed = write_tabular(root, name="malformed")
    manifest = json.loads((malformed / "manifest.json").read_text())
    del manifest["inputs"]
    (malformed / "manifest.json").write_text(json.dumps(manifest))
    write_model(
        root,
        "fixed-mismatch",
        "1",
        {"model.onnx": relu_graph([1, 3])},
        {
            "task": "relu",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}],
            "batching": {"max_batch_size": 4},
        },
    )
    return root


def cpu_settings(repository: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"use_gpu": False, "intra_op_threads": 1, "instances": 1, **overrides}
    return Settings(model_repository=repository, **values)


def wait_until_loaded(client: TestClient) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while client.get("/v2/health/ready").status_code != 200:
        if time.monotonic() > deadline:
            raise AssertionError("server did not finish loading models")
        time.sleep(0.02)


@contextlib.asynccontextmanager
async def running_app(app: InferenceFastPath) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it in-process on the current event loop, so concurrent
    requests really interleave (TestClient serialises them through a portal)."""
    async with app.app.router.lifespan_context(app.app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as http:
            deadline = time.monotonic() + READY_WAIT_S
            while (await http.get("/v2/health/ready")).status_code != 200:
                if time.monotonic() > deadline:
                    raise AssertionError("server did not finish loading models")
                await asyncio.sleep(0.02)
            yield http


def features_request(rows: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [len(rows), len(rows[0])], "data": rows}
        ],
        **extra,
    }


def text_request(texts: list[str], **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}], **extra}
