"""What a gate runs against when given no host: the local stack, the ingestion worker and the
API as child processes, and a generated catalog loaded the way a provider's is (S3 → worker)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

from moviestore.aws.clients import Clients
from moviestore.bench import repo_path
from moviestore.commands.dev import start
from moviestore.localstack.processes import StackError, free_port, port_open, wait_until
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env
from moviestore.store.migrate import migrate

GENERATOR = repo_path("benchmarks/generate.py")
PROVIDER = "bench"
LOADED = ("loaded", "partially_loaded")
NOT_LOADED = ("rejected", "failed", "held", "superseded", "discarded")

Say = Callable[[str], None]


@dataclass(frozen=True)
class Platform:
    endpoints: Endpoints
    api_url: str
    state: Path

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach this platform (the provider scenario: S3)."""
        return self.endpoints.settings_env()


@contextlib.contextmanager
def local_platform(state: Path, catalog_size: int, say: Say) -> Iterator[Platform]:
    """Everything up and the catalog ingested; stopped (state kept) when the block ends."""
    stack = LocalStack(state)
    say(f"starting the local stack in {stack.state}")
    endpoints = stack.start()
    try:
        migrate(endpoints.database_url)
        metrics_port, api_port = free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        endpoints = replace(endpoints, api=api_url)
        # The same processes as `moviestore dev`, started the same way.
        worker = start(stack, "worker", endpoints, MOVIESTORE_METRICS_PORT=str(metrics_port))
        api = start(stack, "api", endpoints, MOVIESTORE_API_PORT=str(api_port))
        wait_until(lambda: port_open(metrics_port), 30, "the worker", worker.server)
        wait_until(lambda: port_open(api_port), 60, "the API", api.server)
        catalog = generate_catalog(stack.state, catalog_size, say)
        load_catalog(endpoints, catalog, say)
        wait_until(lambda: ready(api_url), 30, "the API's /readyz", api.server)
        say(f"the API is ready at {api_url}")
        yield Platform(endpoints, api_url, stack.state)
    finally:
        say("stopping the local platform")
        stack.stop()


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def generate_catalog(state: Path, records: int, say: Say) -> Path:
    path = state / f"catalog-{records}.ndjson"
    if not path.exists():
        say(f"generating a catalog of {records:,} movies")
        subprocess.run(
            [sys.executable, str(GENERATOR), "--records", str(records), "-o", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def load_catalog(endpoints: Endpoints, catalog: Path, say: Say, timeout: float = 0) -> None:
    """Upload ``catalog`` for provider ``bench`` and wait until the worker has committed it."""
    key = f"providers/{PROVIDER}/{catalog.name}"
    with set_env(endpoints.settings_env()):
        Clients(REGION, endpoints.aws_endpoint).s3.upload_file(str(catalog), endpoints.bucket, key)
    say(f"uploaded {catalog.stat().st_size / 1e6:.1f} MB to s3://{endpoints.bucket}/{key}")
    # The worker validates and loads hundreds of thousands of records a second; the rest is
    # moto, SQS polling and the commit.
    timeout = timeout or 60 + catalog.stat().st_size / 2e6
    started = time.monotonic()
    status = None
    while time.monotonic() - started < timeout:
        status, valid = ingestion(endpoints.database_url, key)
        if status in LOADED:
            took = time.monotonic() - started
            say(f"the worker loaded {valid:,} movies in {took:.1f} s ({status})")
            return
        if status in NOT_LOADED:
            raise StackError(f"the catalog was {status}; see the worker's log")
        time.sleep(0.5)
    raise StackError(f"the catalog was not loaded after {timeout:.0f} s (status: {status})")


def ingestion(database_url: str, key: str) -> tuple[str | None, int]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, coalesce(records_valid, 0) FROM ingestions WHERE key = %s"
            " ORDER BY id DESC LIMIT 1",
            (key,),
        ).fetchone()
    return (str(row[0]), int(row[1])) if row else (None, 0)
