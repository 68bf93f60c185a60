"""``moviestore dev``: the local platform comes up with sample data, stops cleanly, restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import psycopg

from moviestore.localstack.stack import LocalStack


def start(state: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "dev", "--state-dir", str(state)],
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
