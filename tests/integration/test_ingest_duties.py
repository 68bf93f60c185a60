"""Notices lost between a commit and their sending are sent by the next delivery, once; a
provider's data never reaches the dead-letter queue.

The worker runs in this process on a queue of its own, so that a failure can be injected
right after the commit (the SNS publish fails once) or a crash simulated (``notified_at``
cleared, the cache emptied).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
import pytest
import redis
from botocore.exceptions import EndpointConnectionError

from moviestore.aws.clients import Clients
from moviestore.catalog.keys import VERSION_KEY, movie_key
from moviestore.ingest.pipeline import Ingestor
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.settings import Settings
from moviestore.store.feed import ANALYZE_AFTER_MOVIES, refresh_statistics
from moviestore.store.migrate import migrate
from moviestore.store.pool import ConnectionPool
from moviestore.worker.loop import Worker
from tests.integration.s3_events import announce, subscribe

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef


class Stage:
    """A worker on a queue of its own, a provider inbox subscribed to the provider topic."""

    def __init__(self, endpoints: Endpoints, db: psycopg.Connection, pool: ConnectionPool):
        self.endpoints, self.db = endpoints, db
        self.clients = Clients(REGION, endpoints.aws_endpoint)
        self.provider = f"duties-{uuid.uuid4().hex[:8]}"
        sqs = self.clients.sqs
        self.queue = sqs.create_queue(QueueName=f"{self.provider}-ingest")["QueueUrl"]
        self.dlq = sqs.create_queue(QueueName=f"{self.provider}-dlq")["QueueUrl"]
        self.inbox = subscribe(
            self.clients, endpoints.provider_topic_arn, f"{self.provider}-inbox", self.provider
        )
        overrides: dict[str, Any] = {"sqs_queue_url": self.queue, "sqs_dlq_url": self.dlq}
        settings = Settings(**overrides)  # the rest from the stack's environment
        self.worker = Worker(settings, self.clients, Ingestor(settings, self.clients, "test", pool))

    def upload(self, name: str, data: bytes, **put: Any) -> str:
        """Put the object and the S3 event naming it on the queue; the event's body."""
        key = f"providers/{self.provider}/{name}"
        return announce(self.clients, self.endpoints.bucket, self.queue, key, data, **put)

    def deliver(self) -> MessageTypeDef:
        """Receive the queue's one message and hand it to the worker."""
        message = self.receive(self.queue)
        self.worker.handle(message)
        return message

    def receive(self, url: str) -> MessageTypeDef:
        got = self.clients.sqs.receive_message(
            QueueUrl=url,
            WaitTimeSeconds=2,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        [message] = got["Messages"]
        return message

    def drain(self, url: str) -> list[MessageTypeDef]:
        """Every message now in ``url``, deleted."""
        found: list[MessageTypeDef] = []
        while got := self.clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages"):
            for m in got:
                self.clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            found += got
        return found

    def redeliver(self, message: MessageTypeDef) -> None:
        """A message the worker kept (not deleted) comes back: at once here."""
        self.clients.sqs.change_message_visibility(
            QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def ingestion(self) -> tuple[Any, ...]:
        row = self.db.execute(
            "SELECT id, status, notified_at IS NOT NULL, attempts FROM ingestions"
            " WHERE provider = %s",
            (self.provider,),
        ).fetchone()
        assert row is not None
        return tuple(row)


@pytest.fixture
def stage(pool: ConnectionPool, endpoints: Endpoints) -> Iterator[Stage]:
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url, autocommit=True) as db:
        yield Stage(endpoints, db, pool)


def fail_once(monkeypatch: pytest.MonkeyPatch, clients: Clients) -> list[str]:
    """The next SNS publish fails as if the worker died right after the commit."""
    real, calls = clients.sns.publish, []

    def publish(**kw: Any) -> Any:
        calls.append(kw["TopicArn"])
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url="sns")
        return real(**kw)

    monkeypatch.setattr(clients.sns, "publish", publish)
    return calls


BROKEN = b'[{"title": "A", "year": 2000}, '  # truncated: the file is rejected


