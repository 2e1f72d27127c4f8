"""Quality counters in DynamoDB (moto server): one write per prediction, ADD-only counters that
equal `ClassifierQuality` of the same rows, limbs that keep every number under 38 digits, and
concurrent feedbacks of one request of which exactly one wins."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import Any

import boto3
import pytest
from steward.adapters.fairness_store import DynamoFairnessStore
from steward.adapters.quality_store import (
    BRIER_LIMBS,
    DynamoQualityStore,
    limbs,
    quality_pk,
    quality_sk,
    unlimb,
)
from steward.errors import FeedbackDuplicate, FeedbackNotFound
from steward.fairness.monitor import FairnessMonitor, window_of
from steward.quality.classification import ClassifierQuality
from steward.resources import ResourceNames

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration
ANYTHING = lambda _model: True  # noqa: E731
THRESHOLD = 0.6


@pytest.fixture
def monitor(names: ResourceNames) -> FairnessMonitor:
    store = DynamoFairnessStore(names.fairness_table.name, region=REGION)
    return FairnessMonitor(store, pepper=lambda: PEPPER.encode(), join_ttl_days=7, labels_ttl_s=0)


@pytest.fixture
def reader(names: ResourceNames) -> DynamoQualityStore:
    return DynamoQualityStore(names.fairness_table.name, region=REGION)


def _record(monitor: FairnessMonitor, tenant: str, request_id: str, model: str, scores: list[float]) -> None:
    monitor.record(
        tenant_id=tenant,
        request_id=request_id,
        model=model,
        version="1",
        groups=None,
        predictions=[int(s >= THRESHOLD) for s in scores],
        scores=scores,
        threshold=THRESHOLD,
    )


def _model() -> str:
    return f"credit-{uuid.uuid4().hex[:8]}"


def _raw(names: ResourceNames, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=names.fairness_table.name, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        .get("Item")
    )
    return item


def test_an_ungrouped_join_is_one_item_and_feedback_fills_counters_equal_to_classifier_quality(
    names: ResourceNames, monitor: FairnessMonitor, reader: DynamoQualityStore
) -> None:
    # Given 40 ungrouped predictions of 1-5 rows each, scores including 0.0, 1.0 and a tiny one
    model, rng = _model(), random.Random(3)
    window = window_of(time.time())
    scores_all: list[float] = []
    labels_all: list[int] = []
    for i in range(40):
        scores = [rng.random() for _ in range(1 + i % 5)]
        if i == 0:
            scores = [0.0, 1.0, 1e-200]
        labels = [rng.randint(0, 1) for _ in scores]
        _record(monitor, "acme", f"q-{i}", model, scores)
        if i == 0:  # the join: scores and decisions, no group, no input
            join = _raw(names, "join#acme#q-0", "join")
            assert join is not None
            assert set(join) == {
                "pk", "sk", "model", "version", "window", "predictions", "scores", "threshold", "expires_at",
            }  # fmt: skip
            assert _raw(names, f"counts#{model}#1", f"{window}#unknown#acme") is None
        monitor.feedback("acme", f"q-{i}", labels, may_use=ANYTHING)
        scores_all += [0.0 if s < 2**-90 else s for s in scores]
        labels_all += labels

    # When the counters are read back
    (counts,) = reader.quality_counts(model, "1", first_window=window, last_window=window, tenant_id="acme")

    # Then they equal ClassifierQuality of the same rows exactly, and no number passes 38 digits
    expected = ClassifierQuality.from_observations(scores_all, labels_all, THRESHOLD)
    assert counts.tenant_id == "acme" and counts.window == window
    assert counts.quality == expected
    assert counts.quality.metrics() == expected.metrics()
    item = _raw(names, quality_pk(model, "1"), quality_sk("acme", window, THRESHOLD))
    assert item is not None
    assert all(len(v["N"]) <= 38 for v in item.values() if "N" in v)
    assert _raw(names, "join#acme#q-0", "join") is None and _raw(names, "done#acme#q-0", "done") is not None


def test_tenants_and_windows_are_read_apart(monitor: FairnessMonitor, reader: DynamoQualityStore) -> None:
    model = _model()
    window = window_of(time.time())
    for tenant in ("acme", "globex", "acme2"):
        _record(monitor, tenant, f"{tenant}-1", model, [0.9])
        monitor.feedback(tenant, f"{tenant}-1", [1], may_use=ANYTHING)
    acme = reader.quality_counts(model, "1", first_window=window, last_window=window, tenant_id="acme")
    every = reader.quality_counts(model, "1", first_window=window, last_window=window)
    earlier = reader.quality_counts(model, "1", first_window="2000-01-01", last_window="2000-01-31")
    assert [c.tenant_id for c in acme] == ["acme"] and acme[0].quality.n == 1
    assert sorted(c.tenant_id for c in every) == ["acme", "acme2", "globex"]
    assert earlier == []
    # By key (what the api function does): the tenant's own days at the card's threshold only
    keyed = reader.quality_counts(
        model, "1", first_window="2000-01-01", last_window=window, tenant_id="acme", threshold=THRESHOLD
    )
    other = reader.quality_counts(
        model, "1", first_window=window, last_window=window, tenant_id="acme", threshold=0.5
    )
    assert [(c.tenant_id, c.window, c.quality.n) for c in keyed] == [("acme", window, 1)] and other == []


def test_two_concurrent_feedbacks_of_one_request_count_once(
    monitor: FairnessMonitor, reader: DynamoQualityStore
) -> None:
    # Given one pending prediction, and two feedbacks that both read the join before either writes
    model = _model()
    _record(monitor, "acme", "race-1", model, [0.8, 0.3])
    store = monitor.store
    assert isinstance(store, DynamoFairnessStore)
    both_read = threading.Barrier(2, timeout=10)
    pending = store.pending

    def racing_pending(tenant_id: str, request_id: str) -> Any:
        join = pending(tenant_id, request_id)
        both_read.wait()
        return join

    # DynamoDB serialises transactions on an item; moto's server does not (a cancelled transaction
    # restores a snapshot of the whole table), so the writes take turns here, after both reads.
    one_at_a_time = threading.Lock()
    resolve = store.resolve

    def serialised_resolve(*args: Any) -> None:
        with one_at_a_time:
            resolve(*args)

    store.pending = racing_pending  # type: ignore[method-assign]
    store.resolve = serialised_resolve  # type: ignore[method-assign]
    outcomes: list[str] = []

    def send(labels: list[int]) -> None:
        try:
            monitor.feedback("acme", "race-1", labels, may_use=ANYTHING)
            outcomes.append("recorded")
        except FeedbackDuplicate:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=send, args=(labels,)) for labels in ([1, 0], [0, 1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then exactly one won, and the counters hold its two rows only
    assert sorted(outcomes) == ["duplicate", "recorded"]
    window = window_of(time.time())
    (counts,) = reader.quality_counts(model, "1", first_window=window, last_window=window, tenant_id="acme")
    assert counts.quality.n == 2


def test_an_unknown_request_is_404(monitor: FairnessMonitor) -> None:
    with pytest.raises(FeedbackNotFound):
        monitor.feedback("acme", "never-made", [1], may_use=ANYTHING)


def test_limbs_round_trip_and_bound_each_part() -> None:
    largest = 1 << 160  # one row's largest squared error in units of 2**-160
    parts = limbs(largest, BRIER_LIMBS)
    assert unlimb(parts) == largest and all(p < 1 << 64 for p in parts)
    assert (
        unlimb([a + b for a, b in zip(limbs(largest, 3), limbs(largest - 1, 3), strict=True)])
        == 2 * largest - 1
    )
    with pytest.raises(ValueError):
        limbs(1 << 192, BRIER_LIMBS)


def test_the_report_lambda_adds_a_quality_section_metrics_and_the_breach_count(
    names: ResourceNames,
    monitor: FairnessMonitor,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a registered classifier whose card asks for 4 rows before a breach, and 6 labelled
    # ungrouped rows of acme (accuracy 0.5: a breach), and no fairness counters at all
    from steward import admin
    from steward.settings import AdminSettings, ReportSettings

    from tests.fakes import complete_card

    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description="stage key")["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=names.results_bucket)
    model = _model()
    card = complete_card(
        evaluation={"threshold": THRESHOLD}, monitoring={"quality_thresholds": {"min_samples": 4}}
    )
    admin.register_model(
        model, "1", target={"kind": "http", "url": "http://b"}, task="tabular-classification",
        card=card, artifact_digest="sha256:" + "ab" * 32, settings=AdminSettings(),
    )  # fmt: skip
    for i in range(3):
        _record(monitor, "acme", f"{model}-{i}", model, [0.9, 0.2])
        monitor.feedback("acme", f"{model}-{i}", [0, 1], may_use=ANYTHING)

    # When the scheduled handler runs
    from functions.fairness_report import handler

    capsys.readouterr()
    summary = handler.run(ReportSettings(kms_key_id=key_arn))

    # Then the rolling report holds the quality section (HTML too)
    prefix = f"reports/fairness/acme/{model}/1/"
    report = json.loads(
        s3.get_object(Bucket=names.results_bucket, Key=prefix + "rolling-7d.json")["Body"].read()
    )
    section = report["quality"]
    assert section["n"] == 6 and section["accuracy"] == 0.0 and section["threshold"] == THRESHOLD
    assert {b["metric"] for b in section["breaches"]} >= {"accuracy", "f1"}
    page = s3.get_object(Bucket=names.results_bucket, Key=prefix + "rolling-7d.html")["Body"].read()
    assert b"Quality (ground truth)" in page and b"Quality thresholds breached" in page
    assert summary["quality_breaches"] >= 2

    # And EMF metrics per tenant/model/version, plus the fleet-wide breach count
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    mine = [r for r in records if r.get("model") == model]
    emitted = {m["Name"] for r in mine for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Accuracy", "F1", "Brier"} <= emitted  # RocAuc is undefined here: left out, not 0
    accuracy = next(r for r in mine if "Accuracy" in r)
    assert accuracy["Accuracy"] == [0.0] and accuracy["tenant"] == "acme" and accuracy["version"] == "1"
    (breaches,) = [r for r in records if "QualityThresholdBreaches" in r]
    assert breaches["QualityThresholdBreaches"] == [summary["quality_breaches"]]
