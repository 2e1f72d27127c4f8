"""WAF in front of the REST API stage: AWS managed rule groups plus a per-IP rate limit.

The rate-based rule is a coarse flood guard per client IP; per-tenant rate limits and quotas are
enforced in the app (DynamoDB counters) where the tenant is known. WAF logs keep the client IP
for abuse investigation but never the credentials: both key headers are redacted.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# (rule group, priority, sub-rules switched to COUNT with the reason)
MANAGED_RULE_GROUPS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    # SizeRestrictions_BODY blocks bodies over 8 KB; embedding and batch requests are larger and
    # the app enforces its own body limit (input.too_large), so that sub-rule only counts.
    ("AWSManagedRulesCommonRuleSet", 10, ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", 20, ()),
    ("AWSManagedRulesAmazonIpReputationList", 30, ()),
)
REDACTED_HEADERS = ("authorization", "x-api-key")


class WafConstruct(Construct):
    """A regional WebACL associated with one API Gateway stage, with redacted logging."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        stage_arn: str,
        rate_limit_per_5min: int,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ):
        super().__init__(scope, construct_id)
        rules = [_managed_rule(name, priority, counted) for name, priority, counted in MANAGED_RULE_GROUPS]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=40,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit_per_5min, aggregate_key_type="IP"
                    )
                ),
                visibility_config=_visibility("RateLimitPerIp"),
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{prefix}-api"),
            rules=rules,
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        # WAF only logs to log groups whose name starts with aws-waf-logs-.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{prefix}-api",
            encryption_key=key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )


def _managed_rule(name: str, priority: int, counted: tuple[str, ...]) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in counted
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        # Sampled requests would show full headers (API keys) in the console: off.
        cloud_watch_metrics_enabled=True,
        metric_name=metric,
        sampled_requests_enabled=False,
    )
