"""Label-free drift on the request path and in reports: the stored reference, counting, verdicts,
the drift route's entitlement, and statistics equal to NumPy/SciPy on the same bins."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr
from scipy.spatial.distance import jensenshannon
from starlette.testclient import TestClient
from steward import admin
from steward.auth.authorize import Authorizer
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry
from steward.quality.drift import PSI_EPSILON, DriftProfile
from steward.quality.drift_monitor import (
    EMBEDDING_COSINE,
    EMBEDDING_NORM,
    PREDICTION,
    DriftMonitor,
    DriftReference,
    checked_drift_reference,
    drift_document,
    embedding_profile,
    embedding_row,
    tabular_rows,
)
from steward.quality.drift_reports import run_drift_reports
from steward.routing.router import Router, RouterPolicy
from steward.routing.transport import BackendRequest, BackendResponse
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import (
    FakeTransport,
    InMemoryAuditStore,
    InMemoryDriftStore,
    InMemoryKeyStore,
    InMemoryRegistryStore,
    demo_model,
    embedding_response,
)

from .conftest import CREDIT, MINILM, PEPPER, bearer

FEATURES = ("age", "income", "group")
NOW = 1_750_000_000.0  # 2025-06-15 UTC


def _rows(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            rng.normal(40 + 12 * shift, 12, n),
            rng.lognormal(4 + shift, 0.5, n),
            (rng.random(n) < 0.4).astype(float),
        ],
        axis=1,
    )


def _probability(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1 / (1 + np.exp(-(rows[:, 0] - 40) / 10))
    return out


def tabular_reference(n: int = 2000) -> DriftReference:
    rows = _rows(n, seed=1)
    columns: dict[str, list[object]] = {name: rows[:, i].tolist() for i, name in enumerate(FEATURES)}
    columns[PREDICTION] = _probability(rows).tolist()
    return DriftReference(
        "tabular",
        DriftProfile.build(columns),
        input_name="features",
        feature_names=FEATURES,
        prediction_output="probabilities",
        prediction_index=1,
    )


def oip(rows: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request with the rows (nested data) and the backend's answer for them (flat data)."""
    p = _probability(rows)
    payload = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": list(rows.shape), "data": rows.tolist()}]
    }
    data = [x for q in p for x in (1 - q, q)]
    return payload, {
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [len(p), 2], "data": data}]
    }


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


def _resolved(reference: DriftReference, model: str = CREDIT) -> Any:
    from steward.catalog.registry import ResolvedModel

    entry, version = demo_model(model, task="tabular-classification")
    return ResolvedModel(entry, replace(version, drift_profile=reference.to_dict()))


class _Ctx:
    def __init__(self, tenant: str) -> None:
        self.tenant_id = tenant


# -- the stored reference ------------------------------------------------------------------------


def test_the_reference_round_trips_and_registration_refuses_a_malformed_one() -> None:
    reference = tabular_reference()
    stored = json.loads(json.dumps(reference.to_dict()))  # as the registry gives it back
    assert DriftReference.from_dict(stored) == reference
    assert checked_drift_reference(stored) == reference.to_dict()
    assert checked_drift_reference(None) is None
    broken = {**stored, "input": {"name": "features", "features": ["age"]}}  # features != profile
    with pytest.raises(ValueError, match="differ"):
        checked_drift_reference(broken)
    with pytest.raises(ValueError):
        checked_drift_reference({**stored, "kind": "audio"})


def test_register_model_stores_the_checked_reference_on_the_version() -> None:
    store = InMemoryRegistryStore()
    reference = tabular_reference(200)
    mv = admin.register_model(
        CREDIT, "2", target={"kind": "http", "url": "http://b"}, drift_profile=reference.to_dict(),
        settings=None, store=store, now=NOW,
    )  # fmt: skip
    assert store.get_model(CREDIT).versions["2"].drift_profile == reference.to_dict() == mv.drift_profile
    with pytest.raises(ValueError):
        admin.register_model(
            CREDIT, "3", target={"kind": "http", "url": "http://b"}, drift_profile={"schema_version": 1},
            store=store, now=NOW,
        )  # fmt: skip


