"""What the API answers, independent of the web framework: each answer comes from Redis when
another process already computed it, else from PostgreSQL (one query per key at a time), and
is stored in Redis for the others. The routes in ``app.py`` add the in-process cache in front."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from moviestore.api import metrics, queries
from moviestore.api.cache import Answer, LocalCache, SharedCache, SingleFlight
from moviestore.api.cursor import Cursors
from moviestore.api.params import SORTS, MovieQuery
from moviestore.api.problems import Problem, not_found
from moviestore.api.search_index import SearchIndexes
from moviestore.catalog.keys import answer_key, movie_key
from moviestore.settings import Settings, cursor_secret

MAX_COUNTS = 10_000


class Catalog:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.local = LocalCache(
            settings.api_memory_cache_entries,
            settings.api_memory_cache_mb << 20,
            settings.cache_ttl_seconds,
        )
        self.shared = SharedCache(
            settings.redis_url.get_secret_value(),
            settings.redis_timeout_seconds,
            settings.cache_ttl_seconds,
        )
        self.flights = SingleFlight()
        self.cursors = Cursors(cursor_secret(settings))
        self.counts: dict[tuple[int | None, str], int] = {}
        self.indexes = SearchIndexes(
            self.query_url, settings.api_search_index, lambda: self.local.version
        )
        self.pool: AsyncConnectionPool[Any] | None = None

    @property
    def query_url(self) -> str:
        """Queries (and the catalog version that keys their answers) come from the read
        replica when there is one: its version always matches its rows."""
        url = self.settings.database_read_url or self.settings.database_url
        return url.get_secret_value()

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(
            self.query_url,
            min_size=1,
            max_size=self.settings.database_pool_size,
            timeout=max(1.0, self.settings.statement_timeout_ms / 1000),
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "options": session_options(self.settings.statement_timeout_ms),
            },
            name="api",
            open=False,
        )
        # Not waiting: the API starts (and says "not ready") while PostgreSQL is unreachable.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        self.indexes.stop()
        if self.pool is not None:
            await self.pool.close(timeout=5)
        await self.shared.close()

    # --- answers -------------------------------------------------------------------------

    async def movies(self, q: MovieQuery) -> Answer:
        after = self.cursors.decode(q.cursor, q.sort, q.filters) if q.cursor else None
        version = self.local.version
        key = None if version is None else answer_key(version, "movies", q.digest)
        return await self.cached(key, lambda: self.movie_page(q, after))

    async def movie_page(self, q: MovieQuery, after: tuple[str | int, int] | None) -> Answer:
        """The matches come from the in-memory index when it is at the catalog version (and
        can place the cursor), else from PostgreSQL."""
        version = self.local.version
        found = await self.from_index(version, q, after)
        if found is not None:
            total, ids = found
            rows = await self.index_page(version, ids)
            if rows is not None:
                metrics.LIST_SOURCES["index"].inc()
                return self.page_answer(q, rows, total)
        metrics.LIST_SOURCES["database"].inc()
        return await self.database_page(q, after)

    async def from_index(
        self, version: int | None, q: MovieQuery, after: tuple[str | int, int] | None
    ) -> tuple[int, list[int]] | None:
        built = self.indexes.at(version)
        if built is None:
            return None
        title = None
        if q.title is not None:
            title = built.lowered(q.title)
            if title is None:
                title = (await self.fetch(queries.LOWER, {"text": q.title}))[0]["lower"]
        return built.search(q, title, after, q.limit + 1)

    async def index_page(self, version: int | None, ids: list[int]) -> list[dict[str, Any]] | None:
        """The page's rows in the index's order, read with the catalog version they are of;
        ``None`` if that is not the index's version any more (an ingestion committed since:
        a movie of the page may have changed or gone, and the database must answer)."""
        if not ids:
            return []
        rows = await self.fetch(queries.MOVIES_BY_ID, {"ids": ids})
        versions = {row.pop("catalog_version") for row in rows}
        found = [row for row in rows if row["id"] is not None]  # none found: one NULL row
        if versions != {version} or len(found) != len(ids):
            return None
        place = {movie_id: i for i, movie_id in enumerate(ids)}
        found.sort(key=lambda row: place[row["id"]])
        return found

    async def database_page(self, q: MovieQuery, after: tuple[str | int, int] | None) -> Answer:
        """Totals are counted once per filters and catalog version (a pagination walk counts
        once), and kept under the version they were counted at, read before the count."""
        up_to = self.settings.api_sort_matches_up_to
        count_key = (self.local.version, q.filters)
        total = self.counts.get(count_key)
        if up_to and (total is None or total <= up_to) and queries.filtered(q):
            rows = await self.fetch(*queries.sorted_matches(q, after, up_to + 1))
            total = rows[0]["total"]  # there is always a row: see sorted_matches
            if total <= up_to:
                self.remember(count_key, total)
                for row in rows:
                    del row["total"]
                items = [] if rows[0]["id"] is None else rows  # an empty page: one NULL row
                return self.page_answer(q, items, total)
            total = None  # at least up_to + 1: counted below
        if total is None:
            total = int((await self.fetch(*queries.count(q)))[0]["count"])
            self.remember(count_key, total)
        return self.page_answer(q, await self.fetch(*queries.walk(q, after)), total)

    def page_answer(self, q: MovieQuery, rows: list[dict[str, Any]], total: int) -> Answer:
        more = len(rows) > q.limit
        items = rows[: q.limit]
        cursor = None
        if more:
            last = items[-1]
            cursor = self.cursors.encode(q.sort, q.filters, last[SORTS[q.sort][0]], last["id"])
        return Answer.of(orjson.dumps({"items": items, "next_cursor": cursor, "total": total}))

    def remember(self, key: tuple[int | None, str], total: int) -> None:
        if key[0] is None:  # the catalog version is not known yet
            return
        if len(self.counts) >= MAX_COUNTS:
            self.counts.clear()
        self.counts[key] = total

    async def movie(self, movie_id: int) -> Answer:
        version = self.local.version
        key = None if version is None else movie_key(version, movie_id)

        async def compute() -> Answer:
            rows = await self.fetch(queries.MOVIE, {"id": movie_id})
            if not rows:
                raise not_found(f"no movie has id {movie_id}")
            return Answer.of(orjson.dumps(rows[0]))

        return await self.cached(key, compute)

    async def genres(self) -> Answer:
        version = self.local.version
        key = None if version is None else answer_key(version, "genres", "all")

        async def compute() -> Answer:
            return Answer.of(orjson.dumps({"items": await self.fetch(queries.GENRES, {})}))

        return await self.cached(key, compute)

    async def ingestions(self, provider: str, limit: int) -> Answer:
        # Never cached: a file's status changes without the catalog changing (a rejection).
        rows = await self.fetch(queries.INGESTIONS, {"provider": provider, "limit": limit})
        bucket = self.settings.s3_bucket
        for row in rows:
            key = row["report_key"]
            row["report_url"] = f"s3://{bucket}/{key}" if key else None
        return Answer.of(orjson.dumps({"provider": provider, "items": rows}))

    # --- plumbing ------------------------------------------------------------------------

    async def cached(self, key: str | None, compute: Callable[[], Awaitable[Answer]]) -> Answer:
        if key is None:  # the catalog version is not known yet: nothing can be cached
            return await compute()

        async def fill() -> Answer:
            body = await self.shared.get(key)
            if body is not None:
                return Answer.of(body)
            answer = await compute()
            await self.shared.put(key, answer.body)
            return answer

        return await self.flights.run(key, fill)

    async def fetch(self, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.pool is None:
            raise unavailable("the database pool is not open")
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(query, params)
                rows: list[dict[str, Any]] = await cursor.fetchall()
        except psycopg.errors.QueryCanceled:
            raise unavailable(
                f"the query ran longer than {self.settings.statement_timeout_ms} ms"
            ) from None
        except (PoolTimeout, psycopg.OperationalError) as e:
            raise unavailable(f"the catalog database is unreachable ({type(e).__name__})") from e
        finally:
            self.record_pool()
        return rows

    def record_pool(self) -> None:
        if self.pool is None:
            return
        stats = self.pool.get_stats()
        metrics.POOL_STATES["open"].set(stats.get("pool_size", 0))
        metrics.POOL_STATES["idle"].set(stats.get("pool_available", 0))
        metrics.POOL_STATES["waiting"].set(stats.get("requests_waiting", 0))

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        database = await self.database_up()
        redis = await self.shared.ping()
        status = ("ready" if redis else "degraded") if database else "unavailable"
        return database, {
            "status": status,
            "postgres": "up" if database else "down",
            "redis": "up" if redis else "down",
            "catalog_version": self.local.version,
            "search_index": self.indexes.state(),
        }

    async def database_up(self) -> bool:
        if self.pool is None:
            return False
        try:
            async with self.pool.connection(timeout=1) as conn:
                await conn.execute("SELECT 1")
        except (PoolTimeout, psycopg.Error):
            return False
        return True


def session_options(statement_timeout_ms: int) -> str:
    """The settings of the API's database sessions. Plans are made for the values at hand: a
    generic plan cannot tell a rare cast member from a common genre, and walks the whole title
    index to fill a page."""
    return f"-c statement_timeout={statement_timeout_ms} -c plan_cache_mode=force_custom_plan"


def unavailable(detail: str) -> Problem:
    return Problem(503, "unavailable", detail)
