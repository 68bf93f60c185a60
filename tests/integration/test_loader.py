"""The loader against a real PostgreSQL: whole files or nothing, idempotent upserts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest

from moviestore._validator import CatalogFileError, Validator
from moviestore.localstack.stack import Endpoints
from moviestore.store.loader import Loaded, TooManyInvalidError, load
from moviestore.store.migrate import migrate

PROVIDER = "acme"


@pytest.fixture
def conn(endpoints: Endpoints) -> Iterator[psycopg.Connection]:
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url) as c:
        c.execute("TRUNCATE movies, ingestions RESTART IDENTITY CASCADE")
        c.commit()
        yield c


def ingestion(conn: psycopg.Connection, key: str) -> int:
    """A new ingestion row (a new object version each time)."""
    row = conn.execute(
        "INSERT INTO ingestions (bucket, key, version, provider, status)"
        " VALUES ('b', %s, gen_random_uuid()::text, %s, 'processing') RETURNING id",
        (key, PROVIDER),
    ).fetchone()
    assert row is not None
    return int(row[0])


def load_movies(conn: psycopg.Connection, movies: list[Any], **kw: Any) -> Loaded:
    data = orjson.dumps(movies)
    with conn.transaction():
        iid = ingestion(conn, "providers/acme/a.json")
        return load(
            conn,
            Validator(filename="a.json", current_year=2026),
            [data[i : i + 7] for i in range(0, len(data), 7)],
            provider=PROVIDER,
            ingestion_id=iid,
            source_key="providers/acme/a.json",
            **kw,
        )


def rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        'SELECT title, year, href, "cast", genres, provider_id, updated_at FROM movies ORDER BY id'
    ).fetchall()


CARMEN = {"title": "Carmen", "year": 1915, "href": "Carmen_(DeMille)", "cast": ["Geraldine Farrar"]}
CARMEN_2 = {"title": "Carmen", "year": 1915, "href": "Carmen_(Walsh)", "cast": ["Theda Bara"]}


def test_valid_records_land_normalised(conn: psycopg.Connection) -> None:
    loaded = load_movies(
        conn, [CARMEN, CARMEN_2, {"title": " X ", "year": 2000, "id": 7, "genres": ["A", "A"]}]
    )
    assert (loaded.inserted, loaded.updated, loaded.unchanged) == (3, 0, 0)
    got = [r[:6] for r in rows(conn)]
    assert got == [
        ("Carmen", 1915, "Carmen_(DeMille)", ["Geraldine Farrar"], [], None),
        ("Carmen", 1915, "Carmen_(Walsh)", ["Theda Bara"], [], None),
        ("X", 2000, None, [], ["A"], "7"),
    ]


def test_reloading_an_unchanged_file_writes_nothing(conn: psycopg.Connection) -> None:
    load_movies(conn, [CARMEN, CARMEN_2])
    before = rows(conn)
    xmins = conn.execute("SELECT xmin::text FROM movies ORDER BY id").fetchall()
    again = load_movies(conn, [CARMEN, CARMEN_2])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert rows(conn) == before  # updated_at included
    assert conn.execute("SELECT xmin::text FROM movies ORDER BY id").fetchall() == xmins


def test_a_changed_record_is_updated_in_place(conn: psycopg.Connection) -> None:
    load_movies(conn, [CARMEN])
    changed = load_movies(conn, [{**CARMEN, "cast": ["Geraldine Farrar", "Wallace Reid"]}])
    assert (changed.inserted, changed.updated) == (0, 1)
    assert rows(conn)[0][3] == ["Geraldine Farrar", "Wallace Reid"]


def test_a_whole_file_error_loads_nothing(conn: psycopg.Connection) -> None:
    data = orjson.dumps([CARMEN, CARMEN_2])[:-1]  # truncated: ']' missing
    with pytest.raises(CatalogFileError), conn.transaction():
        iid = ingestion(conn, "providers/acme/broken.json")
        load(
            conn,
            Validator(filename="b.json"),
            [data],
            provider=PROVIDER,
            ingestion_id=iid,
            source_key="providers/acme/broken.json",
        )
    assert conn.execute("SELECT count(*) FROM movies").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM ingestions").fetchone() == (0,)


def test_too_many_invalid_records_reject_the_file(conn: psycopg.Connection) -> None:
    with pytest.raises(TooManyInvalidError) as rejected:
        load_movies(conn, [CARMEN, {"title": ""}, {"year": 1}], reject_invalid_ratio=0.5)
    assert rejected.value.ratio == pytest.approx(2 / 3)
    assert conn.execute("SELECT count(*) FROM movies").fetchone() == (0,)
