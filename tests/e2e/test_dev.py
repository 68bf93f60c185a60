"""``moviestore dev``: the local platform comes up with sample data, stops cleanly, restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import psycopg
import pytest
import redis

from moviestore.aws.clients import Clients
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env
from tests.cli import moviestore


def start(state: Path, log: Path, *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "dev", "--state-dir", str(state), *flags],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_for_statuses(url: str, want: set[tuple[str, str]], seconds: float) -> set[tuple[str, str]]:
    deadline = time.monotonic() + seconds
    got: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url) as c:
                got = set(c.execute("SELECT key, status FROM ingestions").fetchall())
        except psycopg.Error:
            pass
        if want <= got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"ingestions after {seconds} s: {got}")


def test_dev_runs_the_platform_with_samples_and_restarts_on_the_same_data(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "dev.log"
    proc = start(state, log)
    try:
        endpoints_file = state / "endpoints.json"
        deadline = time.monotonic() + 120
        while not endpoints_file.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        endpoints = orjson.loads(endpoints_file.read_bytes())
        for key in (
            "api",
            "aws_endpoint",
            "bucket",
            "queue_url",
            "dlq_url",
            "database_url",
            "redis_url",
        ):
            assert key in endpoints
        wait_for_statuses(
            endpoints["database_url"],
            {
                ("providers/sample/catalog.json", "loaded"),
                # two thirds of its records are invalid: above the default threshold of half
                ("providers/sample/catalog-with-errors.ndjson", "rejected"),
            },
            90,
        )
        # The API serves the sample catalog (its cache follows the catalog version).
        page = orjson.loads(
            urllib.request.urlopen(f"{endpoints['api']}/v1/movies?provider=sample&limit=1").read()
        )
        assert page["total"] == 300 and len(page["items"]) == 1
        exports = subprocess.run(
            [sys.executable, "-m", "moviestore.cli", "env", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"export MOVIESTORE_S3_BUCKET={endpoints['bucket']}" in exports
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]

        again = start(state, log)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                new = orjson.loads(endpoints_file.read_bytes())
                if new["database_url"] != endpoints["database_url"]:
                    break
                time.sleep(0.5)
            with psycopg.connect(new["database_url"]) as c:
                row = c.execute(
                    "SELECT count(*) FROM movies WHERE source_key LIKE 'providers/sample/%'"
                ).fetchone()
            assert row is not None and row[0] >= 300  # the data survived the restart
            again.send_signal(signal.SIGINT)  # Ctrl-C: the same clean stop, reported as such
            assert again.wait(60) == 130
            assert log.read_text().rstrip().endswith("moviestore dev: interrupted")
        finally:
            if again.poll() is None:
                again.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
        LocalStack(state).destroy()


def children(pid: int, command: str) -> list[int]:
    """The child processes of ``pid`` running ``moviestore <command>``."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if cmdline[-2:] == [command.encode(), b""]:
            found.append(int(child))
    return found


def wait_up(proc: subprocess.Popen[bytes], state: Path, log: Path, after: float) -> dict[str, str]:
    """The endpoints once ``moviestore dev`` has written them (after ``after``)."""
    endpoints_file = state / "endpoints.json"
    deadline = time.monotonic() + 120
    while not (endpoints_file.exists() and endpoints_file.stat().st_mtime > after):
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return dict(orjson.loads(endpoints_file.read_bytes()))


def upload(endpoints: dict[str, str], key: str, movies: int) -> None:
    env = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    with set_env(env):
        clients = Clients(REGION, endpoints["aws_endpoint"])
    body = b"\n".join(
        orjson.dumps({"id": f"{key}-{i}", "title": f"T{i}", "year": 2001}) for i in range(movies)
    )
    clients.s3.put_object(Bucket=endpoints["bucket"], Key=key, Body=body)