def test_notices_lost_after_the_commit_are_sent_by_the_next_delivery_once(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fail_once(monkeypatch, stage.clients)
    body = stage.upload("broken.json", BROKEN)
    message = stage.deliver()

    iid, status, notified, attempts = stage.ingestion()
    assert (status, notified, attempts) == ("rejected", False, 1)  # committed, not notified
    assert stage.drain(stage.inbox) == []
    assert len(calls) == 1

    stage.redeliver(message)  # it was not deleted
    again = stage.deliver()
    assert again["MessageId"] == message["MessageId"]

    assert stage.ingestion() == (iid, "rejected", True, 1)  # not loaded again
    [notice] = stage.drain(stage.inbox)
    sent = orjson.loads(notice["Body"])
    assert (sent["status"], sent["ingestion_id"]) == ("rejected", iid)
    assert sent["reason"].startswith("parse")
    assert stage.drain(stage.dlq) == []  # a provider's broken file is not a platform failure

    # Once sent, a further delivery (S3 notifying twice) is only acknowledged.
    stage.clients.sqs.send_message(QueueUrl=stage.queue, MessageBody=body)
    stage.deliver()
    assert stage.drain(stage.inbox) == [] and stage.drain(stage.dlq) == []
    assert len(calls) == 2
    assert stage.drain(stage.queue) == []  # every delivery was deleted in the end


def test_a_crash_after_the_commit_of_a_partial_file_resends_everything_once(
    stage: Stage, endpoints: Endpoints
) -> None:
    movies = [{"title": f"D{i}", "year": 2000, "id": i} for i in range(4)] + [{"title": ""}]
    body = stage.upload("partial.json", orjson.dumps(movies))
    stage.deliver()
    iid, status, notified, _ = stage.ingestion()
    assert (status, notified) == ("partially_loaded", True)
    [first_notice] = stage.drain(stage.inbox)

    # The worker "died" after the commit: nothing was sent, nothing is in the cache.
    cache = redis.Redis.from_url(endpoints.redis_url)
    row = stage.db.execute("SELECT version FROM catalog_state").fetchone()
    assert row is not None
    version = int(row[0])
    ids = [r[0] for r in stage.db.execute("SELECT id FROM movies WHERE ingestion_id = %s", (iid,))]
    assert len(ids) == 4
    cache.delete(*(movie_key(i) for i in ids))
    stage.db.execute("UPDATE ingestions SET notified_at = NULL WHERE id = %s", (iid,))

    stage.clients.sqs.send_message(QueueUrl=stage.queue, MessageBody=body)
    stage.deliver()

    assert stage.ingestion()[1:] == ("partially_loaded", True, 1)
    [notice] = stage.drain(stage.inbox)
    again = orjson.loads(notice["Body"])
    first = orjson.loads(first_notice["Body"])
    for field in ("status", "records_valid", "records_invalid", "rows_inserted", "report",
                  "ingestion_id"):  # fmt: skip
        assert again[field] == first[field], field
    assert again["report_url"].startswith("http")
    assert stage.clients.s3.head_object(Bucket=endpoints.bucket, Key=again["report"])
    assert stage.drain(stage.dlq) == []
    assert all(cache.exists(movie_key(i)) for i in ids)
    assert int(cache.get(VERSION_KEY) or 0) >= version


def test_a_large_ingestion_refreshes_the_planner_statistics(db: psycopg.Connection) -> None:
    def analyzed() -> dict[str, Any]:
        rows = db.execute(
            "SELECT relname, last_analyze FROM pg_stat_user_tables"
            " WHERE relname IN ('movies', 'catalog_changes')"
        ).fetchall()
        return dict(rows)

    before = analyzed()
    assert not refresh_statistics(db, ANALYZE_AFTER_MOVIES - 1)
    assert analyzed() == before  # a small ingestion leaves them to autovacuum
    assert refresh_statistics(db, ANALYZE_AFTER_MOVIES)
    after = analyzed()
    for table in ("movies", "catalog_changes"):
        assert after[table] is not None and after[table] != before[table]
