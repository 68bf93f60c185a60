"""The API under test: `moviestore api` as a real process (two server processes) over a
database of its own with a known catalog, and Redis database 1 (other suites use 0)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from moviestore.api.keys import digest, new_key
from moviestore.localstack.processes import Server, free_port
from moviestore.localstack.stack import Endpoints, LocalStack
from moviestore.store import keys as stored
from tests.integration.api.catalog import Movie, create_database, generate, load

CATALOG_SIZE = 600


@dataclass
class Api:
    url: str
    server: Server
    database_url: str
    redis_url: str
    movies: list[Movie]
    plan: str
    processes: int

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)


def start_api(state: Path, name: str, env: dict[str, str]) -> tuple[Server, str]:
    port = free_port()
    server = Server(
        name,
        [sys.executable, "-m", "moviestore.cli", "api"],
        state / "logs" / f"{name}.log",
        env={**env, "MOVIESTORE_API_PORT": str(port), "MOVIESTORE_API_HOST": "127.0.0.1"},
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert not server.exited(), server.tail()
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return server, url
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the API did not become ready:\n{server.tail()}")


def await_search_indexes(url: str, processes: int, server: Server | None = None) -> None:
    """Until every server process holds its in-memory index (each builds its own)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if metric(url, "moviestore_api_search_index_processes") == processes:
            return
        time.sleep(0.1)
    tail = server.tail(40) if server is not None else ""
    raise AssertionError(
        f"{processes} processes did not build their search indexes in 30 s\n{tail}"
    )


def samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The labels and value of each sample named ``name`` in the API's /metrics."""
    text = requests.get(url + "/metrics", timeout=5).text
    return [
        (sample.labels, float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of the samples named ``name`` (with these labels, if given)."""
    return sum(v for got, v in samples(url, name) if labels is None or got == labels)


def api_env(endpoints: Endpoints, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **endpoints.settings_env(),
        "MOVIESTORE_DATABASE_URL": database_url,
        "MOVIESTORE_REDIS_URL": redis_url,
        "MOVIESTORE_API_PROCESSES": "2",
        "MOVIESTORE_API_VERSION_POLL_SECONDS": "0.2",
        "MOVIESTORE_API_SHUTDOWN_GRACE_SECONDS": "10",
        # The query tests ask without a key (as `moviestore dev` allows), as fast as they
        # can; test_api_keys.py and the schemathesis run have APIs that need keys.
        "MOVIESTORE_API_ANONYMOUS_READS": "true",
    }


def make_key(database_url: str, name: str, provider: str | None = None, rate: int = 1_000_000
             ) -> str:  # fmt: skip
    """A new key, as ``moviestore keys create`` makes it (test_api_keys.py runs the command)."""
    key_id, key = new_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored.create(conn, key_id=key_id, secret_sha256=digest(key), name=name,
                      provider=provider, rate=rate)  # fmt: skip
    return key


PROVIDER_KEYS: dict[tuple[str, str], dict[str, str]] = {}


def provider_key(api: Api, provider: str) -> dict[str, str]:
    """The headers of a key of ``provider``'s (made once per API), read by every process."""
    found = PROVIDER_KEYS.get((api.url, provider))
    if found is not None:
        return found
    headers = {"Authorization": f"Bearer {make_key(api.database_url, provider, provider)}"}
    path = f"/v1/providers/{provider}/ingestions"
    deadline = time.monotonic() + 5
    while not all(api.get(path, headers=headers).ok for _ in range(10)):
        assert time.monotonic() < deadline, "the API processes did not read the new key in 5 s"
        time.sleep(0.1)
    PROVIDER_KEYS[api.url, provider] = headers
    return headers


def keyed_env(env: dict[str, str]) -> dict[str, str]:
    """An API that answers no request without a key."""
    return {**env, "MOVIESTORE_API_ANONYMOUS_READS": "false"}


@pytest.fixture(scope="session")
def api_database(local_stack: tuple[LocalStack, Endpoints]) -> tuple[str, list[Movie]]:
    url = create_database(local_stack[1].database_url, "moviestore_api_tests")
    return url, load(url, generate(CATALOG_SIZE))


# Every plan of a page (api.service.Catalog). "search-index": the matches found in memory
# (api/search_index.py; PostgreSQL only for what it cannot answer), the default. Then
# PostgreSQL alone: "sorted-matches", every filtered page from its matches, found once,
# counted and sorted; "mixed", up to 3 matches the same, more found to be too many by that
# statement, then counted, and met by walking the sort order's index, as is every page without
# filters in both.
PLANS = {
    "search-index": {"MOVIESTORE_API_SEARCH_INDEX": "true"},
    "sorted-matches": {"MOVIESTORE_API_SEARCH_INDEX": "false",
                       "MOVIESTORE_API_SORT_MATCHES_UP_TO": "10000"},
    "mixed": {"MOVIESTORE_API_SEARCH_INDEX": "false", "MOVIESTORE_API_SORT_MATCHES_UP_TO": "3"},
}  # fmt: skip


@pytest.fixture(scope="session", params=list(PLANS))
def api(
    request: pytest.FixtureRequest,
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
) -> Iterator[Api]:
    stack, endpoints = local_stack
    database_url, movies = api_database
    redis_url = endpoints.redis_url.rsplit("/", 1)[0] + "/1"
    env = api_env(endpoints, database_url, redis_url)
    env.update(PLANS[request.param])
    server, url = start_api(stack.state, f"api-{request.param}", env)
    processes = int(env["MOVIESTORE_API_PROCESSES"])
    try:
        if request.param == "search-index":
            await_search_indexes(url, processes, server)
        yield Api(url, server, database_url, redis_url, movies, request.param, processes)
    finally:
        server.stop()
