"""A 1 GB file goes through ``moviestore worker`` in bounded memory.

The file is written to disk as it is generated and uploaded from there; its records carry long
extracts (40-60 kB) so that 1 GB is about 22,800 rows and the test takes two minutes or so, not
the ten a catalog of short records would. The worker runs as its own process; its peak RSS is
read from ``/proc/PID/status`` (``VmHWM``) before it stops.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
from boto3.s3.transfer import TransferConfig

from moviestore.aws.clients import Clients
from moviestore.localstack.processes import free_port
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.store.migrate import migrate

SIZE = 1 << 30
MAX_RSS_MB = 300
WORDS = ["the", "film", "story", "city", "war", "love", "night", "secret", "river", "king", "ship"]


def write_catalog(path: Path, size: int, seed: int = 20240917) -> int:
    """NDJSON of about ``size`` bytes with long extracts, streamed to disk; the record count."""
    rng = random.Random(seed)
    # A pool of extracts, each used by many records: generating 1 GB of fresh text would
    # dominate the test's time. Titles and ids differ, so every record is its own movie.
    extracts = [
        " ".join(rng.choices(WORDS, k=rng.randint(7_000, 10_000))).capitalize() + "."
        for _ in range(64)
    ]
    written = count = 0
    with path.open("wb") as out:
        while written < size:
            movie = {
                "title": f"Large {count} {rng.choice(WORDS)}",
                "year": 1900 + count % 120,
                "id": f"large-{count}",
                "cast": [f"Actor {rng.randint(1, 5000)}" for _ in range(rng.randint(0, 6))],
                "genres": rng.sample(["Drama", "Comedy", "War", "Romance", "Crime"], 2),
                "extract": extracts[count % len(extracts)],
            }
            line = orjson.dumps(movie) + b"\n"
            out.write(line)
            written += len(line)
            count += 1
    return count


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "large.ndjson"
    records = write_catalog(path, SIZE)
    yield path, records
    path.unlink()


def test_a_1gb_file_goes_through_the_worker_in_bounded_memory(
    endpoints: Endpoints, catalog: tuple[Path, int], tmp_path: Path
) -> None:
    path, records = catalog
    migrate(endpoints.database_url)
    clients = Clients(REGION, endpoints.aws_endpoint)
    key = "providers/large/catalog-1gb.ndjson"
    clients.s3.upload_file(
        str(path), endpoints.bucket, key, Config=TransferConfig(multipart_chunksize=64 << 20)
    )

    env = {
        **os.environ,
        "MOVIESTORE_METRICS_PORT": str(free_port()),
        "MOVIESTORE_SQS_WAIT_SECONDS": "1",
        "MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS": "120",
        # 2,000 documents of 50 kB still go through the duties' pipelines; all 22,800 would
        # put 1.2 GB in the test's Redis.
        "MOVIESTORE_CACHE_WARM_MAX_DOCUMENTS": "2000",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "worker"], env=env, stdout=log, stderr=log
    )
    started = time.monotonic()
    try:
        status = None
        while time.monotonic() - started < 600 and worker.poll() is None:
            with psycopg.connect(endpoints.database_url) as c:
                row = c.execute(
                    "SELECT status, notified_at IS NOT NULL, records_valid, bytes"
                    " FROM ingestions WHERE key = %s",
                    (key,),
                ).fetchone()
            if row is not None and row[0] != "processing" and row[1]:
                status = row
                break
            time.sleep(1)
        rss = peak_rss_mb(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        log.close()
    print(f"1 GB through the worker: {time.monotonic() - started:.0f} s, peak RSS {rss:.0f} MB")
    assert status == ("loaded", True, records, path.stat().st_size)
    with psycopg.connect(endpoints.database_url) as c:
        rows = c.execute("SELECT count(*) FROM movies WHERE provider = 'large'").fetchone()
    assert rows == (records,)
    assert rss < MAX_RSS_MB
