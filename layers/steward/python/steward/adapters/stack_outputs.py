"""A deployed stage as CloudFormation describes it: the outputs of its ``Steward-<stage>`` stack.

The operator's tools (``steward models publish``) read where things are from the stack that made
them rather than re-deriving names: what they act on is what is deployed (no inference endpoint
on a stage deployed without one), and the stack's id names the account that owns its bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from steward.adapters.aws import client as aws_client

#: `cdk.application.build_app` names the stack of stage ``S`` ``Steward-S``.
STACK_NAME_FORMAT = "Steward-{stage}"


@dataclass(frozen=True)
class StageStack:
    """The stack's outputs (``OutputKey -> OutputValue``) and the account it lives in."""

    name: str
    account: str
    outputs: dict[str, str]


def describe_stage(stage: str, *, region: str, client: Any = None) -> StageStack:
    """The stage's stack (``ValidationError`` from CloudFormation when it does not exist)."""
    name = STACK_NAME_FORMAT.format(stage=stage)
    cfn = client or aws_client("cloudformation", region, read_timeout=10.0, max_attempts=3)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}
    # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    account = str(stack.get("StackId", "")).split(":")[4] if stack.get("StackId") else ""
    return StageStack(name=name, account=account, outputs=outputs)
