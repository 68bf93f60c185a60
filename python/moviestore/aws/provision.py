"""Create the bucket, queues, notification and topics on the local endpoint (idempotent).

In AWS, infra/terraform creates the same resources; this mirrors it for the local stack.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import orjson

from moviestore.aws.clients import Clients

# The worker's docs and infra/terraform use the same value.
MAX_RECEIVE_COUNT = 5
UPLOAD_PREFIX = "providers/"


@dataclass(frozen=True)
class Resources:
    bucket: str
    queue_url: str
    dlq_url: str
    provider_topic_arn: str
    alerts_topic_arn: str


def provision(clients: Clients, prefix: str, visibility_timeout: int) -> Resources:
    bucket = f"{prefix}-catalog"
    with contextlib.suppress(clients.s3.exceptions.BucketAlreadyOwnedByYou):
        clients.s3.create_bucket(Bucket=bucket)
    dlq_url = clients.sqs.create_queue(QueueName=f"{prefix}-ingest-dlq")["QueueUrl"]
    dlq_arn = queue_arn(clients, dlq_url)
    queue_url = clients.sqs.create_queue(
        QueueName=f"{prefix}-ingest",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": orjson.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ).decode(),
        },
    )["QueueUrl"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn(clients, queue_url),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}
                    },
                }
            ]
        },
    )
    provider_topic = clients.sns.create_topic(Name=f"{prefix}-provider-notices")["TopicArn"]
    alerts_topic = clients.sns.create_topic(Name=f"{prefix}-alerts")["TopicArn"]
    return Resources(bucket, queue_url, dlq_url, provider_topic, alerts_topic)


def queue_arn(clients: Clients, url: str) -> str:
    attrs = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]
