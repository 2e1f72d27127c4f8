"""The dead-letter queue of an EventBridge schedule's target, with its alarm.

EventBridge retries a target it could not reach (a throttled Lambda, a queue refusing the
message) and then drops the event, silently, unless the target names a dead-letter queue: a
missed fairness report or expiry sweep would never be noticed. The events only name the rule
and the time, so the queue is encrypted with SQS-managed keys (a customer key would need
EventBridge in the key's policy for nothing it protects).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.nag import acknowledge

#: Tries of a schedule's target before its event goes to the dead-letter queue, and how long.
RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(2)


class ScheduleDeadLetters(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, schedule: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter destination of the {schedule} schedule's target.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Missed",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"The {schedule} schedule could not reach its target after every retry.",
        )
