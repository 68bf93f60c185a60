"""What the API answers, independent of HTTP and of caching: each answer computed at one
``View`` (the process's catalog version and its search index).

A list page: the matches from the search index at the view's version, the page's rows read by
id together with the catalog version they are of, the bytes. If PostgreSQL is already at a newer
version (a commit the follower has yet to apply: milliseconds), the page waits for the follower
and is found again in the newer index; without an index (off, or still being built), or if the
index cannot place the cursor, PostgreSQL finds the page, its total and its cursor in one
snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from moviestore.api import metrics
from moviestore.api.answer_cache import Answer
from moviestore.api.cursor import Cursors
from moviestore.api.database import Database, Rows
from moviestore.api.version import CatalogVersion, View
from moviestore.catalog.query import SORTS, MovieQuery
from moviestore.store import reads

After = tuple[str | int, int] | None
MAX_COUNTS = 10_000
# How long a page waits for the follower to apply a version PostgreSQL already has.
CATCH_UP_SECONDS = 1.0


class NotFound(Exception):  # noqa: N818 - what the client is told
    pass


class Gone(Exception):  # noqa: N818 - what the client is told
    """The movie was withdrawn by its provider."""


# (bucket, key) -> a presigned HTTPS link to that report.
ReportLinks = Callable[[str, str], str]


class Catalog:
    def __init__(
        self,
        database: Database,
        version: CatalogVersion,
        cursors: Cursors,
        *,
        sort_matches_up_to: int,
        report_links: ReportLinks,
        stale_after_seconds: float,
    ):
        self.database, self.version, self.cursors = database, version, cursors
        self.up_to = sort_matches_up_to
        self.report_links, self.stale_after = report_links, stale_after_seconds
        self.counts: dict[tuple[int, str], int] = {}

    # --- a list page -------------------------------------------------------------------------

    async def movies(self, q: MovieQuery, after: After, view: View) -> Answer:
        for _ in range(2):  # once more at most, after catching up with PostgreSQL
            found = await self.from_index(view, q, after)
            if found is None:
                break
            total, ids = found
            rows, version = await self.rows_by_id(ids)
            if version == view.version:
                metrics.LIST_SOURCES["index"].inc()
                return self.page(q, rows, total)
            newer = await self.version.reach(version, CATCH_UP_SECONDS)
            if newer is None:
                break
            view = newer
        metrics.LIST_SOURCES["database"].inc()
        return await self.database_page(q, after)

    async def from_index(
        self, view: View, q: MovieQuery, after: After
    ) -> tuple[int, list[int]] | None:
        built = view.index
        if built is None:
            return None
        title = None
        if q.title is not None:
            title = built.lowered(q.title)
            if title is None:
                title = (await self.database.fetch(reads.LOWER, {"text": q.title}))[0]["lower"]
        return built.search(q, title, after, q.limit + 1)

    async def rows_by_id(self, ids: list[int]) -> tuple[Rows, int]:
        """The page's rows in the index's order, and the catalog version they are of (rows
        of movies gone since are missing: that version is newer than the index's)."""
        rows = await self.database.fetch(reads.MOVIES_BY_ID, {"ids": ids or [0]})
        versions = {row.pop("catalog_version") for row in rows}
        version = max(versions)
        found = [row for row in rows if row["id"] is not None]  # none found: one NULL row
        place = {movie_id: i for i, movie_id in enumerate(ids)}
        found.sort(key=lambda row: place[row["id"]])
        return found, version

    async def database_page(self, q: MovieQuery, after: After) -> Answer:
        """The page, its total and its cursor in one snapshot. Totals are counted once per
        filters and catalog version (a pagination walk counts once)."""
        async with self.database.snapshot() as conn:
            version = await fetch_one(conn, reads.CATALOG_VERSION, {})
            key = (int(version["version"]), q.filters)
            total = self.counts.get(key)
            if self.up_to and (total is None or total <= self.up_to) and reads.filtered(q):
                statement, values = reads.sorted_matches(q, after, self.up_to + 1)
                rows: Rows = await (await conn.execute(statement, values)).fetchall()
                total = rows[0]["total"]  # there is always a row: see sorted_matches
                if total <= self.up_to:
                    self.remember(key, total)
                    for row in rows:
                        del row["total"]
                    items = [] if rows[0]["id"] is None else rows  # an empty page: one NULL row
                    return self.page(q, items, total)
                total = None  # at least up_to + 1: counted below
            if total is None:
                total = int((await fetch_one(conn, *reads.count(q)))["count"])
                self.remember(key, total)
            statement, values = reads.walk(q, after)
            return self.page(q, await (await conn.execute(statement, values)).fetchall(), total)

    def page(self, q: MovieQuery, rows: Rows, total: int) -> Answer:
        more = len(rows) > q.limit
        items = rows[: q.limit]
        cursor = None
        if more:
            last = items[-1]
            cursor = self.cursors.encode(q.sort, q.filters, last[SORTS[q.sort][0]], last["id"])
        if q.fields:
            items = [{name: row[name] for name in q.fields} for row in items]
        return Answer.of(orjson.dumps({"items": items, "next_cursor": cursor, "total": total}))

    def remember(self, key: tuple[int, str], total: int) -> None:
        if len(self.counts) >= MAX_COUNTS:
            self.counts.clear()
        self.counts[key] = total

    # --- the rest ----------------------------------------------------------------------------

    async def movie(self, movie_id: int) -> Answer:
        rows = await self.database.fetch(reads.MOVIE, {"id": movie_id})
        if not rows:
            withdrawn = await self.database.fetch(reads.WITHDRAWN, {"id": movie_id})
            if withdrawn:
                at = withdrawn[0]["withdrawn_at"].isoformat()
                raise Gone(f"movie {movie_id} was withdrawn by its provider at {at}")
            raise NotFound(f"no movie has id {movie_id}")
        return Answer.of(orjson.dumps(rows[0]))

    async def genres(self) -> Answer:
        return Answer.of(orjson.dumps({"items": await self.database.fetch(reads.GENRES, {})}))

    async def ingestions(self, provider: str, limit: int) -> Answer:
        rows = await self.database.fetch(
            reads.INGESTIONS,
            {"provider": provider, "limit": limit, "stale_after": self.stale_after},
        )
        for row in rows:
            key = row["report_key"]
            row["report_url"] = self.report_links(row["bucket"], key) if key else None
        return Answer.of(orjson.dumps({"provider": provider, "items": rows}))


async def fetch_one(conn: Any, query: Any, params: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] | None = await (await conn.execute(query, params)).fetchone()
    if row is None:
        raise RuntimeError("a statement that always returns a row returned none")
    return row
