"""A tenant's plan: its limits per minute, day and month, for the tenant, each key and each model.

The stored document (``PUT /admin/limits/{tenant}``, ``steward limits set``)::

    {"tenant": {"rpm": 600, "daily": 100000, "monthly": 2000000,
                "daily_units": 5000000, "monthly_units": 100000000},
     "key":    {"rpm": 60},                     # every key's default (a key's own limits win)
     "models": {"all-minilm-l6-v2": {"rpm": 300}},  # the tenant's calls to that model
     "exempt_keys": ["<admin key id>"]}

Absent fields mean "no limit of that kind". ``rpm``/``daily``/``monthly`` count requests,
``*_units`` count units (input tokens for text models, rows for tabular ones, `steward.limits.units`).
A tenant without a stored plan gets `DEFAULT_PLAN`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from steward.errors import InvalidInput
from steward.limits.windows import DAY, MINUTE, MONTH, Kind

MAX_LIMIT = 10**12
MAX_MODELS = 200
MAX_EXEMPT_KEYS = 100


def _whole(value: Any) -> Any:
    """JSON's ``5.0`` is the integer 5 (as JSON Schema says); no other coercion (strict models)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Limit = Annotated[int, BeforeValidator(_whole), Field(ge=0, le=MAX_LIMIT)] | None
MODEL_NAME_PATTERN = r"^[A-Za-z0-9._:/@-]+$"
KEY_ID_PATTERN = r"^[a-z0-9]{12}$"
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=MODEL_NAME_PATTERN)]
KeyId = Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]


class Quota(BaseModel):
    """Limits of one scope (tenant, key or model); ``None``: not limited."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    rpm: Limit = None
    daily: Limit = None
    monthly: Limit = None
    daily_units: Limit = None
    monthly_units: Limit = None

    def requests(self, kind: Kind) -> int | None:
        return {MINUTE: self.rpm, DAY: self.daily, MONTH: self.monthly}[kind]

    def units(self, kind: Kind) -> int | None:
        return {MINUTE: None, DAY: self.daily_units, MONTH: self.monthly_units}[kind]

    def overridden(self, rpm: int | None, daily: int | None, monthly: int | None) -> Quota:
        """These limits with a key's own request limits in place of the plan's where it has them."""
        return self.model_copy(
            update={
                "rpm": self.rpm if rpm is None else rpm,
                "daily": self.daily if daily is None else daily,
                "monthly": self.monthly if monthly is None else monthly,
            }
        )


NO_QUOTA = Quota()


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    tenant: Quota = NO_QUOTA
    key: Quota = NO_QUOTA
    models: dict[ModelName, Quota] = Field(default_factory=dict, max_length=MAX_MODELS)
    exempt_keys: list[KeyId] = Field(default_factory=list, max_length=MAX_EXEMPT_KEYS)

    def for_model(self, model: str) -> Quota:
        return self.models.get(model, NO_QUOTA)


#: Without a stored plan: each key at most 600 requests a minute (10/s), nothing else limited.
DEFAULT_PLAN = Plan(key=Quota(rpm=600))


def parse_plan(document: Any) -> Plan:
    """A plan document checked field by field (422 ``input.invalid`` naming the first bad field)."""
    if not isinstance(document, dict):
        raise InvalidInput("A plan is a JSON object.")
    try:
        return Plan.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(_named(part) for part in first["loc"]) or "plan"
        raise InvalidInput(f"Invalid plan field '{where}': {first['msg']}.") from None


def _named(part: str | int) -> str:
    """A location part as Steward names it: a field of the document, else a placeholder (an
    error body never echoes what the caller typed)."""
    if isinstance(part, int) or part in Plan.model_fields or part in Quota.model_fields:
        return str(part)
    return "<name>"


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of what `parse_plan` accepts (the admin route documents it)."""
    limit = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}, {"type": "null"}]}
    quota = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: limit for name in Quota.model_fields},
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tenant": quota,
            "key": quota,
            "models": {
                "type": "object",
                "maxProperties": MAX_MODELS,
                "propertyNames": {"minLength": 1, "maxLength": 200, "pattern": MODEL_NAME_PATTERN},
                "additionalProperties": quota,
            },
            "exempt_keys": {
                "type": "array",
                "maxItems": MAX_EXEMPT_KEYS,
                "items": {"type": "string", "pattern": KEY_ID_PATTERN},
            },
        },
    }
