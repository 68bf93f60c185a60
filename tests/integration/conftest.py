"""Real services for integration tests: one local stack (PostgreSQL, Redis, moto) per session.

Started by the tests themselves, never assumed: when a service cannot start, the tests fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from moviestore.aws.clients import Clients
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env
from moviestore.store.migrate import migrate
from moviestore.store.pool import ConnectionPool, open_pool


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Endpoints]]:
    stack = LocalStack(tmp_path_factory.mktemp("stack"))
    endpoints = stack.start(visibility_timeout=30)
    try:
        yield stack, endpoints
    finally:
        stack.destroy()


@pytest.fixture(scope="session")
def endpoints(local_stack: tuple[LocalStack, Endpoints]) -> Iterator[Endpoints]:
    with set_env(local_stack[1].settings_env()):
        yield local_stack[1]


@pytest.fixture(scope="session")
def pool(endpoints: Endpoints) -> Iterator[ConnectionPool]:
    """Connections for the ingestion code under test, as the worker's composition root makes
    them (``moviestore.store.pool``)."""
    pool = open_pool(endpoints.database_url, 8, "moviestore-tests")
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def clients(endpoints: Endpoints) -> Clients:
    return Clients(REGION, endpoints.aws_endpoint)


@pytest.fixture
def db(endpoints: Endpoints) -> Iterator[psycopg.Connection]:
    """The catalog database, migrated and emptied for the test."""
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url, autocommit=True) as c:
        c.execute(
            "TRUNCATE movies, ingestions, catalog_versions, catalog_changes, catalog_change_rows"
            " RESTART IDENTITY CASCADE"
        )
        yield c


@pytest.fixture
def state_dir(local_stack: tuple[LocalStack, Endpoints]) -> Path:
    return local_stack[0].state