def ingestion(url: str, key: str) -> tuple[str, int, int] | None:
    """(status, attempts, movies) of the key's ingestion, None if it has none yet."""
    with psycopg.connect(url) as c:
        row = c.execute(
            "SELECT status, attempts, (SELECT count(*) FROM movies WHERE source_key = %s)"
            " FROM ingestions WHERE key = %s",
            (key, key),
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def test_a_killed_worker_is_restarted_and_redis_wants_its_password(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "dev.log"
    proc = start(state, log, "--no-samples")
    try:
        endpoints = wait_up(proc, state, log, 0)
        [worker] = children(proc.pid, "worker")
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while children(proc.pid, "worker") in ([], [worker]):
            assert proc.poll() is None, log.read_text()[-3000:]  # the platform stays up
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        # The killed worker's long poll outlives it in moto and would take the next message
        # for a visibility timeout (as SQS would): let it end first.
        time.sleep(21)
        upload(endpoints, "providers/dev/after-restart.ndjson", 50)
        deadline = time.monotonic() + 90
        while ingestion(endpoints["database_url"], "providers/dev/after-restart.ndjson") is None:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        wait_for_statuses(endpoints["database_url"],
                          {("providers/dev/after-restart.ndjson", "loaded")}, 60)  # fmt: skip
        assert ingestion(endpoints["database_url"], "providers/dev/after-restart.ndjson") == (
            "loaded", 1, 50)  # fmt: skip
        # As ElastiCache: no password, no answers to read or write.
        port = int(endpoints["redis_url"].rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).set("moviestore:answer:x", b"forged")
        assert redis.Redis.from_url(endpoints["redis_url"]).ping()

        # A provider waits for its outcome (the API's ingestions endpoint) and gets its exit code.
        # Its ingestions need its own key: none, or another provider's, is a clear refusal.
        env = {**os.environ, **Endpoints(**endpoints).settings_env()}
        env.pop("MOVIESTORE_API_KEY", None)
        whole = tmp_path / "whole.ndjson"
        whole.write_bytes(b"\n".join(orjson.dumps({"id": f"w{i}", "title": f"W{i}",
                                                   "year": 2002}) for i in range(10)))  # fmt: skip
        done = moviestore("upload", "--provider", "waits", whole, "--wait", env=env)
        assert done.returncode == 2 and "MOVIESTORE_API_KEY" in done.stderr, done.stderr
        other = tmp_path / "other.key"
        other.write_text(new_key(env, "others"))
        done = moviestore("upload", "--provider", "waits", whole, "--wait",
                          "--api-key-file", other, env=env)  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert "refused" in done.stderr and "403" in done.stderr, done.stderr
        env["MOVIESTORE_API_KEY"] = new_key(env, "waits")
        done = moviestore("upload", "--provider", "waits", whole, "--wait", env=env)
        assert done.returncode == 0 and "loaded" in done.stdout, done.stdout + done.stderr
        partial = tmp_path / "partial.ndjson"
        partial.write_bytes(b'{"id": "w1", "title": "W1", "year": 2002}\n{"id": "w2"}\n')
        done = moviestore("upload", "--provider", "waits", partial, "--wait", env=env)
        assert done.returncode == 1 and "partially_loaded" in done.stdout, done.stdout
        assert "required" in done.stdout and "full report: http" in done.stdout
        done = moviestore("upload", "--provider", "waits", "--snapshot", "--name", "s.ndjson",
                          partial, "--wait", env=env)  # fmt: skip
        # It has an invalid record: it withdraws nothing by absence (not held, partly loaded).
        assert done.returncode == 1, done.stdout
        tiny = tmp_path / "tiny.ndjson"
        tiny.write_bytes(b'{"id": "w1", "title": "W1", "year": 2002}\n')
        done = moviestore("upload", "--provider", "waits", "--snapshot", tiny, "--wait", env=env)
        assert done.returncode == 2 and "held" in done.stdout, done.stdout  # 9 of 10 withdrawn
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0, log.read_text()[-3000:]
        LocalStack(state).destroy()


def test_an_upload_queued_when_the_platform_stops_is_ingested_when_it_starts_again(
    tmp_path: Path,
) -> None:
    state, log = tmp_path / "state", tmp_path / "dev.log"
    key = "providers/dev/queued.ndjson"
    proc = start(state, log, "--no-samples", "--no-worker")  # the upload waits in the queue
    try:
        endpoints = wait_up(proc, state, log, 0)
        upload(endpoints, key, 30)
        time.sleep(1)
        assert ingestion(endpoints["database_url"], key) is None  # queued, not ingested
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0, log.read_text()[-3000:]
        started = time.time()
        proc = start(state, log, "--no-samples")
        endpoints = wait_up(proc, state, log, started)
        wait_for_statuses(endpoints["database_url"], {(key, "loaded")}, 90)
        assert ingestion(endpoints["database_url"], key) == ("loaded", 1, 30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(90) == 0, log.read_text()[-3000:]
        LocalStack(state).destroy()


def new_key(env: dict[str, str], provider: str) -> str:
    """A new API key of ``provider``, made as an operator makes one."""
    # Its rate leaves room for the readiness checks below and the waits that follow.
    made = moviestore("keys", "create", "--name", f"{provider} uploads", "--provider", provider,
                      "--rate", "200/s", env=env)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    key: str = orjson.loads(made.stdout)["key"]
    # Every API process reads new keys within MOVIESTORE_API_KEY_POLL_SECONDS (1 s).
    url = f"{env['MOVIESTORE_API_URL']}/v1/providers/{provider}/ingestions"
    deadline = time.monotonic() + 5
    while True:
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
            if all(urllib.request.urlopen(request, timeout=5).status == 200 for _ in range(6)):
                return key
        except urllib.error.HTTPError as e:
            assert e.code == 401 and time.monotonic() < deadline, f"{e.code}: the key is unread"
        time.sleep(0.2)
