"""The SQL of every answer, composed from fixed fragments and bound parameters: no value is
ever pasted into query text. Each filter maps to an index (see migrations)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from moviestore.api.params import SORTS, MovieQuery
from moviestore.catalog.documents import SELECT_COLUMNS

CONDITIONS = {
    "title": "m.title ILIKE %(title)s",  # pg_trgm GIN
    "year": "m.year = %(year)s",  # btree (year, id)
    "year_from": "m.year >= %(year_from)s",
    "year_to": "m.year <= %(year_to)s",
    "genres": "m.genres @> %(genres)s::text[]",  # GIN on the array
    "cast": 'm."cast" @> %(cast)s::text[]',
    "provider": "m.provider = %(provider)s",
}


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern; the client's ``%``, ``_`` and ``\\`` are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filters(q: MovieQuery) -> tuple[list[sql.Composable], dict[str, Any]]:
    values: dict[str, Any] = {
        "title": like_pattern(q.title) if q.title is not None else None,
        "year": q.year,
        "year_from": q.year_from,
        "year_to": q.year_to,
        "genres": list(q.genres) or None,
        "cast": list(q.cast) or None,
        "provider": q.provider,
    }
    present = {k: v for k, v in values.items() if v is not None}
    return [sql.SQL(CONDITIONS[k]) for k in present], present


def where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


def page(
    q: MovieQuery, after: tuple[str | int, int] | None, total: int, sort_up_to: int
) -> tuple[sql.Composed, dict[str, Any]]:
    """One page in keyset order, plus one row that tells whether another page follows.
    ``total`` (the number of matches, counted first) picks the plan: up to ``sort_up_to``
    matches are sorted, more are met by walking the sort order's index."""
    conditions, params = filters(q)
    few = bool(conditions) and total <= sort_up_to
    column, descending = SORTS[q.sort]
    key = sql.Identifier("m", column)
    if after is not None:
        conditions.append(
            sql.SQL("({key}, m.id) {op} (%(after_value)s, %(after_id)s)").format(
                key=key, op=sql.SQL("<" if descending else ">")
            )
        )
        params["after_value"], params["after_id"] = after
    direction = sql.SQL("DESC" if descending else "ASC")
    if not few:
        source = sql.SQL("movies m {where}").format(where=where(conditions))
    else:
        # The planner cannot tell how many movies the filters match (a title substring least of
        # all); guessing "many", it walks the sort order's index and filters, which for rare
        # matches reads most of the table (320 ms for 283 title matches of 300,000). We know
        # the count: few matches are found first, by id only so that an index-only scan can do
        # it (OFFSET 0 keeps the planner from merging the subquery back), then fetched and
        # sorted; many are met early by the walk.
        source = sql.SQL(
            "(SELECT m.id FROM movies m {where} OFFSET 0) AS f JOIN movies m ON m.id = f.id"
        ).format(where=where(conditions))
    query = sql.SQL(
        "SELECT {columns} FROM {source} ORDER BY {key} {dir}, m.id {dir} LIMIT %(limit)s"
    ).format(columns=SELECT_COLUMNS, source=source, key=key, dir=direction)
    params["limit"] = q.limit + 1
    return query, params


def count(q: MovieQuery) -> tuple[sql.Composed, dict[str, Any]]:
    conditions, params = filters(q)
    return sql.SQL("SELECT count(*) FROM movies m {where}").format(where=where(conditions)), params


MOVIE = sql.SQL("SELECT {columns} FROM movies m WHERE m.id = %(id)s").format(columns=SELECT_COLUMNS)

GENRES = sql.SQL(
    "SELECT g AS genre, count(*) AS count FROM movies m, unnest(m.genres) AS g"
    " GROUP BY g ORDER BY count(*) DESC, g"
)

INGESTION_COLUMNS = (
    "id", "bucket", "key", "version", "status", "attempts", "bytes", "records_total",
    "records_valid", "records_invalid", "duplicates_collapsed", "rows_inserted", "rows_updated",
    "error_counts", "error_summary", "report_key", "started_at", "finished_at",
)  # fmt: skip
INGESTIONS = sql.SQL(
    "SELECT {columns} FROM ingestions WHERE provider = %(provider)s"
    " ORDER BY started_at DESC, id DESC LIMIT %(limit)s"
).format(columns=sql.SQL(", ").join(map(sql.Identifier, INGESTION_COLUMNS)))

CATALOG_VERSION = sql.SQL("SELECT version FROM catalog_state")
