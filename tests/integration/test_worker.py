"""``moviestore worker`` as it runs in production: a process, SQS, S3, PostgreSQL, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
import redis

from moviestore.aws.clients import Clients
from moviestore.catalog.keys import VERSION_KEY, movie_key, unframe
from moviestore.localstack.processes import free_port, port_open
from moviestore.localstack.stack import REGION, Endpoints, LocalStack
from moviestore.store.migrate import migrate


@pytest.fixture
def worker(endpoints: Endpoints, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    migrate(endpoints.database_url)
    port = free_port()
    env = {
        **os.environ,
        "MOVIESTORE_METRICS_PORT": str(port),
        "MOVIESTORE_SQS_WAIT_SECONDS": "1",
        "MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS": "20",
    }
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "worker"], env=env, stdout=log, stderr=log
    )
    wait_for(lambda: get(port, "/healthz")[0] == 200, 30)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def wait_for(ready: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not ready after {seconds} s")


def load_waits_on_a_lock(endpoints: Endpoints) -> bool:
    with psycopg.connect(endpoints.database_url) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
    return row is not None and row[0] > 0


def loaded_rows(endpoints: Endpoints, key: str) -> int:
    with psycopg.connect(endpoints.database_url) as c:
        row = c.execute("SELECT count(*) FROM movies WHERE source_key = %s", (key,)).fetchone()
    return int(row[0]) if row else 0


def test_upload_to_rows_then_a_clean_sigterm(
    endpoints: Endpoints, worker: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, port = worker
    clients = Clients(REGION, endpoints.aws_endpoint)
    key = "providers/acme/worker test é+1.json"
    movies = [{"title": f"Film {i}", "year": 2000, "id": f"w-{i}"} for i in range(500)]
    clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=orjson.dumps(movies))
    wait_for(lambda: loaded_rows(endpoints, key) == 500, 60)

    assert get(port, "/readyz")[0] == 200
    status, body = get(port, "/metrics")
    assert status == 200 and b'moviestore_ingest_files_total{outcome="loaded"}' in body

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(40) == 0


def test_a_malformed_message_is_dead_lettered_not_fatal(
    endpoints: Endpoints, worker: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, _ = worker
    clients = Clients(REGION, endpoints.aws_endpoint)
    clients.sqs.send_message(QueueUrl=endpoints.queue_url, MessageBody="{not json")
    found: list[str] = []

    def dead_lettered() -> bool:
        got = clients.sqs.receive_message(
            QueueUrl=endpoints.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for m in got.get("Messages", []):
            found.append(m["Body"])
            clients.sqs.delete_message(QueueUrl=endpoints.dlq_url, ReceiptHandle=m["ReceiptHandle"])
        return "{not json" in found

    wait_for(dead_lettered, 30)
    assert proc.poll() is None  # still running


def test_the_catalog_version_and_documents_reach_redis_and_redis_down_fails_nothing(
    endpoints: Endpoints,
    worker: tuple[subprocess.Popen[bytes], int],
    local_stack: tuple[LocalStack, Endpoints],
) -> None:
    clients = Clients(REGION, endpoints.aws_endpoint)
    cache = redis.Redis.from_url(endpoints.redis_url)
    key = "providers/acme/bump.json"
    clients.s3.put_object(
        Bucket=endpoints.bucket,
        Key=key,
        Body=orjson.dumps([{"title": "B", "year": 2001, "id": "bump"}]),
    )
    wait_for(lambda: loaded_rows(endpoints, key) == 1, 60)
    with psycopg.connect(endpoints.database_url) as c:
        row = c.execute("SELECT id FROM movies WHERE source_key = %s", (key,)).fetchone()
    assert row is not None

    # Framed with the version its commit made (ids of earlier tests' movies, truncated since,
    # may have had documents of their own under the same key).
    def version_of_the_document() -> int | None:
        raw = cache.get(movie_key(row[0]))
        framed = unframe(raw) if isinstance(raw, bytes) else None
        if framed is None or orjson.loads(framed[1]).get("title") != "B":
            return None
        return framed[0]

    wait_for(lambda: version_of_the_document() is not None, 10)
    assert int(cache.get(VERSION_KEY) or 0) >= (version_of_the_document() or 0)

    redis_server = local_stack[0].server("redis")
    redis_server.stop()
    try:
        key = "providers/acme/no-redis.json"
        body = orjson.dumps([{"title": "N", "year": 2002, "id": "no-redis"}])
        clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=body)
        wait_for(lambda: loaded_rows(endpoints, key) == 1, 60)
    finally:
        redis_server.start()
        wait_for(lambda: port_open(int(endpoints.redis_url.rsplit(":", 1)[1].split("/")[0])), 30)
    assert worker[0].poll() is None


def start_worker(port: int, log: Path, visibility: int = 10) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MOVIESTORE_METRICS_PORT": str(port),
        "MOVIESTORE_SQS_WAIT_SECONDS": "1",
        "MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS": str(visibility),
    }
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "worker"], env=env, stdout=out, stderr=out
    )


def test_a_worker_killed_mid_file_leaves_nothing_and_the_next_loads_it_once(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    migrate(endpoints.database_url)
    clients = Clients(REGION, endpoints.aws_endpoint)
    key = "providers/acme/kill-9.ndjson"
    extract = "A long extract. " * 60
    lines = (
        orjson.dumps({"title": f"K{i}", "year": 2000, "id": f"k-{i}", "extract": extract})
        for i in range(60_000)
    )
    clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=b"\n".join(lines))

    port = free_port()
    first = start_worker(port, tmp_path / "first.log")
    try:
        wait_for(lambda: b"moviestore_worker_busy 1.0" in get(port, "/metrics")[1], 60)
        time.sleep(0.3)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert loaded_rows(endpoints, key) == 0  # nothing of a half-loaded file is visible

    second_port = free_port()
    second = start_worker(second_port, tmp_path / "second.log")
    try:
        wait_for(lambda: loaded_rows(endpoints, key) == 60_000, 120)
        with psycopg.connect(endpoints.database_url) as c:
            row = c.execute(
                "SELECT status, attempts FROM ingestions WHERE key = %s", (key,)
            ).fetchone()
        assert row == ("loaded", 2)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(40) == 0


def test_postgres_restarted_mid_load_leaves_no_partial_file_and_the_retry_loads_it(
    endpoints: Endpoints, tmp_path: Path, local_stack: tuple[LocalStack, Endpoints]
) -> None:
    migrate(endpoints.database_url)
    clients = Clients(REGION, endpoints.aws_endpoint)
    key = "providers/acme/pg-restart.ndjson"
    extract = "Another long extract. " * 50
    lines = (
        orjson.dumps({"title": f"P{i}", "year": 2001, "id": f"p-{i}", "extract": extract})
        for i in range(60_000)
    )
    clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=b"\n".join(lines))

    # The load waits on this lock to write into movies, so PostgreSQL goes down in the middle
    # of the load, never after its commit (a fast machine loaded the file first, once).
    blocker = psycopg.connect(endpoints.database_url)
    blocker.execute("LOCK TABLE movies IN SHARE MODE")
    port = free_port()
    worker = start_worker(port, tmp_path / "worker.log")
    postgres = local_stack[0].server("postgres")
    pg_port = int(endpoints.database_url.rsplit(":", 1)[1].split("/")[0])
    try:
        wait_for(lambda: load_waits_on_a_lock(endpoints), 60)
        postgres.stop(signal.SIGINT)  # fast shutdown: open transactions are rolled back
        postgres.start()
        wait_for(lambda: port_open(pg_port), 60)
        wait_for(lambda: loaded_rows(endpoints, key) in (0, 60_000), 5)  # never a part
        wait_for(lambda: loaded_rows(endpoints, key) == 60_000, 120)
        with psycopg.connect(endpoints.database_url) as c:
            row = c.execute(
                "SELECT status, attempts FROM ingestions WHERE key = %s", (key,)
            ).fetchone()
        assert row is not None and row[0] == "loaded" and row[1] >= 2
        assert worker.poll() is None  # the worker lived through it
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(40)
        blocker.close()  # its session ended with the restart