# -- counting ---------------------------------------------------------------------------------------


def test_request_rows_are_counted_exactly_as_the_profile_counts_them() -> None:
    # Given a reference and 40 requests of 1..5 rows
    reference, store = tabular_reference(), InMemoryDriftStore()
    monitor = DriftMonitor(store, clock=Clock())
    resolved, all_rows = _resolved(reference), []
    for i in range(40):
        rows = _rows(1 + i % 5, seed=100 + i)
        all_rows.append(rows)
        assert monitor.observe_inference(_Ctx("acme"), resolved, *oip(rows))  # type: ignore[arg-type]
    # Then the stored day's counts are the profile's own counts of all those rows
    (stored,) = store.sketches(CREDIT, "1", "2025-06-15", "2025-06-15")
    rows = np.concatenate(all_rows)
    expected = reference.profile.sketch_rows(
        [
            {**dict(zip(FEATURES, r, strict=True)), PREDICTION: p}
            for r, p in zip(rows, _probability(rows), strict=True)
        ]
    )
    from steward.quality.drift_monitor import to_sketch

    assert stored.rows == len(rows) == 120
    assert to_sketch(reference.profile, stored).counts == expected.counts
    assert (stored.window, stored.tenant_id) == ("2025-06-15", "acme")


def test_a_malformed_request_is_not_counted_and_never_raises() -> None:
    failures: list[str] = []
    monitor = DriftMonitor(InMemoryDriftStore(), clock=Clock(), on_failure=failures.append)
    resolved = _resolved(tabular_reference(200))
    payload, result = oip(_rows(2, seed=3))
    payload["inputs"][0]["shape"] = [2, 4]  # shape and data disagree
    assert monitor.observe_inference(_Ctx("acme"), resolved, payload, result) is False  # type: ignore[arg-type]
    assert monitor.failures == 1 and failures == ["ValueError"]
    # a version without a reference is simply not monitored
    entry, version = demo_model(CREDIT, task="tabular-classification")
    from steward.catalog.registry import ResolvedModel

    assert monitor.observe_inference(_Ctx("acme"), ResolvedModel(entry, version), *oip(_rows(2, 3))) is False  # type: ignore[arg-type]
    assert monitor.failures == 1


def test_flat_and_nested_tensors_give_the_same_rows() -> None:
    reference = tabular_reference(200)
    rows = _rows(3, seed=5)
    payload, result = oip(rows)
    flat = {"inputs": [{**payload["inputs"][0], "data": rows.flatten().tolist()}]}
    assert tabular_rows(reference, payload, result) == tabular_rows(reference, flat, result)
    assert tabular_rows(reference, payload, result)[2][PREDICTION] == pytest.approx(_probability(rows)[2])


# -- verdicts and statistics ---------------------------------------------------------------------


def _document(shift: float, n: int = 3000) -> dict[str, Any]:
    reference, store = tabular_reference(), InMemoryDriftStore()
    monitor = DriftMonitor(store, clock=Clock())
    rows = _rows(n, seed=42, shift=shift)
    monitor.observe_inference(_Ctx("acme"), _resolved(reference), *oip(rows))  # type: ignore[arg-type]
    return drift_document(reference, store.sketches(CREDIT, "1", "2025-06-15", "2025-06-15"), period="p")


def test_a_shifted_input_distribution_drifts_and_an_unshifted_one_does_not() -> None:
    stable, shifted = _document(0.0)["period"], _document(1.0)["period"]
    assert stable["sufficient"] and not stable["drifted"] and stable["drifted_features"] == []
    assert stable["prediction_psi"] < 0.1
    assert shifted["drifted"]
    assert set(shifted["drifted_features"]) == {"age", "income"}  # group was not shifted
    assert shifted["share_drifted"] == pytest.approx(2 / 3, abs=1e-6)
    assert shifted["prediction_psi"] > 0.2 and shifted["features"][PREDICTION]["drifted"]


