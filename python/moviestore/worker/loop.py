"""Long-poll SQS, ingest each object, and delete a message only after its data is committed.

* A heartbeat keeps a message invisible while its file is loading, so no one else starts it.
* SIGTERM stops the polling; the file in hand finishes within the grace period, or its load
  is abandoned (rolled back, nothing half-loaded) and its message made visible again at once.
* A message that keeps failing is not deleted, so SQS's redrive policy moves it to the
  dead-letter queue after ``maxReceiveCount`` receipts.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from moviestore.aws.clients import Clients
from moviestore.ingest import events
from moviestore.ingest.duties import Duties
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.logs import correlated, event
from moviestore.settings import Settings
from moviestore.worker import metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("moviestore.worker")

# A busy object (another worker loads it) is looked at again after this long.
BUSY_RETRY_SECONDS = 30


class ShutdownInterruptedError(Exception):
    """The grace period after SIGTERM ran out during a load."""


class Heartbeat:
    """Extends a message's visibility every third of the timeout until stopped."""

    def __init__(self, clients: Clients, queue_url: str, receipt: str, timeout: int):
        self.clients, self.queue_url, self.receipt, self.timeout = (
            clients,
            queue_url,
            receipt,
            timeout,
        )
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(10)

    def beat(self) -> None:
        while not self.done.wait(self.timeout / 3):
            try:
                self.clients.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=self.receipt,
                    VisibilityTimeout=self.timeout,
                )
            except Exception:
                log.warning("heartbeat failed", exc_info=True)


class Worker:
    def __init__(self, settings: Settings, clients: Clients, ingestor: Ingestor):
        self.settings, self.clients, self.ingestor = settings, clients, ingestor
        self.duties = Duties(settings, clients)
        self.stopping = threading.Event()
        self.deadline: float | None = None

    def stop(self) -> None:
        """Stop polling; the file in hand gets ``worker_shutdown_grace_seconds`` to finish."""
        if not self.stopping.is_set():
            self.deadline = time.monotonic() + self.settings.worker_shutdown_grace_seconds
            self.stopping.set()
            event(
                log,
                logging.INFO,
                "stopping",
                grace_seconds=self.settings.worker_shutdown_grace_seconds,
            )

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ShutdownInterruptedError("the shutdown grace period ran out")

    def run(self) -> None:
        queue = self.settings.sqs_queue_url
        while not self.stopping.is_set():
            got = self.clients.sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.settings.sqs_wait_seconds,
                VisibilityTimeout=self.settings.sqs_visibility_timeout_seconds,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
            messages = got.get("Messages", [])
            for i, message in enumerate(messages):
                if self.stopping.is_set():
                    self.give_back(messages[i:])
                    break
                self.handle(message)

    def give_back(self, messages: list[MessageTypeDef]) -> None:
        for m in messages:
            self.clients.sqs.change_message_visibility(
                QueueUrl=self.settings.sqs_queue_url,
                ReceiptHandle=m["ReceiptHandle"],
                VisibilityTimeout=0,
            )
            metrics.MESSAGES.labels("given_back").inc()

    def handle(self, message: MessageTypeDef) -> None:
        body, receipt = message["Body"], message["ReceiptHandle"]
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
        if sent:
            metrics.QUEUE_LAG.observe(max(0.0, time.time() - sent))
        with correlated(message_id=message["MessageId"]):
            try:
                keep = self.handle_body(body, receipt)
            except ShutdownInterruptedError:
                self.give_back([message])
                event(log, logging.WARNING, "load abandoned at shutdown; message returned")
                return
            except Exception:
                # Not deleted: SQS redelivers it, and after maxReceiveCount dead-letters it.
                metrics.MESSAGES.labels("failed").inc()
                log.exception("message failed; it will be retried")
                return
            if keep:
                return
            self.clients.sqs.delete_message(
                QueueUrl=self.settings.sqs_queue_url, ReceiptHandle=receipt
            )
            metrics.MESSAGES.labels("done").inc()

    def handle_body(self, body: str, receipt: str) -> bool:
        """Handle every record of a message; True when the message must stay (retry later)."""
        for item in events.parse(body):
            if isinstance(item, events.Skipped):
                event(
                    log,
                    logging.WARNING if item.reason == "malformed" else logging.INFO,
                    "message skipped",
                    reason=item.reason,
                    detail=item.detail,
                )
                if item.reason == "malformed":
                    self.clients.sqs.send_message(
                        QueueUrl=self.settings.sqs_dlq_url,
                        MessageBody=body,
                        MessageAttributes={
                            "reason": {"DataType": "String", "StringValue": item.detail[:1024]}
                        },
                    )
                continue
            if self.ingest(item, body, receipt):
                return True
        return False

    def ingest(self, ref: events.ObjectRef, body: str, receipt: str) -> bool:
        with (
            correlated(key=ref.key, provider=ref.provider),
            Heartbeat(
                self.clients,
                self.settings.sqs_queue_url,
                receipt,
                self.settings.sqs_visibility_timeout_seconds,
            ),
        ):
            metrics.BUSY.set(1)
            try:
                with metrics.DURATION.time():
                    result = self.ingestor.ingest(ref, on_batch=self.check_deadline)
            finally:
                metrics.BUSY.set(0)
            count(result)
            busy = result.outcome is Outcome.BUSY or self.duties.run(ref, result, body)
        if busy:
            self.clients.sqs.change_message_visibility(
                QueueUrl=self.settings.sqs_queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=BUSY_RETRY_SECONDS,
            )
        return busy


def count(result: Result) -> None:
    # A resumed result is a file counted when it was loaded; only its duties are new.
    metrics.FILES.labels("resumed" if result.resumed else result.outcome.value).inc()
    if result.report is not None:
        record(result.report)


def record(report: Any) -> None:
    metrics.RECORDS.labels("valid").inc(report.records_valid)
    metrics.RECORDS.labels("invalid").inc(report.records_invalid)
    metrics.RECORDS.labels("collapsed").inc(report.duplicates_collapsed)
    metrics.BYTES.inc(report.bytes_read)
