"""FairnessReportsConstruct: schedule, report function IAM, threshold alarm to the alarm topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from steward.resources import ResourceNames
from steward.settings import ReportSettings

from cdk.reports import MIN_DP_RATIO_METRIC, QUALITY_BREACHES_METRIC, SERVICE

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def _statements(synth: Synth, role: Any) -> dict[str, dict[str, Any]]:
    role_id = synth.logical_id(role)
    found: dict[str, dict[str, Any]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found[statement.get("Sid", "")] = statement
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_an_eventbridge_schedule_invokes_the_report_function(synth: Synth) -> None:
    # Given the dev stage / When reading its event rules
    function_id = synth.logical_id(synth.stack.fairness_reports.function.function)
    rules = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"]["Targets"])
    ]
    # Then one enabled rate schedule targets the report function, which may be invoked by events
    assert len(rules) == 1
    assert rules[0]["ScheduleExpression"] == "rate(6 hours)" and rules[0]["State"] == "ENABLED"
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}},
    )
    handler = synth.resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert handler["Handler"] == "functions.fairness_report.handler.handler"
    env = handler["Environment"]["Variables"]
    assert env["STEWARD_FAIRNESS_TABLE"] == NAMES.fairness_table.name
    assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert env["STEWARD_KMS_KEY_ID"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.data.key), "Arn"]}
    # Its environment carries only what steward.settings.ReportSettings reads
    steward_env = {name.removeprefix("STEWARD_").lower() for name in env if name.startswith("STEWARD_")}
    assert steward_env <= set(ReportSettings.model_fields)


def test_the_report_function_may_read_counters_and_write_only_report_objects(synth: Synth) -> None:
    # Given the report function's role
    statements = _statements(synth, synth.stack.fairness_reports.function.role)
    bucket_id = synth.logical_id(synth.stack.data.results_bucket)
    fairness_id = synth.logical_id(synth.stack.data.table(NAMES.fairness_table))

    # Then S3 access is PutObject under reports/fairness/ only, counters are read, summaries put
    writes = statements["ReportsWrite"]
    assert _as_list(writes["Action"]) == ["s3:PutObject"]
    assert writes["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/reports/{kind}/*"]]}
        for kind in ("drift", "fairness")
    ]
    counters = statements["FairnessCountersReadSummaryWrite"]
    assert set(_as_list(counters["Action"])) == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}
    assert counters["Resource"] == {"Fn::GetAtt": [fairness_id, "Arn"]}
    assert "kms:ViaService" in statements["ReportsKms"]["Condition"]["StringEquals"]
    assert not any("dynamodb:DeleteItem" in _as_list(s["Action"]) for s in statements.values())


def test_the_api_function_may_count_and_join_but_not_scan_fairness_items(synth: Synth) -> None:
    statements = _statements(synth, synth.stack.api.api_function.role)
    join = statements["FairnessCountersJoin"]
    assert set(_as_list(join["Action"])) == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
    }  # fmt: skip


def test_a_low_demographic_parity_ratio_alarms_to_the_alarm_topic(synth: Synth) -> None:
    # Given the fairness alarm
    alarm_id = synth.logical_id(synth.stack.fairness_reports.alarm)
    alarm = synth.resources("AWS::CloudWatch::Alarm")[alarm_id]["Properties"]
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}

    # Then it watches the fleet-wide minimum ratio below 0.8 and notifies the alarm topic
    assert alarm["Namespace"] == "Steward" and alarm["MetricName"] == MIN_DP_RATIO_METRIC
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 0.8
    assert alarm["Statistic"] == "Minimum" and alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_a_quality_threshold_breach_alarms_to_the_alarm_topic(synth: Synth) -> None:
    # Given the quality alarm
    alarm_id = synth.logical_id(synth.stack.fairness_reports.quality_alarm)
    alarm = synth.resources("AWS::CloudWatch::Alarm")[alarm_id]["Properties"]
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}

    # Then it fires on one breach or more of the fleet-wide count and notifies the alarm topic
    assert alarm["Namespace"] == "Steward" and alarm["MetricName"] == QUALITY_BREACHES_METRIC
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1
    assert alarm["Statistic"] == "Maximum" and alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_drift_of_any_model_version_alarms_to_the_alarm_topic(synth: Synth) -> None:
    # Given the drift alarm
    alarm_id = synth.logical_id(synth.stack.fairness_reports.drift_alarm)
    alarm = synth.resources("AWS::CloudWatch::Alarm")[alarm_id]["Properties"]
    topic = {"Ref": synth.logical_id(synth.stack.observability.topic)}

    # Then it breaches when the fleet's max share of drifted features > 0.5 or max prediction PSI > 0.2
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(share > 0.5 OR psi > 0.2, 1, 0)"
    watched = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {k: v["Metric"]["MetricName"] for k, v in watched.items()} == {
        "share": "MaxShareDriftedFeatures", "psi": "MaxPredictionPSI"
    }  # fmt: skip
    assert all(v["Metric"]["Dimensions"] == [{"Name": "service", "Value": SERVICE}] for v in watched.values())
    assert all(v["Stat"] == "Maximum" for v in watched.values())
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
