"""Long-poll SQS, ingest up to ``worker_concurrency`` files at once, and delete a message only
after its data is committed and its provider told.

* Only as many messages are received as there are free slots, so none waits in hand unworked,
  but one: large files (``worker_large_file_bytes``) take at most all slots but one, so one
  always serves small files, and a large file received while the large slots are taken waits
  in hand (heartbeated) without keeping the small slot from receiving. A provider's 10-movie
  file never waits behind four catalogs of gigabytes.
* Every message in hand is heartbeated (its visibility extended every third of the timeout,
  together with its claim's ``heartbeat_at``) until it is deleted or given back: no message
  expires while it is held, so no other worker receives it meanwhile and its receive count does
  not grow.
* SIGTERM stops the receiving; every file in hand finishes within the grace period, or its load
  is abandoned (rolled back, nothing half-loaded) and its message made visible again at once.
* A message whose handling fails is not deleted, so SQS's redrive policy moves it to the
  dead-letter queue after ``maxReceiveCount`` receipts: the dead-letter queue holds platform
  failures only (a provider's bad data is an outcome, told in its notice).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from moviestore.aws.clients import Clients
from moviestore.ingest import events
from moviestore.ingest.duties import Duties
from moviestore.ingest.notify import dead_letter_malformed
from moviestore.ingest.pipeline import Ingestor, Outcome, Result, duplicate
from moviestore.logs import correlated, event
from moviestore.settings import Settings
from moviestore.store import ingestions
from moviestore.store.pool import ConnectionPool
from moviestore.worker import metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("moviestore.worker")

# Another worker doing the duties of the same object: looked at again after this long.
BUSY_RETRY_SECONDS = 30
# SQS takes at most this many entries per batch call.
SQS_BATCH = 10


class ShutdownInterruptedError(Exception):
    """The grace period after SIGTERM ran out during a load."""


@dataclass
class Held:
    """A message in hand, the claims its files hold, and how to cancel the load in progress."""

    receipt: str
    claims: set[int] = field(default_factory=set)
    cancel: Callable[[], None] | None = None

    def claimed(self, ingestion_id: int, cancel: Callable[[], None]) -> None:
        self.claims.add(ingestion_id)
        self.cancel = cancel


class InHand:
    """The messages a worker holds, heartbeated by one thread until each is released."""

    def __init__(self, settings: Settings, clients: Clients, pool: ConnectionPool):
        self.settings, self.clients, self.pool = settings, clients, pool
        self.lock = threading.Lock()
        self.messages: dict[str, Held] = {}  # by message id
        self.versions: set[tuple[str, str, str]] = set()  # the object versions being handled
        self.freed = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.beat_until_done, name="heartbeat", daemon=True)

    def __len__(self) -> int:
        with self.lock:
            return len(self.messages)

    def hold(self, message_id: str, receipt: str) -> Held:
        held = Held(receipt)
        with self.lock:
            self.messages[message_id] = held
        metrics.BUSY.set(len(self.messages))
        return held

    def release(self, message_id: str) -> None:
        """Stop heartbeating it (before it is deleted or given back, under the lock a beat
        holds: a beat never extends a message already handed back)."""
        with self.lock:
            self.messages.pop(message_id, None)
            metrics.BUSY.set(len(self.messages))
        self.freed.set()

    @contextlib.contextmanager
    def version(self, ref: events.ObjectRef) -> Iterator[bool]:
        """For the block, ``ref``'s object version is handled here; False if it already was (a
        second delivery in this worker, before any claim could tell: it would wait for a slot
        or a lock for nothing)."""
        version = (ref.bucket, ref.key, ref.version)
        with self.lock:
            first = version not in self.versions
            self.versions.add(version)
        try:
            yield first
        finally:
            if first:
                with self.lock:
                    self.versions.discard(version)

    def cancel_all(self) -> None:
        with self.lock:
            cancels = [h.cancel for h in self.messages.values() if h.cancel is not None]
        for cancel in cancels:
            try:
                cancel()
            except Exception:  # the load just ended: nothing to cancel
                log.debug("cancel found nothing to cancel", exc_info=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)

    def beat_until_done(self) -> None:
        while not self.done.wait(self.settings.sqs_visibility_timeout_seconds / 3):
            try:
                self.beat()
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def beat(self) -> None:
        """Extend every held message's visibility, then the heartbeat of the claims of those
        extended: a claim never looks live longer than its message stays hidden (a delivery
        that finds a live claim is acknowledged as a duplicate)."""
        with self.lock:
            held = list(self.messages.values())
            extended: list[Held] = []
            for start in range(0, len(held), SQS_BATCH):
                batch = held[start : start + SQS_BATCH]
                entries = [
                    {
                        "Id": str(i),
                        "ReceiptHandle": h.receipt,
                        "VisibilityTimeout": self.settings.sqs_visibility_timeout_seconds,
                    }
                    for i, h in enumerate(batch)
                ]
                sent = self.clients.sqs.change_message_visibility_batch(
                    QueueUrl=self.settings.sqs_queue_url,
                    Entries=entries,  # type: ignore[arg-type]
                )
                refused = set()
                for failed in sent.get("Failed", []):
                    refused.add(failed["Id"])
                    event(log, logging.WARNING, "heartbeat refused", detail=failed.get("Message"))
                extended += [h for i, h in enumerate(batch) if str(i) not in refused]
        self.beat_claims([c for h in extended for c in h.claims])

    def beat_claims(self, claims: list[int]) -> None:
        """Move the claims' ``heartbeat_at`` (a claim whose heartbeat stops is stale), and count
        the held snapshots waiting for an operator (an alert of their own)."""
        with self.pool.connection() as conn:
            ingestions.beat(conn, claims)
            metrics.HELD.set(ingestions.held_count(conn))


class Worker:
    def __init__(
        self,
        settings: Settings,
        clients: Clients,
        ingestor: Ingestor,
        duties: Duties | None = None,
    ):
        self.settings, self.clients, self.ingestor = settings, clients, ingestor
        self.duties = duties or Duties(settings, clients, ingestor.pool)
        self.slots = settings.worker_concurrency
        self.in_hand = InHand(settings, clients, ingestor.pool)
        self.large = Lanes(max(1, self.slots - 1))
        self.stopping = threading.Event()
        self.deadline: float | None = None
        metrics.SLOTS.set(self.slots)

    def stop(self) -> None:
        """Stop receiving; the files in hand get ``worker_shutdown_grace_seconds`` to finish,
        then their loads are cancelled (even one blocked inside PostgreSQL) and rolled back."""
        if not self.stopping.is_set():
            grace = self.settings.worker_shutdown_grace_seconds
            self.deadline = time.monotonic() + grace
            self.stopping.set()
            self.in_hand.freed.set()
            abandon = threading.Timer(grace, self.in_hand.cancel_all)
            abandon.daemon = True
            abandon.start()
            event(
                log,
                logging.INFO,
                "stopping",
                grace_seconds=self.settings.worker_shutdown_grace_seconds,
                in_hand=len(self.in_hand),
            )

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def check_deadline(self) -> None:
        if self.past_deadline():
            raise ShutdownInterruptedError("the shutdown grace period ran out")

    def run(self) -> None:
        self.in_hand.start()
        try:
            # A thread for each slot, and one for a large file waiting for a large slot.
            with ThreadPoolExecutor(self.slots + 1, thread_name_prefix="ingest") as pool:
                while not self.stopping.is_set():
                    free = self.slots - len(self.in_hand) + min(self.large.waiting, 1)
                    if free <= 0:
                        self.in_hand.freed.wait(1)
                        self.in_hand.freed.clear()
                        continue
                    for message in self.receive(min(free, SQS_BATCH)):
                        held = self.in_hand.hold(message["MessageId"], message["ReceiptHandle"])
                        pool.submit(self.handle, message, held)
                # Leaving the pool waits for every file in hand (each ends by its deadline).
        finally:
            self.in_hand.stop()

    def receive(self, count: int) -> list[MessageTypeDef]:
        got = self.clients.sqs.receive_message(
            QueueUrl=self.settings.sqs_queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=self.settings.sqs_wait_seconds,
            VisibilityTimeout=self.settings.sqs_visibility_timeout_seconds,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        messages = got.get("Messages", [])
        if messages and self.stopping.is_set():
            self.give_back(messages)  # received as the stop came: never started
            return []
        return messages

    def give_back(self, messages: list[MessageTypeDef], claims: set[int] | None = None) -> None:
        """Make ``messages`` visible again at once; their ``claims`` are released first (a
        delivery that finds a claim live would take itself for a duplicate and be acknowledged).
        If they cannot be, the messages come back when their visibility runs out, by when the
        claims are stale."""
        if claims:
            try:
                with self.ingestor.pool.connection() as conn:
                    ingestions.release(
                        conn, sorted(claims), self.settings.sqs_visibility_timeout_seconds
                    )
            except psycopg.Error:
                log.warning("claims not released; the messages come back at their timeout",
                            exc_info=True)  # fmt: skip
                for m in messages:
                    self.in_hand.release(m["MessageId"])
                return
        for m in messages:
            self.in_hand.release(m["MessageId"])
            self.clients.sqs.change_message_visibility(
                QueueUrl=self.settings.sqs_queue_url,
                ReceiptHandle=m["ReceiptHandle"],
                VisibilityTimeout=0,
            )
            metrics.MESSAGES.labels("given_back").inc()

    def handle(self, message: MessageTypeDef, held: Held | None = None) -> None:
        """Handle one message (in a pool thread); it is released in every case."""
        held = held or self.in_hand.hold(message["MessageId"], message["ReceiptHandle"])
        try:
            self.handle_held(message, held)
        finally:
            self.in_hand.release(message["MessageId"])

    def handle_held(self, message: MessageTypeDef, held: Held) -> None:
        body, receipt = message["Body"], message["ReceiptHandle"]
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
        if sent:
            metrics.QUEUE_LAG.observe(max(0.0, time.time() - sent))
        with correlated(message_id=message["MessageId"]):
            try:
                keep = self.handle_body(body, held)
            except Exception as e:
                if isinstance(e, ShutdownInterruptedError) or self.past_deadline():
                    self.give_back([message], held.claims)  # cancelled, rolled back
                    event(log, logging.WARNING, "load abandoned at shutdown; message returned")
                    return
                # Not deleted: SQS redelivers it, and after maxReceiveCount dead-letters it.
                metrics.MESSAGES.labels("failed").inc()
                log.exception("message failed; it will be retried")
                return
            self.in_hand.release(message["MessageId"])
            if keep:
                self.clients.sqs.change_message_visibility(
                    QueueUrl=self.settings.sqs_queue_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=BUSY_RETRY_SECONDS,
                )
                return
            self.clients.sqs.delete_message(
                QueueUrl=self.settings.sqs_queue_url, ReceiptHandle=receipt
            )
            metrics.MESSAGES.labels("done").inc()

    def handle_body(self, body: str, held: Held) -> bool:
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
                    dead_letter_malformed(
                        self.clients, self.settings.sqs_dlq_url, body, item.detail
                    )
                continue
            if self.ingest(item, held):
                return True
        return False

    def ingest(self, ref: events.ObjectRef, held: Held) -> bool:
        large = self.slots > 1 and ref.size >= self.settings.worker_large_file_bytes
        with correlated(key=ref.key, provider=ref.provider), self.in_hand.version(ref) as first:
            if not first:
                count(duplicate())
                return False
            with self.large.slot(self.stopping) if large else contextlib.nullcontext():
                with metrics.DURATION.time():
                    result = self.ingestor.ingest(
                        ref, on_batch=self.check_deadline, on_claim=held.claimed
                    )
                count(result)
                return self.duties.run(ref, result)


class Lanes:
    """The slots large files may take, and how many large files wait for one."""

    def __init__(self, slots: int):
        self.free = threading.Semaphore(slots)
        self.lock = threading.Lock()
        self.waiting = 0

    @contextlib.contextmanager
    def slot(self, stopping: threading.Event) -> Iterator[None]:
        """Hold a large slot for the block; waiting for one ends when the worker stops (the
        message is given back: its load never started)."""
        if not self.free.acquire(blocking=False):
            self.count_waiting(+1)
            event(log, logging.INFO, "large file waits for a large slot")
            try:
                while not self.free.acquire(timeout=0.5):
                    if stopping.is_set():
                        raise ShutdownInterruptedError("stopped before its load started")
            finally:
                self.count_waiting(-1)
        try:
            yield
        finally:
            self.free.release()

    def count_waiting(self, step: int) -> None:
        with self.lock:
            self.waiting += step
            metrics.WAITING.set(self.waiting)


def count(result: Result) -> None:
    # A resumed result is a file counted when it was loaded; only its duties are new.
    metrics.FILES.labels("resumed" if result.resumed else result.outcome.value).inc()
    if result.outcome is Outcome.REJECTED and not result.resumed:
        metrics.DATA_REJECTIONS.labels(str(result.summary.get("provider", "-"))).inc()
    if result.report is not None:
        record(result.report)


def record(report: Any) -> None:
    metrics.RECORDS.labels("valid").inc(report.records_valid)
    metrics.RECORDS.labels("invalid").inc(report.records_invalid)
    metrics.RECORDS.labels("collapsed").inc(report.duplicates_collapsed)
    metrics.RECORDS.labels("deletions").inc(report.deletions)
    metrics.BYTES.inc(report.bytes_read)
