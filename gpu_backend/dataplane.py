"""The data plane: one implementation behind the OIP and SageMaker routes.

It owns the model records (loaded or refused, with the reason), readiness, the SIGTERM drain and
the request path decode -> validate -> batch -> encode. Routes only read bodies and map errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpu_backend import __version__
from gpu_backend.batcher import DynamicBatcher
from gpu_backend.codec import (
    Tensor,
    check_against_spec,
    check_finite,
    decode_inputs,
    encode_response,
    loads_json,
)
from gpu_backend.errors import (
    BackendError,
    DrainingError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from gpu_backend.explain.service import ExplainService
from gpu_backend.manifest import BatchingConfig, Manifest, ModelSource, TensorSpec, read_manifest
from gpu_backend.metrics import UNKNOWN_MODEL, Metrics
from gpu_backend.models import model_for
from gpu_backend.models.base import ServedModel
from gpu_backend.repository import discover, version_key
from gpu_backend.settings import Settings

log = logging.getLogger(__name__)

SERVER_NAME = "steward-gpu-backend"
PLATFORM = "onnxruntime_onnx"  # what Triton reports for ONNX models
EXTENSIONS = ["model_repository", "binary_tensor_data", "sagemaker", "metrics"]
LOADING, READY, UNAVAILABLE = "LOADING", "READY", "UNAVAILABLE"


@dataclass(frozen=True)
class RecordMetrics:
    """Metric children bound to one model version, looked up once instead of per request."""

    requests: Any
    request_seconds: Any
    queue_seconds: Any
    compute_seconds: Any

    @classmethod
    def bind(cls, metrics: Metrics, name: str, version: str) -> RecordMetrics:
        return cls(
            requests=metrics.requests.labels(name, version),
            request_seconds=metrics.request_seconds.labels(name, version),
            queue_seconds=metrics.queue_seconds.labels(name, version),
            compute_seconds=metrics.compute_seconds.labels(name, version),
        )


@dataclass
class ModelRecord:
    """A model version found in the repository, whether or not it loaded."""

    name: str
    version: str
    path: Path
    state: str = LOADING
    reason: str = ""
    manifest: Manifest | None = None
    model: ServedModel | None = None
    batcher: DynamicBatcher | None = None
    input_specs: dict[str, TensorSpec] = field(default_factory=dict)
    output_specs: dict[str, TensorSpec] = field(default_factory=dict)
    observers: RecordMetrics | None = None

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"


class DataPlane:
    """Shared by every protocol front end; see the module docstring."""

    def __init__(self, settings: Settings, repository: Path, metrics: Metrics) -> None:
        self.settings = settings
        self.repository = repository
        self.metrics = metrics
        self.models: dict[str, dict[str, ModelRecord]] = {}
        self.loaded = asyncio.Event()
        self.draining = False
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.explainer = ExplainService()

    # --------------------------------------------------------------------------- lifecycle

    async def load_all(self) -> None:
        """Load every model version off the event loop; a failure marks that version only."""
        loop = asyncio.get_running_loop()
        try:
            sources = await loop.run_in_executor(None, discover, self.repository)
        except FileNotFoundError as exc:
            log.error("%s", exc)
            sources = []
        for source in sources:
            self.models.setdefault(source.name, {})[source.version] = ModelRecord(
                source.name,
                source.version,
                source.path,
                observers=RecordMetrics.bind(self.metrics, source.name, source.version),
            )
        for source in sources:
            record = self.models[source.name][source.version]
            try:
                model = await loop.run_in_executor(None, self._load_one, source)
            except ModelLoadError as exc:
                record.state, record.reason = UNAVAILABLE, str(exc)
                log.error("model %s not loaded: %s", record.label, exc)
                continue
            except Exception as exc:  # a loader bug must not take the other models down
                record.state, record.reason = UNAVAILABLE, f"unexpected load failure: {exc}"
                log.exception("model %s not loaded", record.label)
                continue
            self._activate(record, model)
        if not sources:
            log.warning("model repository %s holds no models", self.repository)
        self.loaded.set()
        self.refresh_gauges()

    def _load_one(self, source: ModelSource) -> ServedModel:
        manifest = read_manifest(source)
        record = self.models[source.name][source.version]
        record.manifest = manifest
        model = model_for(manifest, source.path, self.settings)
        if not model.load():
            raise ModelLoadError("load() reported not ready")
        return model

    def _activate(self, record: ModelRecord, model: ServedModel) -> None:
        manifest = model.manifest
        config = manifest.batching
        if self.settings.no_batching:
            config = BatchingConfig(
                max_batch_size=1, max_queue_delay_ms=0.0, preferred_batch_sizes=(),
                max_queue_size=config.max_queue_size, request_timeout_ms=config.request_timeout_ms,
                sequence_buckets=config.sequence_buckets,
            )  # fmt: skip
        labels = (record.name, record.version)
        batch_hist = self.metrics.batch_size.labels(*labels)
        executions = self.metrics.executions.labels(*labels)

        def observe(rows: int, _compute_s: float) -> None:
            batch_hist.observe(rows)
            executions.inc()

        batcher = DynamicBatcher(
            model.predict, config, label=record.label, observer=observe, instances=model.instances
        )
        batcher.start()
        record.model, record.batcher = model, batcher
        record.input_specs = {s.name: s for s in manifest.inputs}
        record.output_specs = {s.name: s for s in manifest.outputs}
        record.state, record.reason = READY, ""
        log.info(
            "model %s ready on %s (%s), max_batch_size=%d, instances=%d",
            record.label, model.provider, model.precision, config.max_batch_size, model.instances,
        )  # fmt: skip

    async def drain(self, timeout_s: float) -> bool:
        """Readiness goes false, new inference gets 503; wait for in-flight requests to finish."""
        self.draining = True
        self.refresh_gauges()
        log.info("draining: %d request(s) in flight", self._inflight)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            log.warning("drain timed out with %d request(s) in flight", self._inflight)
            return False

    async def close(self) -> None:
        for versions in self.models.values():
            for record in versions.values():
                if record.batcher is not None:
                    await record.batcher.stop()
                if record.model is not None:
                    record.model.unload()
                if record.state == READY:
                    record.state, record.reason = UNAVAILABLE, "server shut down"
        self.explainer.close()

    # ------------------------------------------------------------------------------ health

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        """Loading finished and not draining. Models that failed to load are reported per model
        (`/v2/models/{m}/ready`) and do not hold back the ones that loaded."""
        return self.loaded.is_set() and not self.draining

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}

    def resolve(self, name: str, version: str | None) -> ModelRecord:
        versions = self.models.get(name)
        if not versions:
            raise ModelNotFoundError(f"unknown model '{name}'")
        if version is not None:
            record = versions.get(version)
            if record is None:
                raise ModelNotFoundError(
                    f"unknown version '{version}' of model '{name}' "
                    f"(available: {sorted(versions, key=version_key)})"
                )
            return record
        ordered = sorted(versions.values(), key=lambda r: version_key(r.version))
        ready = [r for r in ordered if r.ready]
        return (ready or ordered)[-1]

    def model_ready(self, name: str, version: str | None) -> bool:
        return self.resolve(name, version).ready and not self.draining

    def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        record = self.resolve(name, version)
        manifest = record.manifest
        versions = sorted(self.models[name], key=version_key)
        params: dict[str, Any] = {"state": record.state, "version": record.version}
        if record.reason:
            params["reason"] = record.reason
        if record.model is not None:
            params.update(record.model.metadata_parameters())
        return {
            "name": record.name,
            "versions": versions,
            "platform": PLATFORM,
            "inputs": [s.as_metadata() for s in manifest.inputs] if manifest else [],
            "outputs": [s.as_metadata() for s in manifest.outputs] if manifest else [],
            "parameters": params,
        }

    def repository_index(self) -> list[dict[str, Any]]:
        """Triton's model repository extension: every version with its state and reason."""
        index = []
        for name in sorted(self.models):
            for version in sorted(self.models[name], key=version_key):
                record = self.models[name][version]
                entry = {"name": name, "version": version, "state": record.state}
                if record.reason:
                    entry["reason"] = record.reason
                index.append(entry)
        return index

    def refresh_gauges(self) -> None:
        self.metrics.server_ready.set(1 if self.ready() else 0)
        for versions in self.models.values():
            for record in versions.values():
                labels = (record.name, record.version)
                self.metrics.model_ready.labels(*labels).set(1 if record.ready and not self.draining else 0)
                if record.model is not None and record.model.provider:
                    self.metrics.model_info.labels(
                        *labels, record.model.provider, record.model.precision
                    ).set(1)
                depth = record.batcher.queue_depth if record.batcher is not None else 0
                self.metrics.queue_depth.labels(*labels).set(depth)

    # ------------------------------------------------------------------------------- infer

    async def infer(
        self,
        name: str | None,
        version: str | None,
        body: bytes,
        header_length: str | None = None,
    ) -> tuple[bytes, int | None]:
        """Run one OIP inference request; `name=None` takes the model from the body (SageMaker)."""
        from gpu_backend.codec import split_binary_body

        start = time.perf_counter()
        labels = (UNKNOWN_MODEL, "")
        try:
            with self._in_flight("server is draining (SIGTERM received) and takes no new inference requests"):
                record: ModelRecord | None = None
                if name is not None:
                    record = self._count(self.resolve(name, version))
                    labels = (record.name, record.version)
                json_part, binary = split_binary_body(body, header_length)
                request = loads_json(json_part)
                if not isinstance(request, dict):
                    raise InvalidInputError("request body must be a JSON object with an 'inputs' list")
                if record is None:
                    record = self._count(self._resolve_from_body(request))
                    labels = (record.name, record.version)
                assert record.observers is not None
                if not record.ready or record.batcher is None:
                    raise ModelNotReadyError(self._not_ready_message(record))
                response = await self._infer_ready(record, request, binary)
                record.observers.request_seconds.observe(time.perf_counter() - start)
                return response
        except BackendError as exc:
            if labels[0] == UNKNOWN_MODEL:
                self.metrics.requests.labels(*labels).inc()
            self.metrics.failures.labels(*labels, exc.reason).inc()
            raise
        except Exception:
            self.metrics.failures.labels(*labels, "internal").inc()
            raise

    async def explain(self, name: str, version: str | None, body: bytes) -> dict[str, Any]:
        """Explain rows with the model's own session (`gpu_backend.explain.service`); same
        404/400/503 rules as inference, and it counts as in flight for the SIGTERM drain."""
        with self._in_flight("server is draining (SIGTERM received) and takes no new requests"):
            record = self.resolve(name, version)
            if not record.ready or record.model is None:
                raise ModelNotReadyError(self._not_ready_message(record))
            return await self.explainer.explain(record.model, body)

    @contextlib.contextmanager
    def _in_flight(self, refusal: str) -> Iterator[None]:
        """Hold one request for the SIGTERM drain; once draining, refuse it with `refusal` (503).

        The request counts as in flight from before the drain check until it returns, so `drain`
        never sees the server idle while an admitted request still runs.
        """
        self._inflight += 1
        self._idle.clear()
        try:
            if self.draining:
                raise DrainingError(refusal)
            yield
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    @staticmethod
    def _count(record: ModelRecord) -> ModelRecord:
        assert record.observers is not None
        record.observers.requests.inc()
        return record

    def _resolve_from_body(self, request: dict[str, Any]) -> ModelRecord:
        name = request.get("model_name")
        version = request.get("model_version")
        if name is None:
            ready = [r for versions in self.models.values() for r in versions.values()]
            if len({r.name for r in ready}) == 1:
                return self.resolve(ready[0].name, version if isinstance(version, str) else None)
            raise InvalidInputError(
                "no target model: set the X-Amzn-SageMaker-Target-Model header or 'model_name' in the body"
            )
        if not isinstance(name, str) or (version is not None and not isinstance(version, str)):
            raise InvalidInputError("'model_name' and 'model_version' must be strings")
        return self.resolve(name, version)

    def _not_ready_message(self, record: ModelRecord) -> str:
        if record.state == LOADING:
            return f"model '{record.name}' version '{record.version}' is still loading"
        return (
            f"model '{record.name}' version '{record.version}' is not ready: {record.reason or record.state}"
        )

    async def _infer_ready(
        self, record: ModelRecord, request: dict[str, Any], binary: bytes
    ) -> tuple[bytes, int | None]:
        assert record.batcher is not None and record.manifest is not None
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInputError("'id' must be a string")
        params = request.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInputError("'parameters' must be an object")
        tensors = decode_inputs(request.get("inputs"), binary)
        feeds = self._validate_inputs(record, tensors)
        rows = self._batch_rows(record, tensors)
        outputs = self._requested_outputs(
            record, request.get("outputs"), bool(params.get("binary_data_output"))
        )
        timeout_ms = self._timeout_ms(params, record.batcher.config.request_timeout_ms)

        result = await record.batcher.submit(feeds, rows, timeout_ms)
        assert record.observers is not None
        record.observers.queue_seconds.observe(result.queue_s)
        record.observers.compute_seconds.observe(result.compute_s)

        header: dict[str, Any] = {"model_name": record.name, "model_version": record.version}
        if request_id is not None:
            header["id"] = request_id
        encoded = [(spec, _as_numpy(result.outputs[spec.name]), as_binary) for spec, as_binary in outputs]
        return encode_response(header, encoded)

    def _validate_inputs(self, record: ModelRecord, tensors: list[Tensor]) -> dict[str, np.ndarray]:
        manifest = record.manifest
        assert manifest is not None
        specs = record.input_specs
        given = {t.name for t in tensors}
        unknown = sorted(given - specs.keys())
        if unknown:
            raise InvalidInputError(
                f"unexpected input(s) {unknown} for model '{record.name}'; it takes {sorted(specs)}"
            )
        missing = sorted(specs.keys() - given)
        if missing:
            raise InvalidInputError(f"missing input(s) {missing} for model '{record.name}'")
        for tensor in tensors:
            check_against_spec(tensor, specs[tensor.name], record.name)
            if not manifest.allow_non_finite:
                check_finite(tensor, record.name)
        return {t.name: t.array for t in tensors}

    def _batch_rows(self, record: ModelRecord, tensors: list[Tensor]) -> int:
        manifest = record.manifest
        assert manifest is not None
        if not manifest.batchable:
            return 1
        rows = {t.shape[0] for t in tensors}
        if len(rows) != 1:
            raise InvalidInputError(f"inputs disagree on the batch size (first dimension): {sorted(rows)}")
        (n,) = rows
        limit = manifest.batching.max_batch_size
        if n > limit:
            raise InvalidInputError(
                f"batch of {n} exceeds model '{record.name}' max_batch_size {limit}; split the request"
            )
        return n

    def _requested_outputs(
        self, record: ModelRecord, raw: Any, binary_default: bool
    ) -> list[tuple[TensorSpec, bool]]:
        specs = record.output_specs
        if raw is None:
            return [(spec, binary_default) for spec in specs.values()]
        if not isinstance(raw, list) or not raw:
            raise InvalidInputError("'outputs' must be a non-empty list of {\"name\": ...} objects")
        chosen: list[tuple[TensorSpec, bool]] = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidInputError(f"outputs[{i}] must be an object with a 'name'")
            spec = specs.get(item["name"])
            if spec is None:
                raise InvalidInputError(
                    f"unknown output '{item['name']}' requested from model '{record.name}'; "
                    f"it has {sorted(specs)}"
                )
            params = item.get("parameters") or {}
            if not isinstance(params, dict):
                raise InvalidInputError(f"outputs[{i}].parameters must be an object")
            chosen.append((spec, bool(params.get("binary_data", binary_default))))
        return chosen

    @staticmethod
    def _timeout_ms(params: dict[str, Any], configured_ms: float) -> float:
        """Triton's request `timeout` parameter (microseconds) may shorten, never extend, the limit."""
        raw = params.get("timeout")
        if raw is None:
            return configured_ms
        if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
            raise InvalidInputError("parameters.timeout must be a positive integer (microseconds)")
        return min(configured_ms, raw / 1000.0)


def _as_numpy(value: Any) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.asarray(value)
