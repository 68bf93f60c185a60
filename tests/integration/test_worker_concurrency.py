"""Several ``moviestore worker`` processes, each loading several files at once, on a backlog of
files whose loads outlast the queue's visibility timeout many times over.

The loads are held up on purpose (a lock on ``movies`` that the COPY waits for) for three
visibility timeouts: a message that is not heartbeated would come back to another worker,
which would claim its file again (``attempts`` 2) and, after ``maxReceiveCount`` receipts,
dead-letter it. Every file must load exactly once, none may reach the dead-letter queue, and a
worker receives only as many messages as it has free slots. SIGTERM to a worker with files in
hand abandons them at its deadline (even blocked inside PostgreSQL): nothing half-loaded, their
messages back in the queue, loaded once by another worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
import pytest

from moviestore.aws.clients import Clients
from moviestore.aws.provision import queue_arn
from moviestore.localstack.processes import free_port
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.store.migrate import migrate
from tests.integration.test_worker import get, wait_for

VISIBILITY = 10
ROWS = 2_000


@dataclass
class Backlog:
    """A queue pair of the test's own, and the uploads it announces."""

    clients: Clients
    endpoints: Endpoints
    queue: str
    dlq: str
    run: str

    def announce(
        self, files: int, deliveries: int = 1, rows: int = ROWS, name: str = "backlog"
    ) -> dict[str, int]:
        """``files`` uploads of ``rows`` movies, one provider each (``{name}-{run}-{i}``), each
        event delivered ``deliveries`` times (S3 and SQS deliver at least once): key -> rows."""
        keys = {}
        for i in range(files):
            key = f"providers/{name}-{self.run}-{i}/catalog.ndjson"
            lines = (
                orjson.dumps({"id": f"{i}-{n}", "title": f"Film {n}", "year": 2000})
                for n in range(rows)
            )
            data = b"\n".join(lines)
            etag = self.clients.s3.put_object(Bucket=self.endpoints.bucket, Key=key, Body=data)[
                "ETag"
            ].strip('"')
            record = {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": self.endpoints.bucket},
                    "object": {"key": key, "size": len(data), "eTag": etag},
                },
            }
            for _ in range(deliveries):
                self.clients.sqs.send_message(
                    QueueUrl=self.queue, MessageBody=orjson.dumps({"Records": [record]}).decode()
                )
            keys[key] = rows
        return keys

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages of the queue."""
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]  # fmt: skip
        return (
            int(attrs["ApproximateNumberOfMessages"]),
            int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        )

    def dead_letters(self) -> int:
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def worker(
        self, log: Path, concurrency: int, grace: float = 60, **settings: str
    ) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        env = {
            **os.environ,
            **{f"MOVIESTORE_{name.upper()}": value for name, value in settings.items()},
            "MOVIESTORE_METRICS_PORT": str(port),
            "MOVIESTORE_SQS_QUEUE_URL": self.queue,
            "MOVIESTORE_SQS_DLQ_URL": self.dlq,
            "MOVIESTORE_SQS_WAIT_SECONDS": "1",
            "MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY),
            "MOVIESTORE_WORKER_CONCURRENCY": str(concurrency),
            "MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS": str(grace),
        }
        out = log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "moviestore.cli", "worker"], env=env, stdout=out, stderr=out
        )
        wait_for(lambda: get(port, "/healthz")[0] == 200, 30)
        return proc, port


@pytest.fixture
def backlog(endpoints: Endpoints) -> Iterator[Backlog]:
    migrate(endpoints.database_url)
    clients = Clients(REGION, endpoints.aws_endpoint)
    run = uuid.uuid4().hex[:8]
    dlq = clients.sqs.create_queue(QueueName=f"backlog-{run}-dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": queue_arn(clients, dlq), "maxReceiveCount": "2"}
    queue = clients.sqs.create_queue(
        QueueName=f"backlog-{run}",
        Attributes={
            "VisibilityTimeout": str(VISIBILITY),
            "RedrivePolicy": orjson.dumps(redrive).decode(),
        },
    )["QueueUrl"]
    yield Backlog(clients, endpoints, queue, dlq, run)


def metric(port: int, name: str) -> float:
    """The worker's metric ``name`` (with its labels), -1 when it has none."""
    for line in get(port, "/metrics")[1].decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def busy(port: int) -> float:
    return metric(port, "moviestore_worker_busy")


def loaded_once(endpoints: Endpoints, keys: dict[str, int]) -> dict[str, tuple[object, ...]]:
    """Per key: (status, attempts, rows_inserted, the movies it has, its change feed rows)."""
    with psycopg.connect(endpoints.database_url) as c:
        rows = c.execute(
            "SELECT i.key, i.status, i.attempts, i.rows_inserted,"
            " (SELECT count(*) FROM movies m WHERE m.source_key = i.key),"
            " (SELECT count(*) FROM catalog_changes c WHERE c.ingestion_id = i.id)"
            " FROM ingestions i WHERE i.key = ANY(%s)",
            (list(keys),),
        ).fetchall()
    return {key: tuple(rest) for key, *rest in rows}


def held_up(endpoints: Endpoints) -> psycopg.Connection:
    """Every COPY into movies waits while this connection holds its lock."""
    blocker = psycopg.connect(endpoints.database_url)
    blocker.execute("LOCK TABLE movies IN SHARE MODE")
    return blocker


