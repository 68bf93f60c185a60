"""Telling people: every outcome of a file goes to its provider, and what needs a decision to
the operators.

Provider notices go to the provider topic with a ``provider`` attribute, so each provider
subscribes with a filter policy to its own notices only. A notice carries the counts, the reason
and, when the file had invalid records, a presigned HTTPS link to its full error report (signed
with the worker's credentials: it expires after ``report_link_seconds`` or with them, whichever
comes first; the provider's own role can always read ``reports/{provider}/``).

The dead-letter queue is not told of a provider's data: it holds only the messages the platform
failed to handle (SQS's redrive policy, or a body that is no S3 event at all).
"""

from __future__ import annotations

from typing import Any

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest.pipeline import Outcome, Result

SUBJECTS = {
    Outcome.LOADED: "loaded",
    Outcome.PARTIALLY_LOADED: "loaded, with invalid records",
    Outcome.REJECTED: "rejected",
    Outcome.HELD: "held: it would withdraw too much of your catalog",
    Outcome.SUPERSEDED: "superseded by a newer upload",
    Outcome.DISCARDED: "discarded by an operator: nothing of it was applied",
}


class Notices:
    def __init__(
        self,
        clients: Clients,
        provider_topic_arn: str,
        alerts_topic_arn: str | None,
        report_link_seconds: int,
    ):
        self.clients, self.provider_topic, self.alerts_topic = (
            clients,
            provider_topic_arn,
            alerts_topic_arn,
        )
        self.link_seconds = report_link_seconds

    def notice(self, result: Result) -> dict[str, Any]:
        """What the provider is told (``ingestion_id`` tells a repeated notice apart: notices
        are sent at least once)."""
        s = result.summary
        notice: dict[str, Any] = {**s, "ingestion_id": result.ingestion_id}
        notice["report"] = result.report_key
        notice["report_url"] = None
        if result.report_key:
            bucket = str(s.get("bucket"))
            notice["report_url"] = self.clients.link(bucket, result.report_key, self.link_seconds)
        if result.outcome is Outcome.HELD:
            notice["settle"] = (
                "nothing of this snapshot was applied; the operators confirm or discard it "
                f"(moviestore ingestions confirm|discard {result.ingestion_id})"
            )
        return notice

    def send(self, result: Result) -> None:
        """The provider's notice; a held snapshot also goes to the operators."""
        notice = self.notice(result)
        body = orjson.dumps(notice).decode()
        provider = str(result.summary.get("provider", "-"))
        subject = f"moviestore: {result.summary.get('key', 'your file')} " + SUBJECTS.get(
            result.outcome, result.outcome.value
        )
        self.clients.sns.publish(
            TopicArn=self.provider_topic,
            Subject=subject[:99],
            Message=body,
            MessageAttributes={"provider": {"DataType": "String", "StringValue": provider}},
        )
        if result.outcome is Outcome.HELD and self.alerts_topic:
            self.clients.sns.publish(
                TopicArn=self.alerts_topic,
                Subject=f"moviestore: held snapshot of {provider}, ingestion {result.ingestion_id}"[
                    :99
                ],
                Message=body,
            )


def dead_letter_malformed(clients: Clients, dlq_url: str, body: str, detail: str) -> None:
    """A message that names nothing the worker can use goes to the dead-letter queue as it came,
    with the reason as an attribute (``moviestore dlq`` shows it)."""
    clients.sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": detail[:1024] or "-"}},
    )
