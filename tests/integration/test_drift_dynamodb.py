"""Drift sketches in the fairness table and the report Lambda's drift section, against moto server."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import numpy as np
import pytest
from steward import admin
from steward.adapters.drift_store import DynamoDriftStore
from steward.quality.drift_monitor import PREDICTION, DriftMonitor, to_sketch, window_of
from steward.resources import ResourceNames
from steward.settings import AdminSettings, ReportSettings

from tests.fakes import complete_card
from tests.unit.test_drift_monitor import (
    FEATURES,
    _Ctx,
    _probability,
    _resolved,
    _rows,
    oip,
    tabular_reference,
)

from .conftest import REGION

pytestmark = pytest.mark.integration


@pytest.fixture
def store(names: ResourceNames) -> DynamoDriftStore:
    return DynamoDriftStore(names.fairness_table.name, region=REGION)


@pytest.fixture
def serial_store(names: ResourceNames, serial_moto: str) -> DynamoDriftStore:
    """moto one request at a time (its threaded server applies ADD without a lock, unlike
    DynamoDB); the callers stay concurrent, so a read-modify-write in the adapter would lose counts."""
    return DynamoDriftStore(names.fairness_table.name, region=REGION)


def _model() -> str:
    return f"drift-{uuid.uuid4().hex[:8]}"


def test_stored_counts_equal_direct_counting_under_concurrent_requests(
    serial_store: DynamoDriftStore,
) -> None:
    store = serial_store
    # Given a monitored version and 8 threads each sending 10 requests of 1..4 rows
    reference, model = tabular_reference(), _model()
    resolved = _resolved(reference, model)
    monitor = DriftMonitor(store)
    batches = [[_rows(1 + (t + i) % 4, seed=1000 * t + i) for i in range(10)] for t in range(8)]

    def work(rows_list: list[np.ndarray]) -> None:
        for rows in rows_list:
            assert monitor.observe_inference(_Ctx("acme"), resolved, *oip(rows))  # type: ignore[arg-type]

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then the one item of the day holds exactly the profile's own counts of every row sent
    today = window_of(time.time())
    (stored,) = store.sketches(model, "1", today, today)
    rows = np.concatenate([r for b in batches for r in b])
    expected = reference.profile.sketch_rows(
        [
            {**dict(zip(FEATURES, r, strict=True)), PREDICTION: p}
            for r, p in zip(rows, _probability(rows), strict=True)
        ]
    )
    assert monitor.failures == 0
    assert stored.rows == len(rows)
    assert to_sketch(reference.profile, stored).counts == expected.counts
    assert store.days(model, "1", "acme", [today], reference.profile.fingerprint) == [stored]
    assert store.days(model, "1", "globex", [today], reference.profile.fingerprint) == []


def test_the_report_lambda_writes_drift_reports_and_metrics(
    names: ResourceNames, store: DynamoDriftStore, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version registered with its drift reference and shifted traffic of one tenant
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description="stage key")["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=names.results_bucket)
    reference, model = tabular_reference(), _model()
    admin.register_model(
        model, "1", target={"kind": "http", "url": "http://b"}, task="tabular-classification",
        card=complete_card(), artifact_digest="sha256:" + "ab" * 32, settings=AdminSettings(),
        drift_profile=reference.to_dict(),
    )  # fmt: skip
    DriftMonitor(store).observe_inference(
        _Ctx("acme"),
        _resolved(reference, model),
        *oip(_rows(400, seed=5, shift=1.0)),  # type: ignore[arg-type]
    )

    # When the scheduled handler runs
    from functions.fairness_report import handler

    capsys.readouterr()
    summary = handler.run(ReportSettings(kms_key_id=key_arn))

    # Then the drift report is in S3 and flags the shift; metrics and the fleet maximum are emitted
    key = f"reports/drift/acme/{model}/1/rolling-7d.json"
    report = json.loads(s3.get_object(Bucket=names.results_bucket, Key=key)["Body"].read())
    period = report["drift"]["period"]
    assert period["rows"] == 400 and period["drifted"] and period["prediction_psi"] > 0.2
    assert s3.head_object(Bucket=names.results_bucket, Key=key)["SSEKMSKeyId"] == key_arn
    html = s3.get_object(Bucket=names.results_bucket, Key=key[:-4] + "html")["Body"].read().decode()
    assert "drifted" in html and "income" in html
    assert summary["drifted"] >= 1
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    ours = [e for e in emitted if e.get("model") == model]
    published = {name for e in ours for name in ("ShareDriftedFeatures", "PredictionPSI") if name in e}
    assert published == {"ShareDriftedFeatures", "PredictionPSI"}
    assert all(e.get("tenant") == "acme" and e.get("version") == "1" for e in ours)
    assert any(e.get("MaxShareDriftedFeatures", [0])[0] >= period["share_drifted"] for e in emitted)
    assert any(e.get("MaxPredictionPSI", [0])[0] >= period["prediction_psi"] for e in emitted)
