"""Quality monitoring end to end through the gateway: every classifier prediction keeps its scores,
``POST /v1/feedback`` adds the labelled rows to the tenant's counters, and
``GET /v1/models/{m}/quality`` answers the metrics scikit-learn computes on the same rows."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from starlette.testclient import TestClient
from steward.auth.authorize import Authorizer
from steward.bootstrap import compose_api
from steward.catalog.registry import Registry
from steward.fairness.monitor import FairnessMonitor
from steward.quality.monitor import DEFAULT_MIN_SAMPLES, QualityThresholds, breaches, thresholds_of
from steward.routing.router import Router, RouterPolicy
from steward.settings import ApiSettings

from functions.api.app import create_app
from functions.authorizer.handler import authorize_event
from scripts.local.api_gateway import with_authorizer
from tests.fakes import FakeTransport, InMemoryAuditStore, InMemoryFairnessStore, InMemoryRegistryStore

from .conftest import CREDIT, MINILM, PEPPER, bearer
from .test_explain_card_feedback_routes import CARD, backend, declare, rows_request

THRESHOLD = CARD["evaluation"]["threshold"]  # 0.6


@pytest.fixture
def store() -> InMemoryFairnessStore:
    return InMemoryFairnessStore()


@pytest.fixture
def registry(registry_store: InMemoryRegistryStore) -> InMemoryRegistryStore:
    credit = registry_store.versions[CREDIT]["1"]
    registry_store.put_version(replace(credit, card=CARD))
    return registry_store


@pytest.fixture
def client(
    settings: ApiSettings,
    registry: InMemoryRegistryStore,
    audit_store: InMemoryAuditStore,
    store: InMemoryFairnessStore,
    authorizer: Authorizer,
) -> Iterator[TestClient]:
    router = Router({"http": FakeTransport(respond=backend)}, RouterPolicy(), sleep=lambda _s: None)
    use_cases = compose_api(
        Registry(registry),
        router,
        audit_store,
        fairness=FairnessMonitor(store, pepper=lambda: PEPPER, labels_ttl_s=0),
    )
    app = with_authorizer(create_app(settings, use_cases), lambda event: authorize_event(event, authorizer))
    with TestClient(app) as test_client:
        yield test_client


def predict(client: TestClient, key: str, scores: list[float], **parameters: Any) -> Any:
    """One prediction whose P(class 1) per row is the row's first feature (the fake backend)."""
    response = client.post(
        f"/v2/models/{CREDIT}/infer",
        headers=bearer(key),
        json=rows_request([[s, 0, 0] for s in scores], **parameters),
    )
    assert response.status_code == 200, response.text
    return response


def feedback(client: TestClient, key: str, request_id: str, labels: list[int]) -> Any:
    return client.post("/v1/feedback", headers=bearer(key), json={"request_id": request_id, "labels": labels})


def quality(client: TestClient, key: str, query: str = "") -> Any:
    return client.get(f"/v1/models/{CREDIT}/quality{query}", headers=bearer(key))


# ------------------------------------------------------------------------------ the counters


