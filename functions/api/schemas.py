"""Request and response schemas of the public API (they also shape /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    model_validator,
)
from pydantic_core import PydanticCustomError
from steward.auth.lifecycle import (
    DEFAULT_OVERLAP_HOURS,
    MAX_KEY_DAYS,
    MAX_LIMIT,
    MAX_MODELS,
    MAX_OVERLAP_HOURS,
    MODEL_PATTERN,
    NAME_PATTERN,
)
from steward.controls.model import (
    ALLOWED_MODEL_PATTERN,
    MAX_ALLOWED_MODELS,
    MAX_NOTE_CHARS,
    MAX_RETENTION_DAYS,
    REASON_CODES,
    SCOPE_PATTERN,
    TENANT_ID,
)
from steward.inference.requests import AS_INT, STRICT, Text
from steward.inference.requests import EmbeddingsRequest as EmbeddingsRequest  # the routes' bodies
from steward.inference.requests import InferRequest as InferRequest
from steward.inference.requests import InferTensor as InferTensor
from steward.inference.requests import RequestedOutput as RequestedOutput

#: Request bodies validate strictly, as JSON Schema reads them: "5" is not an integer, 1 is not a
#: string (`steward.inference.requests`, shared with the batch worker). The upper limits of texts
#: (count, length) are the deployment's settings: the gateway enforces them and the OpenAPI
#: document states them (``functions.api.openapi``).
#: A request id as the API issues it (``x-request-id``: a UUID); nothing else can name a prediction.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9-]{1,128}$"
_AS_INT = AS_INT
#: A ground-truth label: 0 or 1 (``false``/``true`` too).
GroundTruth = Annotated[int, Strict(), Field(ge=0, le=1), _AS_INT] | StrictBool


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class ModelItem(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelItem]


class FeedbackRequest(BaseModel):
    """Ground truth for an earlier prediction sent with ``parameters.group`` (joined by request id).
    Exactly one of ``label`` and ``labels``."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("label", "labels")
            ]
        },
    )

    request_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=REQUEST_ID_PATTERN,
        description="The x-request-id of the prediction.",
    )
    label: GroundTruth | None = Field(default=None, description="0 or 1, for one row.")
    labels: list[GroundTruth] | None = Field(
        default=None, min_length=1, max_length=25, description="0 or 1 per monitored row, in request order."
    )

    @model_validator(mode="after")
    def _one_of(self) -> FeedbackRequest:
        if (self.label is None) == (self.labels is None):
            raise PydanticCustomError("label_or_labels", "Send exactly one of 'label' or 'labels'.")
        return self


class FeedbackResponse(BaseModel):
    object: Literal["feedback"] = "feedback"
    request_id: str
    model: str
    model_version: str
    labels: int
    status: str


class ModelCard(BaseModel):
    """The model card of a version (``Accept: text/html`` for the rendered page)."""

    model_config = ConfigDict(extra="allow")

    object: Literal["model.card"] = "model.card"
    model: str
    version: str
    approval: str
    artifact_digest: str
    complete: bool
    missing_fields: list[str]
    fairness_monitoring: dict[str, Any] | None = None
    live: dict[str, Any] | None = Field(
        default=None,
        description="The caller's tenant's live figures per monitoring view (null: no data yet).",
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Version history, newest first: event, version, actor, reason code, at (epoch s).",
    )


class ModelDrift(BaseModel):
    """Label-free drift of the caller's own traffic to a model version, per day and over the
    period (``windows``/``period`` only when ``monitored``; see docs/drift.md)."""

    model_config = ConfigDict(extra="allow")

    model: str
    version: str
    first_window: str
    last_window: str
    monitored: bool
    windows: list[dict[str, Any]] = []
    period: dict[str, Any] | None = None


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[OutputTensor]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]


class Liveness(BaseModel):
    live: bool


class Readiness(BaseModel):
    ready: bool


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelReadiness(BaseModel):
    name: str
    ready: bool


class RepositoryModel(BaseModel):
    name: str
    version: str
    state: str


