"""The deep privacy path adapter: backend entities -> findings, and failures refuse the request."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from steward.catalog.registry import Registry, Target
from steward.errors import ModelNotFound
from steward.privacy import DetectionEngine, DetectorFailure, RedactionContext, default_policy, redact
from steward.privacy.detectors.deep import DeepPiiDetector, registry_resolver
from steward.privacy.normalize import normalize
from steward.privacy.policy import DetectionPath
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse

from tests.fakes import FakeTransport, InMemoryRegistryStore, demo_model

TEXT = "My name is Maria Garcia and I live in Denver."
MARIA = {"entity_type": "PERSON", "start": 11, "end": 23, "score": 0.97}
DENVER = {"entity_type": "LOCATION", "start": 38, "end": 44, "score": 0.91}


def answer(entities: list[dict[str, Any]], *, status: int = 200) -> BackendResponse:
    body = {
        "model_name": "pii-ner",
        "model_version": "1",
        "outputs": [{"name": "entities", "datatype": "BYTES", "shape": [1], "data": [json.dumps(entities)]}],
    }
    return BackendResponse(status, json.dumps(body).encode())


def registry_with_pii_model(*, approval: str = "approved") -> Registry:
    store = InMemoryRegistryStore()
    entry, version = demo_model("pii-ner", "1", approval=approval, task="token-classification")
    store.put_entry(entry)
    store.put_version(
        dataclasses.replace(version, outputs=({"name": "entities", "datatype": "BYTES", "shape": [-1]},))
    )
    return Registry(store)


def detector_answering(respond: Any, *, approval: str = "approved") -> tuple[DeepPiiDetector, FakeTransport]:
    transport = FakeTransport(respond=respond)
    router = Router({"http": transport}, RouterPolicy(max_attempts=1), sleep=lambda _s: None)
    registry = registry_with_pii_model(approval=approval)
    return DeepPiiDetector(router, registry_resolver(registry, "pii-ner")), transport


def test_entities_from_the_backend_become_findings_on_the_callers_text() -> None:
    # Given a backend that finds Maria Garcia and Denver
    detector, transport = detector_answering(lambda _t, _r: answer([MARIA, DENVER]))
    # When the detector runs on the sentence
    findings = detector.detect(normalize(TEXT))
    # Then both spans come back with their types, scores and the detector's name
    assert [(TEXT[f.start : f.end], f.entity_type, f.score, f.detector) for f in findings] == [
        ("Maria Garcia", "PERSON", 0.97, "deep_pii"),
        ("Denver", "LOCATION", 0.91, "deep_pii"),
    ]
    # And the request went to the registry's backend model version as one BYTES input
    target, request, _timeout = transport.calls[0]
    assert isinstance(request, BackendRequest)
    assert (target, request.model, request.version) == (
        Target(kind="http", url="http://backend.test"),
        "pii-ner",
        "1",
    )
    assert request.payload["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [TEXT]}]


def test_spans_found_in_the_normalised_text_map_back_across_removed_characters() -> None:
    # Given a text with a zero-width space before the name (removed by normalisation)
    text = "Hi \u200bMaria Garcia"
    normalised = "Hi Maria Garcia"
    span = {"entity_type": "PERSON", "start": 3, "end": 15, "score": 0.9}
    detector, transport = detector_answering(lambda _t, _r: answer([span]))
    # When the detector runs
    (finding,) = detector.detect(normalize(text))
    # Then the backend saw the normalised text and the finding cuts the caller's characters
    assert transport.calls[0][1].payload["inputs"][0]["data"] == [normalised]
    assert text[finding.start : finding.end] == "Maria Garcia"


def test_types_outside_the_deep_path_are_ignored() -> None:
    # Given a backend that also answers a type this detector does not own
    extra = {"entity_type": "EMAIL_ADDRESS", "start": 0, "end": 2, "score": 0.99}
    detector, _ = detector_answering(lambda _t, _r: answer([extra, DENVER]))
    # When it runs
    findings = detector.detect(normalize(TEXT))
    # Then only the NER type is kept
    assert [f.entity_type for f in findings] == ["LOCATION"]


def test_blank_text_does_not_call_the_backend() -> None:
    # Given a detector
    detector, transport = detector_answering(lambda _t, _r: answer([]))
    # When it sees only whitespace
    findings = detector.detect(normalize("   "))
    # Then nothing is found and no backend call is made
    assert findings == [] and transport.calls == []


@pytest.mark.parametrize(
    "response",
    [
        answer([{"entity_type": "PERSON", "start": 40, "end": 99, "score": 0.9}]),  # span past the end
        answer([{"entity_type": "PERSON", "start": "11", "end": 23, "score": 0.9}]),  # wrong field type
        BackendResponse(
            200, b'{"outputs": [{"name": "entities", "datatype": "BYTES", "data": ["not json"]}]}'
        ),
        BackendResponse(200, b'{"outputs": []}'),
        BackendResponse(503, b'{"error": "overloaded"}'),
        BackendResponse(500, b'{"error": "boom"}'),
    ],
    ids=["span-outside", "field-type", "not-json", "no-output", "unavailable", "server-error"],
)
def test_a_bad_or_failed_answer_raises(response: BackendResponse) -> None:
    # Given a backend answering something unusable
    detector, _ = detector_answering(lambda _t, _r: response)
    # When the detector runs, then it raises instead of returning nothing
    with pytest.raises(Exception):  # noqa: B017 - any error: the engine maps it to a refusal
        detector.detect(normalize(TEXT))


def test_an_unapproved_model_is_not_called() -> None:
    # Given the pii-ner version is not approved in the registry
    detector, transport = detector_answering(lambda _t, _r: answer([MARIA]), approval="pending")
    # When the detector runs, then the registry refuses and the backend is never called
    with pytest.raises(ModelNotFound):
        detector.detect(normalize(TEXT))
    assert transport.calls == []


def test_the_engine_fails_closed_when_the_deep_backend_errors() -> None:
    # Given a deep-path policy and a backend that is down
    detector, _ = detector_answering(lambda _t, _r: BackendResponse(503, b"{}"))
    policy = default_policy().model_copy(update={"detection_path": DetectionPath.DEEP})
    context = RedactionContext(tenant_id="t1", deep_detector=detector)
    # When a text with a name is redacted, then the request is refused (never passed through)
    with pytest.raises(DetectorFailure) as raised:
        redact(TEXT, policy, context)
    assert raised.value.detector == "deep_pii"


def test_the_engine_redacts_with_deep_findings() -> None:
    # Given a deep-path policy and a working backend
    detector, _ = detector_answering(lambda _t, _r: answer([MARIA, DENVER]))
    policy = default_policy().model_copy(update={"detection_path": DetectionPath.DEEP})
    # When the sentence is redacted
    result = redact(TEXT, policy, RedactionContext(tenant_id="t1", deep_detector=detector))
    # Then the name and the city are replaced by placeholders
    assert result.text == "My name is <PERSON_1> and I live in <LOCATION_1>."
    assert result.counts == {"PERSON": 1, "LOCATION": 1}


def test_the_engine_uses_only_the_deep_detector_for_ner_types() -> None:
    # Given a backend that finds nothing although the fast path would find Maria Garcia
    detector, transport = detector_answering(lambda _t, _r: answer([]))
    # When the engine runs the deep path
    findings = DetectionEngine().detect(TEXT, deep=detector, path=DetectionPath.DEEP)
    # Then the backend was asked and no fast-path NER finding is added
    assert len(transport.calls) == 1
    assert findings == []


def test_a_model_finding_never_displaces_an_overlapping_pattern_finding() -> None:
    # Given a backend that sees a PERSON inside an e-mail address
    text = "Write to maria.garcia@example.com today."
    inside = {"entity_type": "PERSON", "start": 9, "end": 21, "score": 0.99}
    detector, _ = detector_answering(lambda _t, _r: answer([inside]))
    # When the engine runs the deep path
    findings = DetectionEngine().detect(text, deep=detector, path=DetectionPath.DEEP)
    # Then the validated e-mail finding is kept whole and the model's span is dropped
    assert [(f.entity_type, text[f.start : f.end]) for f in findings] == [
        ("EMAIL_ADDRESS", "maria.garcia@example.com")
    ]


def test_wiring_builds_the_deep_detector_only_when_settings_name_a_model() -> None:
    from steward.bootstrap import build_deep_detector
    from steward.settings import ApiSettings

    # Given settings without and with a deep model
    # When the deep detector is built
    # Then none is built without a model (deep policies fail closed), the adapter with one
    assert build_deep_detector(ApiSettings(stage="test")) is None
    detector = build_deep_detector(ApiSettings(stage="test", privacy_deep_model="pii-ner@1"))
    assert isinstance(detector, DeepPiiDetector)
    assert detector.entity_types == frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})
