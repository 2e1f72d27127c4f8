"""Fairness counters, the feedback join and the scheduled report Lambda against moto server."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from steward import admin
from steward.adapters.fairness_store import DynamoFairnessStore, counts_pk, counts_sk
from steward.errors import FeedbackDuplicate, FeedbackNotFound, InvalidInput, UnknownFairnessGroup
from steward.fairness.monitor import FairnessMonitor, window_of
from steward.resources import ResourceNames
from steward.settings import AdminSettings, ReportSettings

from tests.fakes import complete_card

from .conftest import PEPPER, REGION

pytestmark = pytest.mark.integration


ANYTHING = lambda _model: True  # noqa: E731  (a key entitled to every model)


@pytest.fixture
def monitor(names: ResourceNames) -> FairnessMonitor:
    store = DynamoFairnessStore(names.fairness_table.name, region=REGION)
    monitor = FairnessMonitor(store, pepper=lambda: PEPPER.encode(), join_ttl_days=7, labels_ttl_s=0)
    for tenant in ("acme", "globex"):
        if store.group_labels(tenant) is None:
            monitor.declare_groups(tenant, {"labels": ["A", "B"]}, author="test")
    return monitor


def _record(
    monitor: FairnessMonitor,
    tenant: str,
    request_id: str,
    model: str,
    groups: list[str],
    predictions: list[int],
) -> None:
    """What the gateway does: declared labels -> tokens, then count."""
    tokens = monitor.group_tokens(tenant, model, "1", groups)
    monitor.record(
        tenant_id=tenant,
        request_id=request_id,
        model=model,
        version="1",
        groups=tokens,
        predictions=predictions,
    )


def _token(monitor: FairnessMonitor, tenant: str, label: str) -> str:
    (token,) = monitor.group_tokens(tenant, "any", "1", [label])
    return token


def _scan(names: ResourceNames) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": names.fairness_table.name}
    for _ in range(100):
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


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
    _record(monitor, "acme", "req-1", model, ["A", "B"], [1, 0])
    window = window_of(before)
    a, b = _token(monitor, "acme", "A"), _token(monitor, "acme", "B")
    (counters,) = monitor.store.counters(model, "1")["acme"].windows.values()
    assert counters.get(a, 1, None) == 1 and counters.get(b, 0, None) == 1

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
    answer = monitor.feedback("acme", "req-1", [1, 1], may_use=ANYTHING)

    # Then one count per row moved from unknown to label 1, and the group left the join store
    assert answer["model"] == model and answer["labels"] == 2
    (counters,) = monitor.store.counters(model, "1")["acme"].windows.values()
    assert counters.get(a, 1, None) == 0 and counters.get(a, 1, 1) == 1
    assert counters.get(b, 0, None) == 0 and counters.get(b, 0, 1) == 1
    assert _raw(names, "join#acme#req-1", "join") is None
    done = _raw(names, "done#acme#req-1", "done")  # the model only: feedback is checked against scope
    assert done is not None and set(done) == {"pk", "sk", "model", "expires_at"}
    cell = _raw(names, counts_pk(model, "1"), counts_sk(window, a, "acme"))
    assert cell is not None and cell["p1_l1"] == {"N": "1"} and cell["p1_lu"] == {"N": "0"}


def test_double_feedback_is_a_conflict_and_changes_nothing(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    _record(monitor, "acme", "req-2", model, ["A"], [0])
    monitor.feedback("acme", "req-2", [0], may_use=ANYTHING)
    with pytest.raises(FeedbackDuplicate) as raised:
        monitor.feedback("acme", "req-2", [1], may_use=ANYTHING)
    assert raised.value.status == 409
    a = _token(monitor, "acme", "A")
    (counters,) = monitor.store.counters(model, "1")["acme"].windows.values()
    assert counters.get(a, 0, 0) == 1 and counters.get(a, 0, 1) == 0


def test_another_tenants_request_id_is_not_found_and_keeps_the_join(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    _record(monitor, "acme", "req-3", model, ["A"], [1])
    for tenant, request_id in (("globex", "req-3"), ("acme", "never-made")):
        with pytest.raises(FeedbackNotFound) as raised:
            monitor.feedback(tenant, request_id, [1], may_use=ANYTHING)
        assert raised.value.status == 404
    with pytest.raises(InvalidInput):
        monitor.feedback("acme", "req-3", [1, 0], may_use=ANYTHING)  # one label per monitored row
    assert _raw(names, "join#acme#req-3", "join") is not None


def test_a_request_id_is_recorded_once(monitor: FairnessMonitor) -> None:
    model = _model()
    _record(monitor, "acme", "req-4", model, ["A"], [1])
    with pytest.raises(Exception, match=r"TransactionCanceled|ConditionalCheck"):
        _record(monitor, "acme", "req-4", model, ["A"], [1])
    (counters,) = monitor.store.counters(model, "1")["acme"].windows.values()
    assert counters.get(_token(monitor, "acme", "A"), 1, None) == 1


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
    settings = ReportSettings(kms_key_id=key_arn)
    admin.register_model(
        model, "1", target={"kind": "http", "url": "http://b"}, task="tabular-classification",
        card=complete_card(), artifact_digest="sha256:" + "ab" * 32, settings=AdminSettings(),
    )  # fmt: skip
    for i, (group, prediction, label) in enumerate(
        [("A", 1, 1), ("A", 1, 0), ("A", 0, 0), ("B", 0, 1), ("B", 0, 0), ("B", 1, 1), ("A", 1, None)]
    ):
        _record(monitor, "acme", f"{model}-{i}", model, [group], [prediction])
        if label is not None:
            monitor.feedback("acme", f"{model}-{i}", [label], may_use=ANYTHING)

    # When the scheduled handler runs
    from functions.fairness_report import handler

    capsys.readouterr()
    summary = handler.run(settings)

    # Then JSON and HTML per window and rolling are in S3 under reports/fairness/, SSE-KMS with the key
    prefix = f"reports/fairness/acme/{model}/1/"
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
    assert report["totals"] == {"outcomes": 7, "labelled": 6, "groups": 2, "unknown_group_refusals": 0}
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
    assert ratio["tenant"] == "acme"
    assert any("MinDemographicParityRatio" in r for r in records)

    # And the card summary is stored for GET /v1/models/{m}/card
    latest = monitor.store.latest_report("acme", model, "1")
    assert latest is not None and latest["report_html"] == prefix + "rolling-7d.html"


# ------------------------------------------------- issue 9: no raw group at rest, per tenant


def test_no_item_of_the_table_holds_a_raw_group_value(names: ResourceNames, monitor: FairnessMonitor) -> None:
    # Given a tenant that declared a distinctive label, a recorded+labelled and a pending request,
    # and a refused undeclared value
    model = _model()
    monitor.declare_groups("initech", {"labels": ["Zeta-Group-7"]}, author="test")
    _record(monitor, "initech", "req-z1", model, ["Zeta-Group-7"], [1])
    _record(monitor, "initech", "req-z2", model, ["Zeta-Group-7"], [0])
    monitor.feedback("initech", "req-z1", [1], may_use=ANYTHING)
    with pytest.raises(UnknownFairnessGroup):
        _record(monitor, "initech", "req-z3", model, ["Omega Personal 99"], [1])

    # Then only the declared label set names the label; no counter, join or tombstone item (keys
    # or attributes) holds it, and the refused value is nowhere
    items = _scan(names)
    holding = [i for i in items if "Zeta-Group-7" in json.dumps(i)]
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in holding] == [("groups#initech", "labels")]
    assert not any("Omega Personal 99" in json.dumps(i) for i in items)
    assert _raw(names, "join#initech#req-z3", "join") is None
    assert monitor.store.counters(model, "1")["initech"].unknown == {window_of(time.time()): 1}


def test_counters_of_two_tenants_are_separate_items_under_different_tokens(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    _record(monitor, "acme", "req-t1", model, ["A", "A"], [1, 1])
    _record(monitor, "globex", "req-t1", model, ["A"], [0])
    per_tenant = monitor.store.counters(model, "1")
    assert set(per_tenant) == {"acme", "globex"}
    (acme,) = per_tenant["acme"].windows.values()
    (globex,) = per_tenant["globex"].windows.values()
    assert acme.total() == 2 and globex.total() == 1
    assert set(acme.groups()).isdisjoint(globex.groups())
    # each tenant's feedback only sees its own request id
    monitor.feedback("globex", "req-t1", [0], may_use=ANYTHING)
    assert monitor.store.pending("acme", "req-t1") is not None


def test_feedback_from_a_key_not_entitled_to_the_model_changes_nothing(
    names: ResourceNames, monitor: FairnessMonitor
) -> None:
    model = _model()
    _record(monitor, "acme", "req-s1", model, ["B"], [1])
    before = sorted(json.dumps(i, sort_keys=True) for i in _scan(names))
    with pytest.raises(FeedbackNotFound):
        monitor.feedback("acme", "req-s1", [0], may_use=lambda m: m != model)
    assert sorted(json.dumps(i, sort_keys=True) for i in _scan(names)) == before
    monitor.feedback("acme", "req-s1", [0], may_use=ANYTHING)
    with pytest.raises(FeedbackNotFound):  # not 409: the tombstone's model is checked too
        monitor.feedback("acme", "req-s1", [0], may_use=lambda m: m != model)


def test_a_new_declaration_keeps_names_of_earlier_labels_and_counts_revisions(
    monitor: FairnessMonitor,
) -> None:
    first = monitor.declare_groups("umbrella", {"labels": ["X", "Y"]}, author="k1")
    second = monitor.declare_groups("umbrella", {"labels": ["Y", "Z"]}, author="k2")
    assert (first.revision, second.revision) == (1, 2) and second.labels == ("Y", "Z")
    assert sorted(second.names.values()) == ["X", "Y", "Z"] and second.updated_by == "k2"
    with pytest.raises(UnknownFairnessGroup):
        monitor.group_tokens("umbrella", "m", "1", ["X"])