class AuditRecordView(BaseModel):
    """One audit record: who, what, when and the outcome the caller received; never content."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    timestamp: str
    route: str
    decision: str
    status: int
    input_hmac: str | None = Field(
        default=None,
        description="HMAC-SHA256 of the request body under the tenant's audit key (held by Steward; "
        "not a plain hash, so a short input can't be recovered from it).",
    )
    input_bytes: int | None = None
    output_hmac: str | None = Field(
        default=None, description="HMAC-SHA256 of the response body under the same key."
    )
    output_bytes: int | None = None


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditRecordView]
    next_cursor: str | None


class RedactRequest(BaseModel):
    """``POST /v1/redact``: apply the privacy policy in force to text (a guardrail apply call)."""

    model_config = STRICT

    text: Text | Annotated[list[Text], Field(min_length=1)] = Field(
        description="A text or a list of texts, none empty."
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="Apply this model's policy."
    )
    direction: Literal["input", "output"] = Field(
        default="input", description="Apply the policy's input rules or its output rules."
    )


class RedactFinding(BaseModel):
    index: int = Field(description="Which text of the request (0 for a single text).")
    entity_type: str
    start: int
    end: int
    score: float


class RedactResponse(BaseModel):
    object: Literal["redaction"] = "redaction"
    text: str | list[str]
    findings: list[RedactFinding]
    policy_version: str


class PolicyView(BaseModel):
    """A stored privacy policy version (see ``docs/privacy.md`` for the document fields)."""

    model_config = ConfigDict(extra="allow")

    tenant_id: str
    model: str | None = None
    version: int


class PolicyList(BaseModel):
    object: Literal["list"] = "list"
    tenant_id: str
    data: list[PolicyView]


class GroupLabelsView(BaseModel):
    object: str = "fairness.groups"
    tenant_id: str
    labels: list[str]
    revision: int
    updated_at: str | None = None
    updated_by: str | None = None


class Health(BaseModel):
    """``GET /health``, the public probe (not in the document)."""

    status: Literal["ok"]


class OpenAIError(BaseModel):
    """OpenAI's error object (``message`` is the problem's ``detail``, ``code`` Steward's code)."""

    message: str
    type: str
    param: str | None = None
    code: str


class ProblemIssue(BaseModel):
    """Where a request broke the schema: a location and a fixed message, never the input."""

    loc: list[str | int]
    type: str
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details with Steward's stable ``code`` and the request id. Some codes add
    members: ``errors`` (``input.invalid``), ``entity_types`` (``pii.blocked``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable and machine-readable, e.g. ``model.not_found``.")
    request_id: str = Field(description="The request's ``x-request-id``, for support and the audit trail.")
    errors: list[ProblemIssue] | None = None
    entity_types: list[str] | None = None
    error: OpenAIError | str | None = Field(
        default=None,
        description="On the OpenAI routes, the error object OpenAI SDKs read; on the Open Inference "
        "Protocol routes, the error string tritonclient reads (``detail [code]``).",
    )


def policy_document_schema() -> dict[str, Any]:
    """``PUT /admin/policies/{tenant}``: the JSON Schema of what `steward.privacy.policy.parse_policy`
    accepts. Every field is optional (absent: the built-in value, see ``docs/privacy.md``); a
    secret type's rule never lets the value through; ``version``, ``tenant_id`` and ``model`` are
    set by the store and ignored here."""
    from steward.privacy.entities import ENTITY_TYPES, SECRET_TYPES
    from steward.privacy.policy import DEFAULT_THRESHOLD, SECRET_OPERATORS, DetectionPath, Direction, Operator

    directions = [d.value for d in Direction]

    def rule(entity_type: str) -> dict[str, Any]:
        secret = entity_type in SECRET_TYPES
        operators = [o.value for o in Operator if not secret or o in SECRET_OPERATORS]
        apply_to: dict[str, Any] = {"type": "array", "items": {"enum": directions}, "minItems": 1}
        if secret:  # both directions, always
            apply_to["allOf"] = [{"contains": {"const": d}} for d in directions]
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "operator": {"enum": operators},
                "threshold": {
                    "anyOf": [
                        {"type": "number", "minimum": 0, "maximum": DEFAULT_THRESHOLD if secret else 1},
                        {"type": "null"},
                    ]
                },
                "apply_to": apply_to,
                "mask_keep_last": {"type": "integer", "minimum": 0, "maximum": 32},
                "mask_char": {"type": "string", "minLength": 1, "maxLength": 1},
            },
        }

    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": 1},
            "detection_path": {"enum": [p.value for p in DetectionPath]},
            "threshold": {
                "type": "number",
                "minimum": 0,
                "maximum": DEFAULT_THRESHOLD,
                "description": "May only be lowered: a type's threshold is raised by naming it.",
            },
            "restore_output": {"type": "boolean"},
            "entities": {
                "type": "object",
                "additionalProperties": False,
                "properties": {t: rule(t) for t in sorted(ENTITY_TYPES)},
            },
            "version": {"description": "Ignored: the store numbers versions."},
            "tenant_id": {"description": "Ignored: the path names the tenant."},
            "model": {"description": "Ignored: the 'model' query parameter names the model."},
        },
    }


