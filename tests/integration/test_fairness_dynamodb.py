"""Fairness counters, the feedback join and the scheduled report Lambda against moto server."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from steward import admin
from steward.adapters.fairness_store import DynamoFairnessStore, counts_pk
from steward.errors import FeedbackDuplicate, FeedbackNotFound, InvalidInput
from steward.fairness.monitor import FairnessMonitor, window_of
from steward.resources import ResourceNames
from steward.settings import StewardSettings
from steward.testing import complete_card

from .conftest import REGION

pytestmark = pytest.mark.integration


@pytest.fixture
def monitor(names: ResourceNames) -> FairnessMonitor:
    return FairnessMonitor(DynamoFairnessStore(names.fairness_table.name, region=REGION), join_ttl_days=7)


def _model() -> str:
    return f"credit-{uuid.uuid4().hex[:8]}"


def _raw(names: ResourceNames, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=names.fairness_table.name, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        .get("Item")
    )
    return item


def test_feedback_moves_counts_from_unknown_to_the_label_and_deletes_the_join(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    # Given a monitored prediction of two rows (groups A and B, decisions 1 and 0)
    model = _model()
    before = time.time()
    monitor.record(
        tenant_id="acme", request_id="req-1", model=model, version="1", groups=["A", "B"], predictions=[1, 0]
    )
    window = window_of(before)
    (counters,) = monitor.store.counters(model, "1").values()
    assert counters.get("A", 1, None) == 1 and counters.get("B", 0, None) == 1

    # Then the join item holds only the counter coordinates, with a ~7 day TTL
    join = _raw(names, "join#acme#req-1", "join")
    assert join is not None
    assert set(join) == {"pk", "sk", "model", "version", "window", "groups", "predictions", "expires_at"}
    assert join["window"] == {"S": window}
    assert abs(int(join["expires_at"]["N"]) - (before + 7 * 86_400)) < 60
    ttl = boto3.client("dynamodb", region_name=REGION).describe_time_to_live(
        TableName=names.fairness_table.name
    )
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    # When ground truth arrives (both rows label 1)
    answer = monitor.feedback("acme", "req-1", [1, 1])

    # Then one count per row moved from unknown to label 1, and the group left the join store
    assert answer["model"] == model and answer["labels"] == 2
    (counters,) = monitor.store.counters(model, "1").values()
    assert counters.get("A", 1, None) == 0 and counters.get("A", 1, 1) == 1
    assert counters.get("B", 0, None) == 0 and counters.get("B", 0, 1) == 1
    assert _raw(names, "join#acme#req-1", "join") is None
    done = _raw(names, "done#acme#req-1", "done")
    assert done is not None and set(done) == {"pk", "sk", "expires_at"}
    cell = _raw(names, counts_pk(model, "1"), f"{window}#A")
    assert cell is not None and cell["p1_l1"] == {"N": "1"} and cell["p1_lu"] == {"N": "0"}


def test_double_feedback_is_a_conflict_and_changes_nothing(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    monitor.record(
        tenant_id="acme", request_id="req-2", model=model, version="1", groups=["A"], predictions=[0]
    )
    monitor.feedback("acme", "req-2", [0])
    with pytest.raises(FeedbackDuplicate) as raised:
        monitor.feedback("acme", "req-2", [1])
    assert raised.value.status == 409
    (counters,) = monitor.store.counters(model, "1").values()
    assert counters.get("A", 0, 0) == 1 and counters.get("A", 0, 1) == 0


def test_another_tenants_request_id_is_not_found_and_keeps_the_join(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    monitor.record(
        tenant_id="acme", request_id="req-3", model=model, version="1", groups=["A"], predictions=[1]
    )
    for tenant, request_id in (("globex", "req-3"), ("acme", "never-made")):
        with pytest.raises(FeedbackNotFound) as raised:
            monitor.feedback(tenant, request_id, [1])
        assert raised.value.status == 404
    with pytest.raises(InvalidInput):
        monitor.feedback("acme", "req-3", [1, 0])  # one label per monitored row
    assert _raw(names, "join#acme#req-3", "join") is not None


def test_a_request_id_is_recorded_once(monitor: FairnessMonitor) -> None:
    model = _model()
    monitor.record(
        tenant_id="acme", request_id="req-4", model=model, version="1", groups=["A"], predictions=[1]
    )
    with pytest.raises(Exception, match=r"TransactionCanceled|ConditionalCheck"):
        monitor.record(
            tenant_id="acme", request_id="req-4", model=model, version="1", groups=["A"], predictions=[1]
        )
    (counters,) = monitor.store.counters(model, "1").values()
    assert counters.get("A", 1, None) == 1


def test_the_report_lambda_writes_kms_encrypted_reports_metrics_and_the_card_summary(
    names: ResourceNames,
    monitor: FairnessMonitor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a results bucket, the stage key, a registered version and monitored outcomes
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description="stage key")["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=names.results_bucket)
    model = _model()
    settings = StewardSettings(kms_key_id=key_arn)
    admin.register_model(
        model, "1", target={"kind": "http", "url": "http://b"}, task="tabular-classification",
        card=complete_card(), artifact_digest="sha256:" + "ab" * 32, settings=settings,
    )  # fmt: skip
    for i, (group, prediction, label) in enumerate(
        [("A", 1, 1), ("A", 1, 0), ("A", 0, 0), ("B", 0, 1), ("B", 0, 0), ("B", 1, 1), ("A", 1, None)]
    ):
        monitor.record(
            tenant_id="acme", request_id=f"{model}-{i}", model=model, version="1",
            groups=[group], predictions=[prediction],
        )  # fmt: skip
        if label is not None:
            monitor.feedback("acme", f"{model}-{i}", [label])

    # When the scheduled handler runs
    from functions.fairness_report import handler

    capsys.readouterr()
    summary = handler.run(settings)

    # Then JSON and HTML per window and rolling are in S3 under reports/fairness/, SSE-KMS with the key
    prefix = f"reports/fairness/{model}/1/"
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=names.results_bucket, Prefix=prefix)["Contents"]
    )
    window = window_of(time.time())
    assert keys == sorted(prefix + f"{w}.{e}" for w in (window, "rolling-7d") for e in ("html", "json"))
    head = s3.head_object(Bucket=names.results_bucket, Key=prefix + "rolling-7d.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    report = json.loads(
        s3.get_object(Bucket=names.results_bucket, Key=prefix + "rolling-7d.json")["Body"].read()
    )
    assert report["totals"] == {"outcomes": 7, "labelled": 6, "groups": 2}
    assert report["groups"]["A"]["selection_rate"] == 0.75 and report["groups"]["B"][
        "selection_rate"
    ] == pytest.approx(1 / 3)
    html = s3.get_object(Bucket=names.results_bucket, Key=prefix + "rolling-7d.html")
    assert html["ContentType"].startswith("text/html") and b"<svg" in html["Body"].read()
    assert summary["model_versions"] >= 1 and summary["breaches"] >= 1

    # And CloudWatch EMF metrics per metric with model/version dimensions, plus the fleet minimum
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    mine = [r for r in records if r.get("model") == model]
    names_emitted = {m["Name"] for r in mine for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"DemographicParityRatio", "EqualizedOddsDifference", "FourFifthsRuleViolated"} <= names_emitted
    ratio = next(r for r in mine if "DemographicParityRatio" in r)
    assert ratio["DemographicParityRatio"] == [pytest.approx(report["metrics"]["demographic_parity_ratio"])]
    assert ratio["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Steward" and ratio["version"] == "1"
    assert any("MinDemographicParityRatio" in r for r in records)

    # And the card summary is stored for GET /v1/models/{m}/card
    latest = monitor.store.latest_report(model, "1")
    assert latest is not None and latest["report_html"] == prefix + "rolling-7d.html"
