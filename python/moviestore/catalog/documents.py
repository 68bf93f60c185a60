"""The movie document: the one JSON shape of a movie, in the API's answers and in Redis.

Documents are built from rows selected with ``SELECT_COLUMNS`` (a psycopg ``dict_row`` gives
the document itself) and serialised by orjson (timestamps as RFC 3339).
"""

from __future__ import annotations

from psycopg import sql

COLUMNS = (
    "id",
    "provider",
    "provider_id",
    "title",
    "year",
    "genres",
    "cast",
    "href",
    "extract",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
    "updated_at",
)

SELECT_COLUMNS = sql.SQL(", ").join(sql.Identifier("m", c) for c in COLUMNS)