def test_counters_from_feedback_give_the_metrics_scikit_learn_computes(
    client: TestClient, make_key: Callable[..., str], store: InMemoryFairnessStore
) -> None:
    # Given 120 labelled rows of acme: single- and multi-row predictions, some with a group
    declare(client, make_key("acme", ("*",), admin=True), "acme", ["A", "B"])
    key = make_key("acme", (CREDIT,))
    rng = random.Random(7)
    all_scores: list[float] = []
    all_labels: list[int] = []
    for i in range(30):
        rows = 1 + i % 7
        labels = [rng.randint(0, 1) for _ in range(rows)]
        scores = [min(1.0, max(0.0, rng.gauss(0.35 + 0.3 * y, 0.2))) for y in labels]
        group = {"group": "A" if i % 2 else "B"} if i % 3 == 0 else {}
        made = predict(client, key, scores, **group)
        assert made.json()["parameters"]["quality_recorded"] is True
        assert ("fairness_recorded" in made.json()["parameters"]) == bool(group)
        assert feedback(client, key, made.headers["x-request-id"], labels).status_code == 200
        all_scores += scores
        all_labels += labels

    # When acme reads its quality
    response = quality(client, key)

    # Then the numbers are scikit-learn's on the same rows, at the card's threshold
    assert response.status_code == 200, response.text
    body = response.json()
    predicted = [int(s >= THRESHOLD) for s in all_scores]
    assert body["object"] == "model.quality" and body["model"] == CREDIT and body["version"] == "1"
    assert body["n"] == len(all_labels) and body["threshold"] == THRESHOLD
    assert body["accuracy"] == pytest.approx(accuracy_score(all_labels, predicted), abs=1e-12)
    assert body["precision"] == pytest.approx(precision_score(all_labels, predicted), abs=1e-12)
    assert body["recall"] == pytest.approx(recall_score(all_labels, predicted), abs=1e-12)
    assert body["f1"] == pytest.approx(f1_score(all_labels, predicted), abs=1e-12)
    assert body["brier"] == pytest.approx(brier_score_loss(all_labels, all_scores), abs=1e-12)
    exact_auc = roc_auc_score(all_labels, all_scores)
    assert abs(body["roc_auc"] - exact_auc) <= body["roc_auc_max_error"] + 1e-12
    assert sum(b["count"] for b in body["reliability"]) == len(all_labels)
    assert body["window"]["days"] == 30
    # And the fairness counters hold only the grouped rows
    counts = store.counters(CREDIT, "1")["acme"]
    grouped_rows = sum(1 + i % 7 for i in range(30) if i % 3 == 0)
    assert sum(c.total() for c in counts.windows.values()) == grouped_rows


def test_an_ungrouped_prediction_keeps_scores_only_and_its_feedback_works_once(
    client: TestClient, make_key: Callable[..., str], store: InMemoryFairnessStore
) -> None:
    key = make_key("acme", (CREDIT,))
    made = predict(client, key, [0.9, 0.2])
    assert made.json()["parameters"] == {"quality_recorded": True}
    request_id = made.headers["x-request-id"]
    (join,) = store.joins.values()
    assert [(o.group, o.prediction, o.score) for o in join.outcomes] == [(None, 1, 0.9), (None, 0, 0.2)]
    assert join.threshold == THRESHOLD and store.counters(CREDIT, "1") == {}

    first = feedback(client, key, request_id, [1, 1])
    again = feedback(client, key, request_id, [1, 1])

    assert first.status_code == 200 and first.json()["labels"] == 2
    assert again.status_code == 409 and again.json()["code"] == "feedback.duplicate"
    body = quality(client, key).json()
    assert (body["n"], body["accuracy"], body["recall"]) == (2, 0.5, 0.5)
    assert store.counters(CREDIT, "1") == {}  # no fairness counter for rows without a group


def test_feedback_for_an_expired_join_is_404(
    client: TestClient, make_key: Callable[..., str], store: InMemoryFairnessStore
) -> None:
    key = make_key("acme", (CREDIT,))
    made = predict(client, key, [0.9])
    store.joins.clear()  # DynamoDB's TTL removed the join item
    response = feedback(client, key, made.headers["x-request-id"], [1])
    assert response.status_code == 404 and response.json()["code"] == "feedback.not_found"


def test_a_failing_store_never_withholds_the_answer(
    client: TestClient,
    make_key: Callable[..., str],
    store: InMemoryFairnessStore,
    audit_store: InMemoryAuditStore,
) -> None:
    store.fail = True
    made = predict(client, make_key("acme", (CREDIT,)), [0.9])
    assert made.json()["parameters"] == {"quality_recorded": False}
    assert "quality.not_recorded" in audit_store.records[-1]["reason_codes"]


def test_too_many_rows_for_one_join_are_served_unmonitored(
    client: TestClient, make_key: Callable[..., str], store: InMemoryFairnessStore
) -> None:
    made = predict(client, make_key("acme", (CREDIT,)), [0.5] * 26)
    assert made.json()["parameters"] == {"quality_recorded": False}
    assert store.joins == {}


def test_a_non_classifier_answer_carries_no_quality_flag(
    client: TestClient, make_key: Callable[..., str], store: InMemoryFairnessStore
) -> None:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
    response = client.post(
        f"/v2/models/{MINILM}/infer", headers=bearer(make_key("acme", (MINILM,))), json=body
    )
    assert "quality_recorded" not in json.dumps(response.json())
    assert store.joins == {}