def group_declaration_schema() -> dict[str, Any]:
    """``PUT /admin/fairness/{tenant}/groups``: `steward.fairness.groups.GroupDeclaration`, whose
    uniqueness rule is a validator pydantic can't write into the schema."""
    from steward.fairness.groups import GroupDeclaration

    schema = GroupDeclaration.model_json_schema()
    schema["properties"]["labels"]["uniqueItems"] = True
    return schema


# --- tenants and kill switches (platform admins; steward.controls) ---------------------------

#: A reason code: the only word of an operator's action a caller is ever shown.
ReasonCode = Annotated[str, Field(pattern="^(" + "|".join(REASON_CODES) + ")$")]
#: The operator's own note: kept on the control item for operators, never in logs or answers.
OperatorNote = Annotated[str, Field(max_length=MAX_NOTE_CHARS)]


class TenantCreate(BaseModel):
    """``POST /admin/tenants``."""

    model_config = STRICT
    tenant_id: Annotated[str, Field(pattern=TENANT_ID.pattern)]
    allowed_models: Annotated[
        list[Annotated[str, Field(pattern=ALLOWED_MODEL_PATTERN)]],
        Field(min_length=1, max_length=MAX_ALLOWED_MODELS),
    ] = ["*"]
    audit_retention_days: Annotated[int, Strict(), Field(ge=1, le=MAX_RETENTION_DAYS), _AS_INT] = 400


class StatusChange(BaseModel):
    """``POST /admin/tenants/{tenant}/suspend`` and ``.../resume``."""

    model_config = STRICT
    reason: ReasonCode
    note: OperatorNote = ""


class SwitchChange(BaseModel):
    """``POST /admin/kill-switches`` (throw) and ``POST /admin/kill-switches/clear`` (``note`` unused)."""

    model_config = STRICT
    scope: Annotated[
        str, Field(pattern=SCOPE_PATTERN, examples=["global", "tenant:acme", "model:m", "version:m@1"])
    ]
    reason: ReasonCode
    note: OperatorNote = ""


class TenantView(BaseModel):
    object: Literal["tenant"] = "tenant"
    tenant_id: str
    status: Literal["active", "suspended"]
    allowed_models: list[str]
    audit_retention_days: int
    reason: str | None
    note: str
    created_at: int
    updated_at: int
    updated_by: str


class TenantList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TenantView]


class SwitchView(BaseModel):
    object: Literal["kill_switch"] = "kill_switch"
    scope: str
    reason: str
    note: str
    set_at: int
    set_by: str


class SwitchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SwitchView]


class SwitchCleared(BaseModel):
    object: Literal["kill_switch.cleared"] = "kill_switch.cleared"
    scope: str
    cleared: bool


# --- rate limits and usage (steward.limits) ----------------------------------------------------


class UsageCount(BaseModel):
    requests: int
    units: int


class UsageWindows(BaseModel):
    """One scope's counters in the current minute (``m``), day (``d``) and month (``mo``)."""

    m: UsageCount
    d: UsageCount
    mo: UsageCount


class UsageWindow(BaseModel):
    id: str
    reset_s: int


class UsageView(BaseModel):
    tenant_id: str
    windows: dict[str, UsageWindow]
    tenant: UsageWindows
    keys: dict[str, UsageWindows]
    models: dict[str, UsageWindows]


class PlanView(BaseModel):
    tenant_id: str
    plan: dict[str, Any]
    default: bool
    revision: int
    updated_at: int | None
    updated_by: str | None


# --- API keys (steward.auth.lifecycle) -----------------------------------------------------------

LimitValue = Annotated[int, Strict(), Field(ge=1, le=MAX_LIMIT), _AS_INT]


