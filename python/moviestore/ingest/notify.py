"""Telling people: the dead-letter queue for operators, SNS for the provider.

A dead-letter message keeps the original S3 event as its body (so ``moviestore dlq redrive``
can send it back unchanged) and says why in its attributes. SNS notices carry a ``provider``
attribute, so each provider subscribes with a filter policy to its own notices only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest.pipeline import Outcome, Result

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


def attribute(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value[:1024] or "-"}


def dead_letter(clients: Clients, dlq_url: str, original_body: str, result: Result) -> None:
    attributes = {
        "reason": attribute(result.reason or result.outcome.value),
        "status": attribute(result.outcome.value),
        "provider": attribute(str(result.summary.get("provider", "-"))),
    }
    if result.report_key:
        attributes["report"] = attribute(result.report_key)
    if result.ingestion_id is not None:
        attributes["ingestion_id"] = attribute(str(result.ingestion_id))
    clients.sqs.send_message(
        QueueUrl=dlq_url, MessageBody=original_body, MessageAttributes=attributes
    )


def notify_provider(clients: Clients, topic_arn: str, result: Result) -> None:
    s = result.summary
    provider = str(s.get("provider", "-"))
    if result.outcome is Outcome.REJECTED:
        subject = f"moviestore: {s.get('key', 'your file')} was rejected"
    else:
        subject = f"moviestore: {s.get('key', 'your file')} loaded with invalid records"
    # ingestion_id tells a repeated notice apart (notices are sent at least once).
    notice: dict[str, Any] = {**s, "report": result.report_key, "ingestion_id": result.ingestion_id}
    clients.sns.publish(
        TopicArn=topic_arn,
        Subject=subject[:99],
        Message=orjson.dumps(notice).decode(),
        MessageAttributes={"provider": {"DataType": "String", "StringValue": provider}},
    )
