"""cdk-nag wiring: the AwsSolutions pack and a helper for scoped, reasoned acknowledgements.

cdk-nag v3 runs as a CDK policy-validation plugin (``Validations.of(app).add_plugins``) instead of
an Aspect, and suppressions are CDK acknowledgements on a construct (they apply to that construct
and its children only). Going through ``acknowledge`` keeps every suppression greppable and forces
a reason; there are no stack-wide suppressions in Steward.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON_LENGTH = 20


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Suppress ``rule_id`` (optionally ``Rule[Finding]``) on ``scope`` and its children only."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"a suppression of {rule_id} needs a specific reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The logical ID of ``construct``'s CloudFormation resource, as cdk-nag spells it in a finding
    (``Resource::<LogicalId.Arn>/...``), so an acknowledgement names exactly one resource."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to name in a finding")
    return Stack.of(construct).get_logical_id(resource)


def add_nag_checks(app: App) -> AwsSolutionsChecks:
    """Fail ``cdk synth`` on any unacknowledged AwsSolutions finding."""
    pack = AwsSolutionsChecks(app, verbose=True)
    Validations.of(app).add_plugins(pack)
    return pack