class KeyCreate(BaseModel):
    """``POST /admin/keys``: a new key for a tenant. A key never grants more than its creator
    holds: scopes, models and limits within the caller's own (403 ``key.escalation``)."""

    model_config = STRICT
    tenant_id: Annotated[str, Field(pattern=TENANT_ID.pattern)]
    models: Annotated[
        list[Annotated[str, Field(pattern=MODEL_PATTERN.pattern)]],
        Field(min_length=1, max_length=MAX_MODELS, description="Model names, or '*' for every model."),
    ]
    admin: StrictBool = False
    platform_admin: StrictBool = False
    rpm: LimitValue | None = Field(default=None, description="The key's own requests per minute.")
    daily: LimitValue | None = Field(default=None, description="The key's own requests per day.")
    monthly: LimitValue | None = Field(default=None, description="The key's own requests per month.")
    expires_days: Annotated[float, Field(gt=0, le=MAX_KEY_DAYS)] | None = None
    name: Annotated[str, Field(pattern=NAME_PATTERN.pattern)] = ""


class KeyRotate(BaseModel):
    """``POST /admin/keys/{key_id}/rotate``: how long the old key keeps working."""

    model_config = STRICT
    overlap_hours: Annotated[float, Field(ge=0, le=MAX_OVERLAP_HOURS)] = DEFAULT_OVERLAP_HOURS


class KeyLimitsView(BaseModel):
    rpm: int | None
    daily: int | None
    monthly: int | None


class KeyView(BaseModel):
    """A key's metadata: never its secret or its hash."""

    key_id: str
    name: str
    tenant_id: str
    scopes: list[str]
    models: list[str]
    created_at: int
    expires_at: int | None
    revoked: bool
    revoked_at: int | None
    status: Literal["active", "revoked", "expired"]
    rotated_from: str | None
    rotated_to: str | None
    limits: KeyLimitsView


class KeyCreated(KeyView):
    key: str = Field(description="The new API key: shown in this answer only, never stored.")


class KeyRotated(KeyCreated):
    previous: KeyView = Field(description="The rotated key: it works until its expires_at.")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    tenant_id: str
    data: list[KeyView]


# --- usage policy and guardrails ---------------------------------------------------------------


class GuardrailApplyRequest(BaseModel):
    """``POST /v1/guardrails/apply``: the usage and privacy policies in force, on text, no model call."""

    model_config = STRICT

    text: Text | Annotated[list[Text], Field(min_length=1)] = Field(
        description="A text or a list of texts, none empty."
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="Apply this model's policies."
    )
    source: Literal["input", "output"] = Field(
        default="input", description="Check the text as a request to a model, or as a model's answer."
    )


class GuardrailVerdict(BaseModel):
    index: int = Field(description="Which text of the request (0 for a single text).")
    kind: Literal["word", "pattern", "topic", "pii"]
    rule: str = Field(description="The rule's name (for ``pii``: the blocked entity type).")
    action: Literal["block", "flag"]
    hold: bool = Field(
        description="A `flag` rule that holds requests for human review (a model call would get 403)."
    )


class GuardrailApplyResponse(BaseModel):
    object: Literal["guardrail.result"] = "guardrail.result"
    action: Literal["block", "flag", "none"] = Field(description="The strongest verdict.")
    verdicts: list[GuardrailVerdict]
    text: str | list[str | None] | None = Field(
        description="The redacted text (null where the privacy policy blocks it)."
    )
    policy_version: str
    usage_policy_version: str | None


class UsagePolicyView(BaseModel):
    """A stored usage policy version: the document as stored, with its tenant, scope and version."""

    model_config = ConfigDict(extra="allow")

    tenant_id: str
    model: str | None = None
    version: int


class UsagePolicyList(BaseModel):
    object: Literal["list"] = "list"
    tenant_id: str
    data: list[UsagePolicyView]


def usage_policy_document_schema() -> dict[str, Any]:
    """``PUT /admin/usage-policies/{tenant}``: what `steward.usage_policy.document` accepts
    (``version``, ``tenant_id`` and ``model`` are set by the store and ignored here)."""
    from steward.usage_policy.document import UsagePolicy

    schema = _standalone(UsagePolicy.model_json_schema())
    for name in ("tenant_id", "model", "version"):
        schema["properties"].pop(name, None)
    return schema


