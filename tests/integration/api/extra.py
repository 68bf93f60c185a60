"""API processes of a test's own, over the shared test catalog and a Redis database no other
suite uses."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import requests

from moviestore.localstack.processes import Server
from moviestore.localstack.stack import Endpoints, LocalStack
from tests.integration.api.catalog import Movie
from tests.integration.api.conftest import api_env, samples, start_api


@dataclass
class Extra:
    """An API process of a test's own."""

    server: Server
    url: str
    movies: list[Movie]
    database: str

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def readiness(self) -> tuple[int, dict[str, Any]]:
        response = self.get("/readyz")
        return response.status_code, response.json()

    def cache_counts(self) -> dict[tuple[str, str], float]:
        """The API's cache counters (every server process's) by layer and result."""
        found = samples(self.url, "moviestore_api_cache_total")
        return {(labels["layer"], labels["result"]): value for labels, value in found}

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.server.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


def current_movies(database_url: str) -> list[Movie]:
    """The catalog as it is now: other suites add movies to the shared test database."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute('SELECT id, provider, title, year, genres, "cast" FROM movies')
        return [Movie(*row) for row in rows.fetchall()]


def extra_api(
    stack: LocalStack, endpoints: Endpoints, database: tuple[str, list[Movie]], redis_url: str,
    env: dict[str, str] | None = None,
) -> Extra:  # fmt: skip
    """``env``: settings beside (or instead of) the test APIs' own."""
    name = f"api-{uuid.uuid4().hex[:8]}"
    settings = {**api_env(endpoints, database[0], redis_url), **(env or {})}
    server, url = start_api(stack.state, name, settings)
    return Extra(server, url, current_movies(database[0]), database[0])


def spare_redis_db(endpoints: Endpoints, db: int) -> str:
    """A database of the stack's Redis that no other suite uses: nothing cached beforehand."""
    return endpoints.redis_url.rsplit("/", 1)[0] + f"/{db}"