# ---------------------------------------------------------------------------------- the route


def test_the_route_answers_an_unentitled_model_as_absent_and_other_tenants_see_nothing(
    client: TestClient, make_key: Callable[..., str]
) -> None:
    acme = make_key("acme", (CREDIT,))
    made = predict(client, acme, [0.9])
    assert feedback(client, acme, made.headers["x-request-id"], [1]).status_code == 200

    not_yours = quality(client, make_key("acme", (MINILM,)))
    absent = client.get("/v1/models/no-such-model/quality", headers=bearer(make_key("acme", (MINILM,))))
    globex = quality(client, make_key("globex", (CREDIT,))).json()
    mine = quality(client, acme).json()

    assert not_yours.status_code == absent.status_code == 404
    assert not_yours.json()["code"] == absent.json()["code"] == "model.not_found"
    assert globex["n"] == 0 and globex["accuracy"] is None and globex["breaches"] == []
    assert mine["n"] == 1 and mine["accuracy"] == 1.0


@pytest.mark.parametrize("query", ["?days=0", "?days=91", "?days=x", "?days=1.5", f"?version={'v' * 33}"])
def test_bad_parameters_are_a_422_problem(
    client: TestClient, make_key: Callable[..., str], query: str
) -> None:
    response = quality(client, make_key("acme", (CREDIT,)), query)
    assert response.status_code == 422 and response.json()["code"] == "input.invalid"
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_version_is_404(client: TestClient, make_key: Callable[..., str]) -> None:
    response = quality(client, make_key("acme", (CREDIT,)), "?version=9")
    assert response.status_code == 404


def test_breaches_count_from_the_minimum_sample_size_with_the_cards_thresholds(
    client: TestClient, make_key: Callable[..., str], registry: InMemoryRegistryStore
) -> None:
    # Given a card asking for accuracy >= 0.9 and 10 labelled rows at least
    credit = registry.versions[CREDIT]["1"]
    card = {**CARD, "monitoring": {"quality_thresholds": {"accuracy": 0.9, "min_samples": 10}}}
    registry.put_version(replace(credit, card=card))
    key = make_key("acme", (CREDIT,))

    def label(rows: int, scores: list[float], labels: list[int]) -> dict[str, Any]:
        for _ in range(rows):
            made = predict(client, key, scores)
            assert feedback(client, key, made.headers["x-request-id"], labels).status_code == 200
        body: dict[str, Any] = quality(client, key, "?days=1&version=1").json()
        return body

    # When 8 rows are labelled, half of them wrongly: below the sample size, no breach
    few = label(4, [0.9, 0.9], [1, 0])
    # Then, at 12 rows with accuracy 0.5, accuracy and F1 breach
    many = label(2, [0.9, 0.9], [1, 0])

    assert few["n"] == 8 and few["breaches"] == []
    assert few["thresholds"] == {"f1_min": 0.7, "accuracy_min": 0.9, "roc_auc_min": 0.75, "min_samples": 10}
    assert many["n"] == 12
    assert {b["metric"] for b in many["breaches"]} == {"accuracy", "f1", "roc_auc"}
    assert next(b for b in many["breaches"] if b["metric"] == "accuracy") == {
        "metric": "accuracy", "value": 0.5, "threshold": 0.9,
    }  # fmt: skip


def test_thresholds_ignore_invalid_card_values() -> None:
    card = {
        "monitoring": {"quality_thresholds": {"f1": 2, "accuracy": True, "roc_auc": 0.6, "min_samples": 0.5}}
    }
    thresholds = thresholds_of(card)
    assert thresholds == QualityThresholds({"f1": 0.7, "accuracy": 0.8, "roc_auc": 0.6}, DEFAULT_MIN_SAMPLES)
    assert thresholds_of({}).minimums == {"f1": 0.7, "accuracy": 0.8, "roc_auc": 0.75}
    assert breaches({"n": 50, "f1": None, "accuracy": 0.79, "roc_auc": 0.9}, thresholds_of({})) == [
        {"metric": "accuracy", "value": 0.79, "threshold": 0.8}
    ]