def _standalone(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` inlined: a body schema stands alone in an operation."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return inline({**defs[ref.removeprefix("#/$defs/")], **rest})
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return dict(inline(schema))


# --- the human review queue (steward.review) ---------------------------------------------------

ReviewState = Literal["open", "claimed", "resolved"]


class ReviewView(BaseModel):
    """A review item's metadata: never its texts (only ``GET /admin/reviews/{review_id}``)."""

    object: Literal["review"] = "review"
    review_id: str
    tenant_id: str
    state: ReviewState = Field(description="`claimed` while a claim is live; a lapsed claim is `open`.")
    kind: Literal["word", "pattern", "topic"]
    rule: str = Field(description="The flag rule's name (with `kind`, as in the usage policy).")
    direction: Literal["input", "output"]
    hold: bool = Field(description="The rule holds requests: they are served once a reviewer approves.")
    model: str | None
    request_id: str = Field(description="The flagged request's id (its audit record's).")
    key_id: str = Field(description="The API key that made the request (`suspend_key` revokes it).")
    policy_version: str
    created_at: int
    expires_at: int = Field(description="When the item, its texts and its marks are deleted.")
    text_count: int
    texts_omitted: int = Field(description="Matched texts over the item's bounds: counted, not kept.")
    claimed_by: str | None = Field(description="The key id holding a live claim (`cli`: an operator).")
    claim_expires_at: int | None
    decision: Literal["approve", "violation"] | None
    suspend_key: bool
    resolved_by: str | None
    resolved_at: int | None


class ReviewDetail(ReviewView):
    texts: list[str] = Field(
        description="The texts the rule matched, as the privacy policy left them (redacted), "
        "opened for the reviewer."
    )
    truncated: bool = Field(description="The first text was cut to the item's size bound.")


class ReviewList(BaseModel):
    object: Literal["list"] = "list"
    tenant_id: str | None
    state: ReviewState
    data: list[ReviewView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ReviewApprove(BaseModel):
    """A false positive: a held text is then served when sent again, for a while."""

    model_config = STRICT
    decision: Literal["approve"]
    suspend_key: Literal[False] = False


class ReviewViolation(BaseModel):
    """A confirmed violation: never released; ``suspend_key`` revokes the key that made the request."""

    model_config = STRICT
    decision: Literal["violation"]
    suspend_key: StrictBool = False


#: ``POST /admin/reviews/{review_id}/resolve``. No free text: a note could carry personal data
#: into the queue's table.
ReviewResolve = Annotated[ReviewApprove | ReviewViolation, Field(discriminator="decision")]


def review_resolve_schema() -> dict[str, Any]:
    from pydantic import TypeAdapter

    schema = _standalone(TypeAdapter(ReviewResolve).json_schema())
    schema.pop("discriminator", None)  # its mapping names $defs; ``decision``'s consts decide alone
    return {"type": "object", **schema}


class VersionEventView(BaseModel):
    """One step of a model's version history (reason codes only, never free text)."""

    model_config = ConfigDict(extra="forbid")
    at: int
    event: str
    version: str
    actor: str
    reason: str
    details: dict[str, Any]


class ModelRouting(BaseModel):
    """How a model's unpinned traffic is served now (`steward.catalog.lifecycle.routing_view`)."""

    model_config = ConfigDict(extra="forbid")
    object: Literal["model.routing"] = "model.routing"
    model: str
    default_version: str | None
    previous_default: str | None
    weights: dict[str, int] = Field(description="The stored split (versions that left approval included).")
    effective_weights: dict[str, int] = Field(description="What unpinned requests get now.")
    shadow: str | None
    shadow_active: bool
    sticky: bool
    versions: dict[str, str] = Field(description="Every version and its approval state.")
    history: list[VersionEventView] | None = None


class VersionFigures(BaseModel):
    """One version's figures in a comparison: each view is null until it has data."""

    model_config = ConfigDict(extra="allow")
    version: str
    approval: str
    artifact_digest: str


class ModelComparison(BaseModel):
    """Versions side by side (``Accept: text/html`` for the page with charts)."""

    model_config = ConfigDict(extra="forbid")
    object: Literal["model.comparison"] = "model.comparison"
    model: str
    window: dict[str, Any]
    versions: list[VersionFigures]
