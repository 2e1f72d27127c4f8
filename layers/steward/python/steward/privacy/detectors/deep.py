"""The deep privacy path: PERSON / LOCATION / STREET_ADDRESS from a backend token classifier.

A ``steward.privacy`` :class:`~steward.privacy.detectors.Detector` that sends the normalised text
to a ``token-classification`` model version (``pii-ner`` by default) through the same
:class:`~steward.routing.router.Router` the gateway uses (HTTP or SageMaker transport, deadline,
retries, circuit breaker), and maps the character spans it answers back to the caller's text.
Given ``rules`` (the fast path's name and place detector, as production wires it), they weigh in
as a third reader next to the ``readings`` of the model's own components
(:mod:`steward.privacy.detectors.deep_readings`).

Fail closed: any failure - model not in the registry, backend down or slow, an answer that is
not the documented shape, a span outside the text - raises, and the privacy engine turns that into
``pii.detector_error`` (the request is refused, never passed through). Nothing is logged here;
the engine logs the detector name and error type only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from steward.auth.principal import Principal
from steward.catalog.registry import ModelVersion, Registry, split_model_ref
from steward.catalog.signature import tensor_name
from steward.privacy.detectors.base import Detector
from steward.privacy.detectors.deep_readings import ModelSpan, settle
from steward.privacy.entities import NER_TYPES
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.routing.router import Router
from steward.routing.transport import BackendRequest

DEFAULT_MODEL = "pii-ner"
INPUT_NAME = "text"
OUTPUT_NAME = "entities"

#: Returns the routable model version to call (looked up per call, so registry changes apply).
Resolver = Callable[[], ModelVersion]


class DeepPiiResponseError(ValueError):
    """The backend answered 200 with something other than the documented entities output."""


class DeepPiiDetector:
    """``Detector`` for the NER types, backed by a model served by ``gpu_backend``."""

    name = "deep_pii"
    entity_types: frozenset[str] = NER_TYPES

    def __init__(self, router: Router, resolve: Resolver, rules: Detector | None = None) -> None:
        self._router = router
        self._resolve = resolve
        self._rules = rules

    def detect(self, view: TextView) -> list[Finding]:
        text = view.text
        if not text.strip():
            return []
        version = self._resolve()
        payload = {
            "inputs": [{"name": tensor_name(version.inputs, INPUT_NAME), "datatype": "BYTES", "shape": [1],
                        "data": [text]}],
        }  # fmt: skip
        request = BackendRequest(
            model=version.backend_model, version=version.backend_version, payload=payload
        )
        result = self._router.call(version.target, request)
        return self._findings(result.payload, view, tensor_name(version.outputs, OUTPUT_NAME))

    def _findings(self, payload: Mapping[str, Any], view: TextView, output: str) -> list[Finding]:
        entities = parse_entities(payload, output)
        limit = len(view.text)
        spans: list[ModelSpan] = []
        for entity_type, start, end, score, readings in entities:
            if entity_type not in self.entity_types:
                continue
            if not 0 <= start < end <= limit:
                raise DeepPiiResponseError("entity span outside the text")
            o_start, o_end = view.to_original(start, end)
            spans.append(ModelSpan(entity_type, o_start, o_end, min(max(score, 0.0), 1.0), readings))
        if self._rules is not None:
            return settle(spans, self._rules.detect(view), view.original, self.name)
        return [Finding(s.entity_type, s.start, s.end, s.score, self.name) for s in spans]


Entity = tuple[str, int, int, float, dict[str, str]]


def parse_entities(payload: Mapping[str, Any], output: str = OUTPUT_NAME) -> list[Entity]:
    """``(entity_type, start, end, score, readings)`` from an OIP answer with one BYTES JSON element.

    ``readings`` (optional: ``{model: type}``) is empty when the answer has none."""
    outputs = payload.get("outputs")
    if not isinstance(outputs, list):
        raise DeepPiiResponseError("no outputs")
    tensor = next((o for o in outputs if isinstance(o, dict) and o.get("name") == output), None)
    if tensor is None or tensor.get("datatype") != "BYTES":
        raise DeepPiiResponseError(f"no BYTES output {output!r}")
    data = tensor.get("data")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], str):
        raise DeepPiiResponseError("expected exactly one JSON string")
    try:
        items = orjson.loads(data[0])
    except orjson.JSONDecodeError:
        raise DeepPiiResponseError("entities are not JSON") from None
    if not isinstance(items, list):
        raise DeepPiiResponseError("entities are not a list")
    parsed: list[Entity] = []
    for item in items:
        if not isinstance(item, dict):
            raise DeepPiiResponseError("entity is not an object")
        kind, start, end, score = (item.get(k) for k in ("entity_type", "start", "end", "score"))
        if (
            not isinstance(kind, str)
            or not _is_int(start)
            or not _is_int(end)
            or not isinstance(score, int | float)
            or isinstance(score, bool)
        ):
            raise DeepPiiResponseError("entity fields have the wrong types")
        readings = item.get("readings", {})
        if not isinstance(readings, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in readings.items()
        ):
            raise DeepPiiResponseError("entity readings are not an object of strings")
        parsed.append((kind, int(start), int(end), float(score), readings))  # type: ignore[arg-type]
    return parsed


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def registry_resolver(registry: Registry, model_ref: str = DEFAULT_MODEL) -> Resolver:
    """Resolve ``name[@version]`` through the registry (cached there; approved, enabled versions only).

    The privacy check is Steward's own call, not a tenant's, so it resolves as a system principal
    entitled to that one model; an unknown or unapproved model raises ``ModelNotFound``.
    """
    name, version = split_model_ref(model_ref)
    system = Principal(tenant_id="steward-system", key_id="privacy-deep-path", scopes=frozenset(),
                       models=frozenset({name}))  # fmt: skip

    def resolve() -> ModelVersion:
        return registry.resolve(system, name, version).version

    return resolve