def test_a_backlog_loads_each_file_once_with_nothing_expired_or_dead_lettered(
    backlog: Backlog, endpoints: Endpoints, tmp_path: Path
) -> None:
    keys = backlog.announce(7)
    blocker = held_up(endpoints)
    workers = [backlog.worker(tmp_path / f"w{i}.log", concurrency=2) for i in range(2)]
    try:
        # Each worker holds exactly its two slots' worth; the rest wait in the queue.
        wait_for(lambda: backlog.counts() == (3, 4), 30)
        assert [busy(port) for _, port in workers] == [2.0, 2.0]
        # Three visibility timeouts blocked: without heartbeats they would have come back.
        time.sleep(3 * VISIBILITY)
        assert backlog.counts() == (3, 4)
        blocker.close()
        wait_for(lambda: backlog.counts() == (0, 0), 120)
        wait_for(lambda: len(loaded_once(endpoints, keys)) == len(keys), 30)
        assert loaded_once(endpoints, keys) == {
            key: ("loaded", 1, rows, rows, rows) for key, rows in keys.items()
        }
        assert backlog.dead_letters() == 0
    finally:
        blocker.close()
        for proc, _ in workers:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in workers:
            assert proc.wait(60) == 0


def test_a_second_delivery_of_a_file_in_hand_is_acknowledged_and_frees_its_slot(
    backlog: Backlog, endpoints: Endpoints, tmp_path: Path
) -> None:
    keys = backlog.announce(1, deliveries=2)
    blocker = held_up(endpoints)
    proc, port = backlog.worker(tmp_path / "w.log", concurrency=2)
    try:
        # Both deliveries received; the second finds the first's live claim and is deleted at
        # once, while the first load waits on the lock: one message in flight, one slot busy.
        wait_for(lambda: backlog.counts() == (0, 1), 30)
        wait_for(lambda: busy(port) == 1.0, 10)
        assert metric(port, 'moviestore_ingest_files_total{outcome="duplicate"}') == 1.0
        blocker.close()
        wait_for(lambda: backlog.counts() == (0, 0), 60)
        wait_for(lambda: len(loaded_once(endpoints, keys)) == 1, 30)
        assert loaded_once(endpoints, keys) == {
            key: ("loaded", 1, rows, rows, rows) for key, rows in keys.items()
        }
        assert backlog.dead_letters() == 0
    finally:
        blocker.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def provider_locked(endpoints: Endpoints, key: str) -> psycopg.Connection:
    """Every load of ``key``'s provider waits while this connection's transaction is open."""
    holder = psycopg.connect(endpoints.database_url)
    holder.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('provider:' || %s, 0))", (key.split("/")[1],)
    )
    return holder


def test_a_small_file_loads_while_large_files_hold_every_large_slot(
    backlog: Backlog, endpoints: Endpoints, tmp_path: Path
) -> None:
    large = backlog.announce(2, name="large")  # 2,000 movies: about 100 kB each
    holders = [provider_locked(endpoints, key) for key in large]
    proc, port = backlog.worker(tmp_path / "w.log", concurrency=2, worker_large_file_bytes="10000")
    try:
        # Two slots, so one large slot: one large file is in it (its load waits for its
        # provider), the other waits for it in hand; the small slot is still free.
        wait_for(lambda: metric(port, "moviestore_worker_waiting_large") == 1.0, 30)
        small = backlog.announce(1, rows=10, name="small")
        wait_for(lambda: len(loaded_once(endpoints, small)) == 1, 30)
        wait_for(lambda: loaded_once(endpoints, small)[next(iter(small))][0] == "loaded", 30)
        assert [status for status, *_ in loaded_once(endpoints, large).values()] == ["processing"]
        for holder in holders:
            holder.close()
        wait_for(lambda: backlog.counts() == (0, 0), 60)
        wait_for(lambda: len(loaded_once(endpoints, large)) == 2, 30)
        assert loaded_once(endpoints, {**large, **small}) == {
            key: ("loaded", 1, rows, rows, rows) for key, rows in {**large, **small}.items()
        }
        assert backlog.dead_letters() == 0
    finally:
        for holder in holders:
            holder.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_sigterm_abandons_the_files_in_hand_at_the_deadline_and_another_worker_loads_them(
    backlog: Backlog, endpoints: Endpoints, tmp_path: Path
) -> None:
    keys = backlog.announce(3)
    blocker = held_up(endpoints)
    stopping, port = backlog.worker(tmp_path / "stopping.log", concurrency=3, grace=2)
    try:
        wait_for(lambda: busy(port) == 3.0, 30)
        stopping.send_signal(signal.SIGTERM)
        # Blocked inside PostgreSQL, its loads are cancelled at the deadline and rolled back.
        assert stopping.wait(60) == 0
        assert backlog.counts() == (3, 0)  # every message back in the queue at once
    finally:
        blocker.close()
        if stopping.poll() is None:
            stopping.kill()
    with psycopg.connect(endpoints.database_url) as c:
        found = c.execute(
            "SELECT count(*) FROM movies WHERE source_key = ANY(%s)", (list(keys),)
        ).fetchone()
    assert found == (0,)  # nothing half-loaded
    other, _ = backlog.worker(tmp_path / "other.log", concurrency=2)
    try:
        wait_for(lambda: backlog.counts() == (0, 0), 120)
        wait_for(lambda: len(loaded_once(endpoints, keys)) == len(keys), 30)
        assert loaded_once(endpoints, keys) == {
            key: ("loaded", 2, rows, rows, rows)
            for key, rows in keys.items()  # taken over
        }
        assert backlog.dead_letters() == 0
    finally:
        other.send_signal(signal.SIGTERM)
        assert other.wait(60) == 0
