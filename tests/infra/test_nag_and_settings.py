"""cdk-nag AwsSolutions on the synthesised stack, and the stage settings parser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cdk_nag import AwsSolutionsChecks

from cdk.paths import DEPS_LAYER_BUILD_DIR
from cdk.settings import StageSettings

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("variant", ["synth", "synth_without_inference"])
def test_aws_solutions_reports_no_unacknowledged_findings(
    variant: str, request: pytest.FixtureRequest
) -> None:
    # Given the dev stack (with and without the endpoint)
    synth: Synth = request.getfixturevalue(variant)

    # When the AwsSolutions pack validates it (as `cdk synth` does through app.py)
    report = AwsSolutionsChecks(synth.app).validate_scope(synth.stack)

    # Then there is no finding, error or warning, left without a reasoned acknowledgement
    findings = [
        f"{v.severity} {v.rule_name} {r.construct_path}"
        for v in report.violations
        for r in v.violating_resources
    ]
    assert findings == []
    assert report.success


def test_a_missing_dependency_layer_build_is_a_warning_not_a_failure(synth: Synth) -> None:
    # Given the repository as it is / Then a missing `make layers` output is flagged, never silent
    # (read from the constructs' own metadata: Annotations.find_warning cannot deserialise the
    # entries in some jsii runtimes, "Unknown interface ... MetadataEntry")
    warned = any(
        entry.type == "aws:cdk:warning" and "make layers" in str(entry.data)
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
    )
    assert warned is not (DEPS_LAYER_BUILD_DIR / "python").is_dir()


def test_stage_settings_come_from_camel_case_context() -> None:
    # Given a context map for prod / When parsed
    settings = StageSettings.from_context(
        "prod",
        {
            "prod": {
                "logRetentionDays": 365,
                "removalPolicy": "retain",
                "customDomain": {"domainName": "api.example.com", "certificateArn": "arn:aws:acm:x"},
            }
        },
    )
    # Then values are typed and defaults fill the rest
    assert settings.stage == "prod" and settings.log_retention_days == 365
    assert settings.custom_domain is not None and settings.custom_domain.domain_name == "api.example.com"
    assert settings.sagemaker_instance_type == "ml.g5.xlarge"


@pytest.mark.parametrize(
    "raw",
    [
        {"logRetentionDays": 31},
        {"removalPolicy": "keep"},
        {"unknownThing": 1},
        {"minInstanceCount": 3},
        {"tenantRequestsAlarm": 0},
        {"tenantBlockExcessAlarm": 0},
        {"tenantBlockShareAlarm": 1.0},
        {"tenantBlockShareAlarm": 0},
    ],
)
def test_stage_settings_refuse_typos_and_unsafe_values(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StageSettings.from_context("dev", {"dev": raw})
