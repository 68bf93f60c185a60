"""What S3 and SNS do for the integration tests that run a worker on a queue of their own: an
upload announced as its S3 event, a queue subscribed to a topic."""

from __future__ import annotations

from typing import Any

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef, event_body, provider_of


def announce(clients: Clients, bucket: str, queue: str, key: str, body: bytes, **put: Any) -> str:
    """Put the object, and its S3 event (as S3 sends it) on ``queue``; the event's body."""
    etag = clients.s3.put_object(Bucket=bucket, Key=key, Body=body, **put)["ETag"].strip('"')
    provider = provider_of(key) or "-"
    message = event_body(ObjectRef(bucket, key, provider, etag, len(body), etag))
    clients.sqs.send_message(QueueUrl=queue, MessageBody=message)
    return message


def subscribe(clients: Clients, topic_arn: str, queue_name: str, provider: str | None) -> str:
    """A queue receiving the topic's messages raw (only ``provider``'s, if given)."""
    url = clients.sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    attributes = {"RawMessageDelivery": "true"}
    if provider is not None:
        attributes["FilterPolicy"] = orjson.dumps({"provider": [provider]}).decode()
    clients.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes=attributes,
    )
    return url