def test_too_few_rows_are_reported_but_not_judged() -> None:
    period = _document(1.0, n=20)["period"]
    assert period["rows"] == 20 and not period["sufficient"] and not period["drifted"]


def test_report_statistics_equal_numpy_and_scipy_on_the_same_bins() -> None:
    reference, store = tabular_reference(), InMemoryDriftStore()
    DriftMonitor(store, clock=Clock()).observe_inference(
        _Ctx("acme"),
        _resolved(reference),
        *oip(_rows(500, seed=9, shift=0.3)),  # type: ignore[arg-type]
    )
    result = run_drift_reports(
        [_resolved(reference).version], store, _Sink(), lambda *a: None, now=NOW, lookback_days=7
    )
    (report,) = [json.loads(body) for key, body in _Sink.last.items() if key.endswith(".json")]
    assert result.model_versions == 1 and report["window"] == "rolling-7d"
    (stored,) = store.sketches(CREDIT, "1", "2025-06-15", "2025-06-15")
    for name, f in report["drift"]["period"]["features"].items():
        ref = np.array(reference.profile.reference.counts[name], dtype=float)
        live = np.zeros_like(ref)
        for index, n in stored.cells[name].items():
            live[index] = n
        p, q = np.clip(ref / ref.sum(), PSI_EPSILON, None), np.clip(live / live.sum(), PSI_EPSILON, None)
        assert f["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-6)
        assert f["js_distance"] == pytest.approx(float(jensenshannon(ref, live, base=2)), abs=1e-6)
        ks = float(np.max(np.abs(np.cumsum(ref / ref.sum()) - np.cumsum(live / live.sum()))))
        assert f["ks"] == pytest.approx(ks, abs=1e-6)


class _Sink:
    last: dict[str, bytes] = {}

    def __init__(self) -> None:
        _Sink.last = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        _Sink.last[key] = body


# -- embeddings -----------------------------------------------------------------------------------


def _unit(rng: np.random.Generator, n: int, direction: np.ndarray, spread: float) -> np.ndarray:
    vectors = direction + spread * rng.normal(size=(n, len(direction)))
    out: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return out


def test_embedding_similarity_and_norm_drift() -> None:
    rng = np.random.default_rng(0)
    topic, other = np.eye(16)[0], np.eye(16)[1]
    reference_vectors = _unit(rng, 1000, topic, 0.3)
    centroid = reference_vectors.mean(axis=0).tolist()
    reference = DriftReference(
        "embedding",
        embedding_profile(reference_vectors.tolist(), centroid),
        output_name="embedding",
        centroid=tuple(centroid),
    )
    assert reference.profile.features[EMBEDDING_NORM].edges == (1.0, 1.0001)  # float32 noise stays in one bin

    def period(vectors: np.ndarray) -> dict[str, Any]:
        store = InMemoryDriftStore()
        DriftMonitor(store, clock=Clock()).observe_embeddings(
            _Ctx("acme"),
            _resolved(reference, MINILM),
            vectors.astype(np.float32).tolist(),  # type: ignore[arg-type]
        )
        return drift_document(reference, store.sketches(MINILM, "1", "2025-06-15", "2025-06-15"), period="p")[
            "period"
        ]

    same = period(_unit(rng, 800, topic, 0.3))
    assert not same["drifted"] and same["drifted_features"] == []
    new_topic = period(_unit(rng, 800, 0.5 * topic + other, 0.3))
    assert (
        new_topic["features"][EMBEDDING_COSINE]["drifted"]
        and not new_topic["features"][EMBEDDING_NORM]["drifted"]
    )
    unnormalised = period(3 * _unit(rng, 800, topic, 0.3))
    assert unnormalised["features"][EMBEDDING_NORM]["drifted"]
    direct = [embedding_row(v, centroid) for v in _unit(rng, 3, topic, 0.3)]
    assert all(math.isclose(r[EMBEDDING_NORM], 1.0) for r in direct)


# -- the request path and the route ---------------------------------------------------------------


def _backend(target: Any, request: BackendRequest) -> BackendResponse:
    if request.model != CREDIT:
        return BackendResponse(200, json.dumps(embedding_response(request, dim=8)).encode())
    rows = np.array(request.payload["inputs"][0]["data"], dtype=float)
    return BackendResponse(200, json.dumps({"model_name": CREDIT, **oip(rows)[1]}).encode())


@dataclass
class Stack:
    client: TestClient
    store: InMemoryDriftStore
    entitled: str
    other: str


@pytest.fixture
def stack() -> Iterator[Stack]:
    settings = ApiSettings(stage="test", pepper=SecretStr(PEPPER.decode()))
    keys, registry, store = InMemoryKeyStore(), InMemoryRegistryStore(), InMemoryDriftStore()
    credit_entry, credit = demo_model(CREDIT, task="tabular-classification")
    mini_entry, mini = demo_model(MINILM)
    ones = DriftReference(
        "embedding",
        DriftProfile.build({EMBEDDING_NORM: [0.5, 1.0, 1.5, 2.0], EMBEDDING_COSINE: [0.9, 1.0, 1.0, 1.0]}),
        output_name="embedding",
        centroid=(1.0,) * 8,
    )
    for entry, version in (
        (credit_entry, replace(credit, drift_profile=tabular_reference(500).to_dict())),
        (mini_entry, replace(mini, drift_profile=ones.to_dict())),
    ):
        registry.put_entry(entry)
        registry.put_version(version)
    use_cases = compose_api(
        Registry(registry),
        Router({"http": FakeTransport(respond=_backend)}, RouterPolicy(), sleep=lambda _s: None),
        InMemoryAuditStore(),
        drift=DriftMonitor(store),
    )

    def key(*models: str) -> str:
        token, _ = admin.create_api_key(
            "acme", models=models, settings=settings, store=keys, pepper=lambda: PEPPER
        )
        return token

    app = create_app(settings, use_cases)
    wrapped = with_authorizer(app, lambda event: authorize_event(event, Authorizer(keys, lambda: PEPPER)))
    with TestClient(wrapped) as client:
        yield Stack(client, store, key(CREDIT, MINILM), key(MINILM))


def test_inference_and_embeddings_are_counted_and_the_route_reports_them(stack: Stack) -> None:
    rows = _rows(4, seed=11)
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [4, 3], "data": rows.tolist()}]}
    answer = stack.client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(stack.entitled), json=body)
    assert answer.status_code == 200, answer.text
    embedded = stack.client.post(
        "/v1/embeddings", headers=bearer(stack.entitled), json={"model": MINILM, "input": ["a", "b", "c"]}
    )
    assert embedded.status_code == 200, embedded.text

    drift = stack.client.get(f"/v1/models/{CREDIT}/drift", headers=bearer(stack.entitled), params={"days": 2})
    assert drift.status_code == 200, drift.text
    document = drift.json()
    assert document["monitored"] and document["period"]["rows"] == 4 and not document["period"]["sufficient"]
    assert document["period"]["features"]["age"]["live_count"] == 4
    (embedding_item,) = [s for s in stack.store.items if s[0] == MINILM]
    assert stack.store.items[embedding_item]["rows"] == 3


def test_the_drift_route_answers_404_to_a_key_not_entitled_to_the_model(stack: Stack) -> None:
    refused = stack.client.get(f"/v1/models/{CREDIT}/drift", headers=bearer(stack.other))
    unknown = stack.client.get("/v1/models/no-such-model/drift", headers=bearer(stack.entitled))
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["code"] == unknown.json()["code"] == "model.not_found"
    too_long = stack.client.get(
        f"/v1/models/{CREDIT}/drift", headers=bearer(stack.entitled), params={"days": 91}
    )
    assert too_long.status_code == 422 and too_long.json()["code"] == "input.invalid"


def test_a_failing_drift_store_never_withholds_the_answer(stack: Stack) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("table unavailable")

    stack.store.add = broken  # type: ignore[method-assign]
    rows = _rows(2, seed=12)
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 3], "data": rows.tolist()}]}
    answer = stack.client.post(f"/v2/models/{CREDIT}/infer", headers=bearer(stack.entitled), json=body)
    assert answer.status_code == 200, answer.text
