"""ApiConstruct + WafConstruct: authorizer wiring, problem responses, stage, functions, IAM, WAF."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match
from steward.resources import KEYS_TENANT_INDEX, REVIEWS_ID_INDEX, REVIEWS_QUEUE_INDEX, ResourceNames
from steward.settings import ApiSettings, AuthorizerSettings

from cdk.api import PUBLIC_RESOURCES

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra
NAMES = ResourceNames(stage="dev")


def _method_paths(synth: Synth) -> dict[str, str]:
    """Method logical id -> its resource path part ('/' for the root)."""
    resources = synth.resources("AWS::ApiGateway::Resource")
    paths = {}
    for logical_id, method in synth.resources("AWS::ApiGateway::Method").items():
        ref = method["Properties"]["ResourceId"]
        paths[logical_id] = resources[ref["Ref"]]["Properties"]["PathPart"] if "Ref" in ref else "/"
    return paths


def _policy_statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_every_method_but_the_public_ones_goes_through_the_authorizer(synth: Synth) -> None:
    # Given all API methods with the path they hang on
    authorizer_id = synth.logical_id(synth.stack.api.authorizer)
    paths = _method_paths(synth)
    methods = synth.resources("AWS::ApiGateway::Method")

    # Then the public GETs are open and every other method uses the REQUEST authorizer
    assert sorted(p for p in paths.values() if p in PUBLIC_RESOURCES) == sorted(PUBLIC_RESOURCES)
    assert {"/", "{proxy+}"} <= set(paths.values())
    for logical_id, path in paths.items():
        props = methods[logical_id]["Properties"]
        if path in PUBLIC_RESOURCES:
            assert props["AuthorizationType"] == "NONE" and props["HttpMethod"] == "GET"
        else:
            assert props["AuthorizationType"] == "CUSTOM", f"{path} {props['HttpMethod']} is unauthenticated"
            assert props["AuthorizerId"] == {"Ref": authorizer_id}


def test_bodies_pass_as_bytes_for_the_binary_tensor_extension(synth: Synth) -> None:
    # tritonclient sends raw tensors without a Content-Type: only */* keeps such a body intact
    synth.template.has_resource_properties("AWS::ApiGateway::RestApi", {"BinaryMediaTypes": ["*/*"]})


def test_the_authorizer_keys_on_the_authorization_header_without_an_edge_cache(synth: Synth) -> None:
    # No edge cache by default: a revoked key must stop working within 5 s (see
    # test_freshness_budget), and the function's own key cache keeps DynamoDB reads low.
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 0,
        },
    )


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("UNAUTHORIZED", "401", "auth.invalid_key"),
        ("ACCESS_DENIED", "403", "auth.forbidden"),
        ("AUTHORIZER_FAILURE", "503", "auth.unavailable"),
        ("THROTTLED", "429", "rate_limit.exceeded"),
        ("DEFAULT_5XX", "503", "backend.unavailable"),
    ],
)
def test_gateway_errors_are_problem_json_with_a_stable_code(
    synth: Synth, response_type: str, status: str, code: str
) -> None:
    # Given the gateway response for one error type
    responses = synth.template.find_resources(
        "AWS::ApiGateway::GatewayResponse", {"Properties": {"ResponseType": response_type}}
    )
    assert len(responses) == 1
    props = next(iter(responses.values()))["Properties"]

    # When its template renders / Then it is RFC 9457 with the stable code and the request id
    body = json.loads(props["ResponseTemplates"]["application/json"])
    assert props["StatusCode"] == status
    assert props["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert body["code"] == code and body["status"] == int(status)
    assert body["request_id"] == "$context.requestId"
    assert set(body) == {"type", "title", "status", "detail", "code", "request_id"}


@pytest.mark.parametrize(
    ("response_type", "status"), [("UNAUTHORIZED", 401), ("ACCESS_DENIED", 403), ("AUTHORIZER_FAILURE", 503)]
)
def test_the_deployed_refusals_read_like_the_local_ones(
    synth: Synth, response_type: str, status: int
) -> None:
    """A client sees the same 401/403 from API Gateway as from `make up` (one renderer for both)."""
    from starlette.testclient import TestClient

    from scripts.local.api_gateway import with_authorizer

    def refuse(event: dict[str, Any]) -> dict[str, Any]:
        if status == 401:
            raise Exception("Unauthorized")
        if status == 503:
            raise ConnectionError("key store unreachable")
        return {"principalId": "k", "policyDocument": {"Statement": [{"Effect": "Deny"}]}}

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    local = TestClient(with_authorizer(never, refuse)).get(
        "/v1/models", headers={"Authorization": "Bearer k"}
    )
    responses = synth.template.find_resources(
        "AWS::ApiGateway::GatewayResponse", {"Properties": {"ResponseType": response_type}}
    )
    deployed = json.loads(
        next(iter(responses.values()))["Properties"]["ResponseTemplates"]["application/json"]
    )
    local_body = local.json()
    assert local.status_code == status
    assert {k: v for k, v in deployed.items() if k != "request_id"} == {
        k: v for k, v in local_body.items() if k != "request_id"
    }


def test_the_stage_traces_throttles_and_writes_access_logs_without_bodies(synth: Synth) -> None:
    # Given the one API stage
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "MethodSettings": [
                Match.object_like(
                    {"DataTraceEnabled": False, "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}
                )
            ],
        },
    )
    # Then it logs to the construct's access log group, with the request id and no client IP
    access_log = next(iter(synth.resources("AWS::ApiGateway::Stage").values()))["Properties"][
        "AccessLogSetting"
    ]
    assert synth.logical_id(synth.stack.api.access_logs) in json.dumps(access_log["DestinationArn"])
    fields = json.loads(access_log["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert "$context.identity.sourceIp" not in fields.values()


def test_functions_run_python_312_traced_with_steward_environment(synth: Synth) -> None:
    api = synth.stack.api
    for function, handler, model in (
        (api.api_function.function, "functions.api.handler.handler", ApiSettings),
        (api.authorizer_function.function, "functions.authorizer.handler.handler", AuthorizerSettings),
    ):
        # Given a function of the API / Then its runtime, tracing and environment are Steward's
        props = synth.resources("AWS::Lambda::Function")[synth.logical_id(function)]["Properties"]
        env = props["Environment"]["Variables"]
        assert props["Handler"] == handler
        assert props["Runtime"] == "python3.12" and props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 2
        assert env["STEWARD_STAGE"] == "dev"
        assert env["STEWARD_PEPPER_SECRET_NAME"] == NAMES.pepper_secret
        # Each function carries only what its settings model reads
        steward_env = {name.removeprefix("STEWARD_").lower() for name in env if name.startswith("STEWARD_")}
        assert steward_env <= set(model.model_fields)
        if model is ApiSettings:  # the review queue of flagged requests
            assert env["STEWARD_REVIEWS_TABLE"] == NAMES.reviews_table.name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Steward"
        assert env["POWERTOOLS_SERVICE_NAME"].startswith("steward-")
        assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
        assert all(name.startswith(("STEWARD_", "POWERTOOLS_")) for name in env)
        # Each function logs to its own CMK-encrypted log group with retention
        log_group = synth.resources("AWS::Logs::LogGroup")[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == 30
        assert "KmsKeyId" in log_group["Properties"]


def test_the_authorizer_may_only_read_one_key_item_and_the_pepper(synth: Synth) -> None:
    # Given the authorizer role's policy statements
    statements = _policy_statements(synth, synth.stack.api.authorizer_function.role)
    actions = {action for s in statements for action in _actions(s)}

    # Then it may GetItem on the api-keys table, read the pepper, decrypt; nothing broader
    keys_table = synth.logical_id(synth.stack.data.table(NAMES.api_keys_table))
    assert {"dynamodb:GetItem", "secretsmanager:GetSecretValue", "kms:Decrypt"} <= actions
    assert not {a for a in actions if a.startswith("dynamodb:")} - {"dynamodb:GetItem"}
    assert not any("*" in action for action in actions if not action.startswith("xray:"))
    for statement in statements:
        if "dynamodb:GetItem" in _actions(statement):
            assert _resources(statement) == [{"Fn::GetAtt": [keys_table, "Arn"]}]
        if "*" in _resources(statement):
            assert all(a.startswith("xray:") for a in _actions(statement)), statement


def test_the_api_function_invokes_only_its_inference_endpoint(synth: Synth) -> None:
    # Given the api role's statements
    statements = _policy_statements(synth, synth.stack.api.api_function.role)
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in _actions(s)]

    # Then InvokeEndpoint targets exactly the endpoint of this stage, and no action is a wildcard
    assert len(invoke) == 1
    assert f"endpoint/{NAMES.prefix}-inference" in json.dumps(invoke[0]["Resource"])
    assert not any(a.endswith(":*") or a == "*" for s in statements for a in _actions(s))
    assert not any("Scan" in a for s in statements for a in _actions(s) if s.get("Sid") != "RegistryRead")
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    via_services = [s for s in kms if s.get("Sid") != "PrivacyEnvelopeKeys"]
    assert via_services and all("kms:ViaService" in json.dumps(s.get("Condition")) for s in via_services)
    # The privacy encrypt operator calls KMS directly: only under a tenant encryption context
    (envelope,) = [s for s in kms if s.get("Sid") == "PrivacyEnvelopeKeys"]
    assert set(_actions(envelope)) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert "steward:tenant" in json.dumps(envelope["Condition"])


def test_the_api_function_touches_only_the_tables_its_code_uses(synth: Synth) -> None:
    # Given the api role's DynamoDB statements
    statements = _policy_statements(synth, synth.stack.api.api_function.role)
    granted: dict[str, set[str]] = {}
    for statement in statements:
        for action in _actions(statement):
            if action.startswith("dynamodb:"):
                for resource in _resources(statement):
                    granted.setdefault(json.dumps(resource), set()).add(action)

    # Then each table gets exactly the calls steward.adapters makes on it (no index, no other table)
    def arn(spec: Any) -> str:
        return json.dumps({"Fn::GetAtt": [synth.logical_id(synth.stack.data.table(spec)), "Arn"]})

    def index(spec: Any, name: str) -> str:
        return json.dumps({"Fn::Join": ["", [json.loads(arn(spec)), f"/index/{name}"]]})

    assert granted == {
        # reads per request; the platform-admin routes steer versions (entry, approval, history)
        arn(NAMES.models_table): {"dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"},
        arn(NAMES.policies_table): {"dynamodb:Query", "dynamodb:PutItem"},
        arn(NAMES.api_keys_table): {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        index(NAMES.api_keys_table, KEYS_TENANT_INDEX): {"dynamodb:Query"},
        arn(NAMES.audit_table): {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
        arn(NAMES.fairness_table): {  # counters, joins; a tenant's serving days in one BatchGetItem
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:BatchGetItem",
        },
        arn(NAMES.limits_table): {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        arn(NAMES.control_table): {
            "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
        # Files and batches (granted by cdk/events.py: steward.adapters.batch_store).
        arn(NAMES.batches_table): {
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query",
        },
        arn(NAMES.reviews_table): {
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        },
        index(NAMES.reviews_table, REVIEWS_QUEUE_INDEX): {"dynamodb:Query"},
        index(NAMES.reviews_table, REVIEWS_ID_INDEX): {"dynamodb:Query"},
    }  # fmt: skip
    # SQS: sending batch jobs only (the worker consumes them).
    assert {a for s in statements for a in _actions(s) if a.startswith("sqs:")} == {"sqs:SendMessage"}


def test_the_waf_applies_managed_rules_and_a_rate_limit_to_the_stage(synth: Synth) -> None:
    # Given the WebACL / Then AWS managed groups and a rate-based rule are in it
    acl = next(iter(synth.resources("AWS::WAFv2::WebACL").values()))["Properties"]
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert groups == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert any("RateBasedStatement" in r["Statement"] for r in acl["Rules"])
    # And it is associated with the API stage, and its logs redact the key headers
    stage_id = next(iter(synth.resources("AWS::ApiGateway::Stage")))
    association = next(iter(synth.resources("AWS::WAFv2::WebACLAssociation").values()))["Properties"]
    assert stage_id in json.dumps(association["ResourceArn"])
    logging = next(iter(synth.resources("AWS::WAFv2::LoggingConfiguration").values()))["Properties"]
    assert {f["SingleHeader"]["Name"] for f in logging["RedactedFields"]} == {"authorization", "x-api-key"}
