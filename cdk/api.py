"""The public HTTPS API: REST API Gateway, the Lambda REQUEST authorizer and the api function.

REST (v1) rather than HTTP APIs because Steward needs WAF association, per-stage throttling,
gateway responses and access logs in one place. Every route goes through the authorizer except
``GET /health`` and ``GET /openapi.json``; gateway-generated errors use the same RFC 9457 problem
shape and stable codes as the api function, so clients parse one error format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct
from steward.errors import (
    AuthorizerFailure,
    BackendUnavailable,
    Forbidden,
    InputTooLarge,
    StewardError,
    Throttled,
    Unauthenticated,
    problem_for,
)
from steward.resources import (
    KEYS_TENANT_INDEX,
    PUBLIC_PATHS,
    REVIEWS_ID_INDEX,
    REVIEWS_QUEUE_INDEX,
    ResourceNames,
    TableSpec,
)

from cdk.data import DataConstruct
from cdk.function import StewardFunction
from cdk.grants import invoke_endpoint, tenant_data_keys
from cdk.layers import LayersConstruct
from cdk.nag import acknowledge
from cdk.settings import StageSettings
from functions.api.cors import ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_S

#: `steward.resources.PUBLIC_PATHS` as API Gateway resources (unauthenticated GETs; all else needs a key).
PUBLIC_RESOURCES = tuple(path.removeprefix("/") for path in PUBLIC_PATHS)
API_TIMEOUT = Duration.seconds(29)  # API Gateway's integration timeout
AUTHORIZER_TIMEOUT = Duration.seconds(5)

# Fields of the access log: no source IP, path parameters or headers (personal data, keys); the
# tenant is the authorizer's principalId, an opaque id.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "tenant": "$context.authorizer.principalId",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}


@dataclass(frozen=True)
class Problem:
    """A gateway-generated error, rendered by the app's own problem renderer
    (`steward.errors.problem`), so a 401 from API Gateway and one from the app read the same."""

    response_type: apigw.ResponseType
    error: StewardError
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> int:
        return self.error.status

    @property
    def code(self) -> str:
        return self.error.code

    def body(self) -> str:
        return json.dumps(problem_for(self.error, REQUEST_ID_VARIABLE))


#: API Gateway substitutes this in a gateway response template.
REQUEST_ID_VARIABLE = "$context.requestId"

GATEWAY_PROBLEMS = (
    Problem(
        apigw.ResponseType.UNAUTHORIZED, Unauthenticated(), (("WWW-Authenticate", 'Bearer realm="steward"'),)
    ),
    Problem(apigw.ResponseType.ACCESS_DENIED, Forbidden()),
    Problem(apigw.ResponseType.AUTHORIZER_FAILURE, AuthorizerFailure(), (("Retry-After", "1"),)),
    Problem(apigw.ResponseType.THROTTLED, Throttled(), (("Retry-After", "1"),)),
    Problem(
        apigw.ResponseType.REQUEST_TOO_LARGE, InputTooLarge("The request body exceeds the gateway limit.")
    ),
    Problem(apigw.ResponseType.DEFAULT_5_XX, BackendUnavailable(), (("Retry-After", "5"),)),
)


class ApiConstruct(Construct):
    """REST API + authorizer + api function, each function with least-privilege grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: StageSettings,
        data: DataConstruct,
        layers: LayersConstruct,
        inference_endpoint_name: str | None,
    ):
        super().__init__(scope, construct_id)
        self._names = names
        self._data = data
        retention = settings.log_retention
        removal = settings.cdk_removal_policy
        # Each function gets what its settings model reads (STEWARD_ prefix; steward.settings).
        common = {
            "STEWARD_STAGE": names.stage,
            "STEWARD_ACCOUNT": Stack.of(self).account,
            "STEWARD_REGION": Stack.of(self).region,
            "STEWARD_PEPPER_SECRET_NAME": names.pepper_secret,
        }
        api_tables = (
            names.api_keys_table,  # the admin key routes
            names.models_table,
            names.audit_table,
            names.fairness_table,
            names.policies_table,
            names.limits_table,
            names.control_table,
            names.reviews_table,  # the review queue of flagged requests
        )
        environment = {  # steward.settings.ApiSettings
            **common,
            **{_env_name(spec.name, names.prefix, "TABLE"): spec.name for spec in api_tables},
            "STEWARD_KMS_KEY_ID": data.key.key_arn,
            # BlockedExcess is emitted against the share the block-rate alarm tolerates.
            "STEWARD_TENANT_BLOCK_SHARE": f"{settings.tenant_block_share_alarm:g}",
            # Records of tenants without a plan (and of unauthenticated callers) expire after this.
            "STEWARD_AUDIT_RETENTION_DAYS": str(settings.audit_retention_days),
        }
        if settings.backend_url:
            environment["STEWARD_BACKEND_URL"] = settings.backend_url
        if settings.privacy_deep_model:
            environment["STEWARD_PRIVACY_DEEP_MODEL"] = settings.privacy_deep_model
        #: What the governed path reads; the batch worker runs the same path (`cdk.events`).
        self.environment = dict(environment)
        if settings.cors_allow_origins:  # the api function's alone (functions.api.cors.CorsSettings)
            environment["STEWARD_CORS_ALLOW_ORIGINS"] = ",".join(settings.cors_allow_origins)

        self.authorizer_function = StewardFunction(
            self,
            "AuthorizerFunction",
            name="authorizer",
            service="steward-authorizer",
            description="Steward API key authorizer (REQUEST)",
            layers=layers.all,
            # Its key cache and API Gateway's result cache share the freshness budget (5 s).
            environment={  # steward.settings.AuthorizerSettings
                **common,
                _env_name(names.api_keys_table.name, names.prefix, "TABLE"): names.api_keys_table.name,
                "STEWARD_AUTH_CACHE_TTL_S": f"{settings.authorizer_function_cache_ttl_s:g}",
            },
            key=data.key,
            log_retention=retention,
            removal_policy=removal,
            memory_mb=settings.authorizer_memory_mb,
            timeout=AUTHORIZER_TIMEOUT,
            log_level=settings.log_level,
            reserved_concurrency=settings.authorizer_reserved_concurrency,
        )
        self.api_function = StewardFunction(
            self,
            "ApiFunction",
            name="api",
            service="steward-api",
            description="Steward API (FastAPI + Mangum)",
            layers=layers.all,
            environment=environment,
            key=data.key,
            log_retention=retention,
            removal_policy=removal,
            memory_mb=settings.api_memory_mb,
            timeout=API_TIMEOUT,
            log_level=settings.log_level,
            reserved_concurrency=settings.api_reserved_concurrency,
        )
        self._grant_authorizer(self.authorizer_function.role)
        self._grant_api(self.api_function.role, inference_endpoint_name)

        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=data.key, retention=retention, removal_policy=removal
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{names.prefix}-api",
            description="Steward: governed model inference",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,  # the account-level role API Gateway needs to write logs
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,  # shared by the whole account
            disable_execute_api_endpoint=settings.custom_domain is not None,
            # Bodies pass through as bytes (base64 to and from Lambda; Mangum decodes and encodes):
            # the OIP binary tensor extension sends raw tensors, and tritonclient sends them with
            # no Content-Type at all, so only "*/*" keeps every such body intact. Text answers
            # (JSON, problem+json, HTML, SVG) come back with isBase64Encoded false, unchanged.
            binary_media_types=["*/*"],
            # Browser preflights (OPTIONS, never a key) are answered here, unauthorised; the app
            # adds the CORS headers to the answers themselves (functions.api.cors).
            default_cors_preflight_options=_preflight(settings.cors_allow_origins),
            deploy_options=apigw.StageOptions(
                stage_name=names.stage,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log full request/response bodies
                throttling_rate_limit=settings.api_throttle_rate,
                throttling_burst_limit=settings.api_throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )
        cloud_watch_role = self.rest_api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            acknowledge(
                cloud_watch_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level API Gateway logging role; AWS maintains this policy for exactly "
                "that purpose and API Gateway cannot write access logs without it.",
            )
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self.authorizer_function.function,
            # API Gateway caches the policy per identity source value (the key), so one key's
            # decision is reused for up to the TTL (0 by default: see StageSettings, a revoked key
            # stops working within 5 s); a request without the header gets 401 unseen.
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(settings.authorizer_cache_ttl_s),
        )
        integration = apigw.LambdaIntegration(self.api_function.function, proxy=True, allow_test_invoke=False)
        protected = apigw.MethodOptions(
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.CUSTOM,
            request_validator=validator,
        )
        self.methods: list[apigw.Method] = [
            self.rest_api.root.add_method(
                "ANY",
                integration,
                authorizer=self.authorizer,
                authorization_type=apigw.AuthorizationType.CUSTOM,
                request_validator=validator,
            ),
            self.rest_api.root.add_proxy(
                default_integration=integration, default_method_options=protected, any_method=False
            ).add_method("ANY"),
        ]
        for path in PUBLIC_RESOURCES:
            method = self.rest_api.root.add_resource(path).add_method(
                "GET",
                integration,
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
            )
            acknowledge(method, "AwsSolutions-APIG4", f"GET /{path} is public by design (no tenant data).")
            acknowledge(method, "AwsSolutions-COG4", f"GET /{path} is public by design (no tenant data).")
            self.methods.append(method)
        for method in self.methods[:2]:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "Callers are services holding Steward API keys, verified by the Lambda REQUEST "
                "authorizer (keyed hashes in DynamoDB); there is no Cognito user pool.",
            )
        for problem in GATEWAY_PROBLEMS:
            headers = {
                "Content-Type": "'application/problem+json'",
                "Cache-Control": "'no-store'",
                **{name: f"'{value}'" for name, value in problem.extra_headers},
                **_gateway_cors(settings.cors_allow_origins),
            }
            self.rest_api.add_gateway_response(
                f"Problem{problem.status}{problem.code.replace('.', '').replace('_', '')}",
                type=problem.response_type,
                status_code=str(problem.status),
                response_headers=headers,
                templates={"application/json": problem.body()},
            )
        if settings.custom_domain is not None:
            domain = apigw.DomainName(
                self,
                "Domain",
                domain_name=settings.custom_domain.domain_name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", settings.custom_domain.certificate_arn
                ),
                security_policy=apigw.SecurityPolicy.TLS_1_2,
                endpoint_type=apigw.EndpointType.REGIONAL,
            )
            domain.add_base_path_mapping(self.rest_api, stage=self.rest_api.deployment_stage)

    @property
    def stage_arn(self) -> str:
        return self.rest_api.deployment_stage.stage_arn

    def _grant_authorizer(self, role: iam.IRole) -> None:
        """Look up one key by id and read the pepper: nothing else."""
        keys = self._data.table(self._names.api_keys_table)
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ApiKeyLookup", actions=["dynamodb:GetItem"], resources=[keys.table_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PepperRead",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self._data.pepper_secret.secret_arn],
            )
        )
        self._grant_key(role, "AuthorizerKms", ["kms:Decrypt"], ["dynamodb", "secretsmanager"])

    def _grant_api(self, role: iam.IRole, endpoint_name: str | None) -> None:
        """The governed path and the admin routes (privacy policies, fairness groups), table by
        table: each action is one the api function's code calls (steward.adapters)."""
        names, data = self._names, self._data

        def allow(sid: str, actions: list[str], table: TableSpec) -> None:
            statement = iam.PolicyStatement(sid=sid, actions=actions, resources=[data.table(table).table_arn])
            role.add_to_principal_policy(statement)

        # Inference path: a model's items (Query), the model list (Scan).
        allow("RegistryRead", ["dynamodb:Query", "dynamodb:Scan"], names.models_table)
        allow("PrivacyPolicyRead", ["dynamodb:Query"], names.policies_table)
        # Audit: the chained write (record + chain head in one transaction of Puts, the head read
        # back with GetItem, steward.audit.chain) and the reads of GET /v1/audit.
        audit_actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        allow("AuditWriteQuery", audit_actions, names.audit_table)
        # Fairness monitoring: count outcomes and keep/resolve the feedback join (transactions of
        # Put/Update/Delete), read the latest report summary for model cards.
        allow(
            "FairnessCountersJoin",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            names.fairness_table,
        )
        # Serving counters per model version (steward.adapters.serving_stats_store): ADDed per call
        # (UpdateItem, above), a tenant's days read for a comparison in one BatchGetItem.
        allow("ServingStatsRead", ["dynamodb:BatchGetItem"], names.fairness_table)
        # Admin routes (admin scope enforced in the app): a new privacy policy version; a model's
        # routing, promotion, rollback and retirement (platform-admin): the entry, a version's
        # approval and a history event are PutItems, entry and event in one transaction
        # (steward.adapters.registry_store).
        allow("PrivacyPolicyWrite", ["dynamodb:PutItem"], names.policies_table)
        allow("ModelLifecycleWrite", ["dynamodb:PutItem"], names.models_table)
        # Admin key routes (steward.adapters.key_store): read a key (GetItem), create one
        # (PutItem), revoke one (UpdateItem); a rotation is a transaction of one Put and one
        # Update (TransactWriteItems is authorized per item); a tenant's keys by its index (Query).
        keys_table = data.table(names.api_keys_table)
        key_actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        allow("ApiKeyAdmin", key_actions, names.api_keys_table)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ApiKeyList",
                actions=["dynamodb:Query"],
                resources=[f"{keys_table.table_arn}/index/{KEYS_TENANT_INDEX}"],
            )
        )
        # Tenants and kill switches (steward.adapters.control_store): read per request through a
        # short cache (GetItem, Query); written by the platform-admin routes (and the CLI).
        control_actions = ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"]
        allow("ControlReadWrite", [f"dynamodb:{a}" for a in control_actions], names.control_table)
        # Rate limits (steward.adapters.limit_store): conditional counters and plan writes
        # (UpdateItem), the plan (GetItem), a tenant's usage (Query).
        allow(
            "LimitCounters", ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], names.limits_table
        )
        # The review queue (steward.adapters.review_store): an item, its sealed texts and marks
        # created in one transaction of Puts; marks read in batches (BatchGetItem); an item read
        # (GetItem); claims and resolutions conditional (UpdateItem, in a transaction with mark
        # Puts); listings and lookups by id on the two indexes (Query). Never a Scan: listing every
        # tenant's queue at once is the operator CLI's, under its own credentials.
        allow(
            "ReviewQueue",
            ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            names.reviews_table,
        )
        reviews_table = data.table(names.reviews_table)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReviewQueueIndexes",
                actions=["dynamodb:Query"],
                resources=[
                    f"{reviews_table.table_arn}/index/{REVIEWS_QUEUE_INDEX}",
                    f"{reviews_table.table_arn}/index/{REVIEWS_ID_INDEX}",
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PepperRead",  # audit MAC keys, the ``hash`` operator and fairness group tokens
                actions=["secretsmanager:GetSecretValue"],
                resources=[data.pepper_secret.secret_arn],
            )
        )
        self._grant_key(
            role, "ApiKms", ["kms:Decrypt", "kms:GenerateDataKey"], ["dynamodb", "secretsmanager"]
        )
        # Privacy ``encrypt`` operator: a data key per request, only under a tenant encryption
        # context (steward.adapters.kms_encryptor); called directly, so no kms:ViaService here.
        role.add_to_principal_policy(tenant_data_keys("PrivacyEnvelopeKeys", data.key))
        if endpoint_name:
            role.add_to_principal_policy(invoke_endpoint(self, endpoint_name))

    def _grant_key(self, role: iam.IRole, sid: str, actions: list[str], services: list[str]) -> None:
        """Use the CMK only through the services that store Steward data."""
        region = Stack.of(self).region
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=actions,
                resources=[self._data.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}
                },
            )
        )


def _preflight(origins: tuple[str, ...]) -> apigw.CorsOptions | None:
    """The OPTIONS answer for the stage's browser origins (none: no CORS, no OPTIONS methods)."""
    if not origins:
        return None
    return apigw.CorsOptions(
        allow_origins=list(origins),
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        allow_credentials=False,
        max_age=Duration.seconds(PREFLIGHT_MAX_AGE_S),
    )


def _gateway_cors(origins: tuple[str, ...]) -> dict[str, str]:
    """API Gateway's own refusals (401, 429 ...) readable by the browser: a gateway response has
    one fixed header value, so only a stage with a single origin gets one."""
    if len(origins) != 1:
        return {}
    return {
        "Access-Control-Allow-Origin": f"'{origins[0]}'",
        "Access-Control-Expose-Headers": f"'{','.join(EXPOSED_HEADERS)}'",
        "Vary": "'Origin'",
    }


def _env_name(resource_name: str, prefix: str, kind: str) -> str:
    """``steward-dev-api-keys`` -> ``STEWARD_API_KEYS_TABLE``."""
    short = resource_name.removeprefix(f"{prefix}-").replace("-", "_").upper()
    return f"STEWARD_{short}_{kind}"
