"""The API's PostgreSQL: one async pool per server process, the statements of ``store.reads``,
and every failure as ``Unavailable`` (the HTTP layer makes it a 503).

A circuit breaker: once PostgreSQL is found unreachable, requests fail at once (503 with
``Retry-After``) instead of each waiting out the pool's timeout; one request a second goes
through as a probe, with a short wait, and the first that succeeds (or a readiness check that
does) closes the breaker."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from moviestore.api import metrics

Rows = list[dict[str, Any]]
# How the API's connections (its pools and followers) are named in pg_stat_activity.
APPLICATION = "moviestore-api"
# Known down: requests fail at once, but one a second goes through, waiting this long at most.
RETRY_SECONDS = 1.0
PROBE_SECONDS = 1.0


class Unavailable(Exception):  # noqa: N818 - what the client is told
    """PostgreSQL cannot answer now; the detail says why."""


class Database:
    def __init__(self, url: str, pool_size: int, statement_timeout_ms: int):
        self.url, self.timeout_ms = url, statement_timeout_ms
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=max(1.0, statement_timeout_ms / 1000),
            kwargs={
                "autocommit": True,
                "application_name": APPLICATION,
                "row_factory": dict_row,
                "options": session_options(statement_timeout_ms),
            },
            name="api",
            open=False,
        )
        self.down, self.retry_at, self.probing = False, 0.0, False

    async def open(self) -> None:
        # Not waiting: the API starts (and says "not ready") while PostgreSQL is unreachable.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    async def fetch(self, query: Any, params: dict[str, Any]) -> Rows:
        async with self.connection() as conn:
            cursor = await conn.execute(query, params)
            rows: Rows = await cursor.fetchall()
        return rows

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; every failure on it is ``Unavailable``."""
        probe = False
        if self.down:
            if self.probing or time.monotonic() < self.retry_at:
                metrics.DATABASE_FAST_FAILURES.inc()
                raise Unavailable("the catalog database is unreachable (tried again each second)")
            probe = self.probing = True
        try:
            async with self.pool.connection(timeout=PROBE_SECONDS if probe else None) as conn:
                yield conn
        except psycopg.errors.QueryCanceled:  # the database is there, the query too slow
            raise Unavailable(f"the query ran longer than {self.timeout_ms} ms") from None
        except (PoolTimeout, psycopg.OperationalError) as e:
            self.failed()
            raise Unavailable(f"the catalog database is unreachable ({type(e).__name__})") from e
        else:
            self.down = False
        finally:
            if probe:
                self.probing = False
            self.record_pool()

    def failed(self) -> None:
        self.down, self.retry_at = True, time.monotonic() + RETRY_SECONDS

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection in one REPEATABLE READ, read-only transaction: statements that make
        one answer together see one catalog version."""
        async with self.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def record_pool(self) -> None:
        stats = self.pool.get_stats()
        metrics.POOL_STATES["open"].set(stats.get("pool_size", 0))
        metrics.POOL_STATES["idle"].set(stats.get("pool_available", 0))
        metrics.POOL_STATES["waiting"].set(stats.get("requests_waiting", 0))

    async def up(self) -> bool:
        try:
            async with self.pool.connection(timeout=1) as conn:
                await conn.execute("SELECT 1")
        except (PoolTimeout, psycopg.Error):
            self.failed()
            return False
        self.down = False
        return True


def session_options(statement_timeout_ms: int) -> str:
    """The settings of the API's database sessions. Plans are made for the values at hand: a
    generic plan cannot tell a rare cast member from a common genre, and walks the whole title
    index to fill a page."""
    return f"-c statement_timeout={statement_timeout_ms} -c plan_cache_mode=force_custom_plan"
