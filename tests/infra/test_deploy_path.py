"""The deploy path: the built model repository shipped before the endpoint exists, an endpoint
that rolls when it changes, and browser access (CORS) that exposes the disclosure headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cdk_nag import AwsSolutionsChecks

from cdk.inference import model_repository, repository_digest
from cdk.settings import StageSettings
from functions.api.cors import EXPOSED_HEADERS
from tests.infra.conftest import TINY_MODEL_REPOSITORY, synthesise

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
ORIGIN = "https://console.example.com"


@pytest.fixture(scope="module")
def browser_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The dev stage allowing one browser origin."""
    yield synthesise(tmp_path_factory.mktemp("cdk-out-cors"), corsAllowOrigins=[ORIGIN])


def only(synth: Synth, cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = synth.resources(cfn_type)
    assert len(found) == 1, list(found)
    return next(iter(found.items()))


def test_the_built_repository_is_shipped_to_the_models_prefix_before_the_model_exists(synth: Synth) -> None:
    # Given the dev stage with a built repository (the tiny fixture)
    deployment_id, deployment = only(synth, "Custom::CDKBucketDeployment")
    _, model = only(synth, "AWS::SageMaker::Model")

    # Then it is copied into the artifacts bucket's models/ prefix, never pruning published versions
    props = deployment["Properties"]
    bucket = synth.logical_id(synth.stack.data.artifacts_bucket)
    assert props["DestinationBucketName"] == {"Ref": bucket}
    assert props["DestinationBucketKeyPrefix"] == "models/"
    assert props["Prune"] is False and props["RetainOnDelete"] is True
    # And the model (so the endpoint) is created only after the files are there
    assert deployment_id in model["DependsOn"]


def test_the_model_carries_the_repository_digest_so_a_changed_build_rolls_the_endpoint(synth: Synth) -> None:
    _, model = only(synth, "AWS::SageMaker::Model")
    environment = model["Properties"]["PrimaryContainer"]["Environment"]

    expected = repository_digest(model_repository(TINY_MODEL_REPOSITORY))
    assert environment["STEWARD_MODEL_REPOSITORY_DIGEST"] == expected and len(expected) == 64


def test_the_repository_digest_changes_with_any_artifact(tmp_path: Path) -> None:
    # Given two builds that differ in one artifact's bytes (manifests kept truthful)
    import shutil

    first = tmp_path / "a"
    shutil.copytree(TINY_MODEL_REPOSITORY, first)
    second = tmp_path / "b"
    shutil.copytree(TINY_MODEL_REPOSITORY, second)
    weights = second / "tiny" / "1" / "weights.bin"
    weights.write_bytes(b"other weights, same length\n"[: weights.stat().st_size])
    manifest_path = second / "tiny" / "1" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    manifest["artifacts"]["weights.bin"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))

    # Then their digests differ
    assert repository_digest(model_repository(first)) != repository_digest(model_repository(second))


def test_a_corrupt_build_fails_the_synth(tmp_path: Path) -> None:
    import shutil

    from steward.catalog.publish import ArtifactIntegrity

    shutil.copytree(TINY_MODEL_REPOSITORY, tmp_path / "repo")
    (tmp_path / "repo" / "tiny" / "1" / "weights.bin").write_bytes(b"tampered weights!!\n")

    with pytest.raises(ArtifactIntegrity, match=r"weights\.bin"):
        model_repository(tmp_path / "repo")


def test_the_deployment_handler_can_hold_the_repository_in_its_temporary_storage(synth: Synth) -> None:
    handlers = [
        r["Properties"]
        for logical_id, r in synth.resources("AWS::Lambda::Function").items()
        if logical_id.startswith("CustomCDKBucketDeployment")
    ]
    assert len(handlers) == 1 and handlers[0]["EphemeralStorage"]["Size"] >= 1024


def test_without_a_built_repository_nothing_is_shipped_and_the_synth_warns(tmp_path: Path) -> None:
    # Given a stage whose repository directory does not exist
    synth = synthesise(tmp_path / "out", modelRepository=str(tmp_path / "absent"), deployInference=True)

    # Then there is no deployment, and a warning says the endpoint would start empty
    assert synth.resources("Custom::CDKBucketDeployment") == {}
    warned = any(
        entry.type == "aws:cdk:warning" and "empty model repository" in str(entry.data)
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
    )
    assert warned


def test_cors_preflight_is_answered_without_the_authorizer_for_the_stage_origin(browser_synth: Synth) -> None:
    options = [
        m["Properties"]
        for m in browser_synth.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    # Root and {proxy+} (and the public paths) each answer OPTIONS, with no key and no Lambda
    assert len(options) >= 2
    for method in options:
        assert method["AuthorizationType"] == "NONE"
        assert method["Integration"]["Type"] == "MOCK"
        headers = method["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{ORIGIN}'"
        assert "Authorization" in headers["method.response.header.Access-Control-Allow-Headers"]


def test_cors_answers_expose_the_version_and_link_headers(browser_synth: Synth) -> None:
    # The api function gets the origin (its CORS middleware exposes EXPOSED_HEADERS on answers)
    functions = browser_synth.resources("AWS::Lambda::Function").values()
    api = [f for f in functions if "STEWARD_CORS_ALLOW_ORIGINS" in json.dumps(f["Properties"])]
    assert len(api) == 1
    assert api[0]["Properties"]["Environment"]["Variables"]["STEWARD_CORS_ALLOW_ORIGINS"] == ORIGIN
    assert {"X-Steward-Model-Version", "Link"} <= set(EXPOSED_HEADERS)
    # And API Gateway's own refusals carry the same, so a browser can read a 401 or 429
    responses = browser_synth.resources("AWS::ApiGateway::GatewayResponse").values()
    for response in responses:
        params = response["Properties"]["ResponseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{ORIGIN}'"
        exposed = params["gatewayresponse.header.Access-Control-Expose-Headers"].strip("'").split(",")
        assert {"X-Steward-Model-Version", "Link"} <= set(exposed)


def test_without_origins_there_is_no_cors_at_all(synth: Synth) -> None:
    methods = synth.resources("AWS::ApiGateway::Method").values()
    assert not [m for m in methods if m["Properties"]["HttpMethod"] == "OPTIONS"]
    assert "Access-Control" not in json.dumps(synth.resources("AWS::ApiGateway::GatewayResponse"))


def test_the_browser_stage_has_no_unacknowledged_nag_findings(browser_synth: Synth) -> None:
    report = AwsSolutionsChecks(browser_synth.app).validate_scope(browser_synth.stack)
    findings = [f"{v.rule_name} {r.construct_path}" for v in report.violations for r in v.violating_resources]
    assert findings == []


@pytest.mark.parametrize("origin", ["*", "http://app.example.com", "https://app.example.com/path", ""])
def test_only_exact_https_origins_are_accepted(origin: str) -> None:
    with pytest.raises(ValueError, match="cors_allow_origins"):
        StageSettings.from_context("dev", {"dev": {"corsAllowOrigins": [origin]}})


def test_the_stack_outputs_what_publish_reads(synth: Synth) -> None:
    outputs = synth.template.find_outputs("*")
    assert {"ArtifactsBucket", "InferenceEndpoint"} <= set(outputs)
