"""The loader against a real PostgreSQL: whole files or nothing, idempotent upserts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import sql

from moviestore._validator import CatalogFileError, Validator
from moviestore.localstack.stack import Endpoints
from moviestore.store.loader import (
    STAGED,
    Loaded,
    ProviderBusyError,
    TooManyInvalidError,
    ahead,
    load,
)
from moviestore.store.migrate import migrate

PROVIDER = "acme"


@pytest.fixture
def conn(endpoints: Endpoints) -> Iterator[psycopg.Connection]:
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url) as c:
        c.execute(
            "TRUNCATE movies, ingestions, catalog_versions, catalog_changes"
            " RESTART IDENTITY CASCADE"
        )
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


def test_a_first_load_copies_straight_in_and_lands_like_an_upsert(
    conn: psycopg.Connection,
) -> None:
    movies = [
        CARMEN,
        {**CARMEN_2, "genres": ["Drama", "Opera"], "extract": "é" * 300, "id": "x-1"},
        {"title": "T", "year": 2001, "thumbnail": "https://t/1.jpg", "thumbnail_width": 3},
    ]
    every_field = sql.SQL("SELECT {} FROM movies WHERE title <> 'Seed' ORDER BY id").format(
        sql.SQL(", ").join(map(sql.Identifier, STAGED))
    )
    first = load_movies(conn, movies)
    assert first.first_load and (first.inserted, first.updated) == (3, 0)
    copied = conn.execute(every_field).fetchall()
    conn.execute("TRUNCATE movies")
    load_movies(conn, [{"title": "Seed", "year": 1999}])  # the provider has a row now
    upserted = load_movies(conn, movies)
    assert not upserted.first_load and (upserted.inserted, upserted.updated) == (3, 0)
    assert conn.execute(every_field).fetchall() == copied
    assert copied[2][STAGED.index("thumbnail_width")] == 3
    ingestion_and_source = conn.execute(
        "SELECT ingestion_id IS NOT NULL, source_key FROM movies ORDER BY id"
    ).fetchall()
    assert set(ingestion_and_source) == {(True, "providers/acme/a.json")}


def provider_lock(endpoints: Endpoints, shared: bool) -> psycopg.Connection:
    other = psycopg.connect(endpoints.database_url)
    kind = "_shared" if shared else ""
    other.execute(
        f"SELECT pg_advisory_xact_lock{kind}(hashtextextended('provider:' || %s, 0))",
        (PROVIDER,),
    )
    return other


def test_a_first_load_under_way_makes_another_load_of_the_provider_wait(
    conn: psycopg.Connection, endpoints: Endpoints
) -> None:
    other = provider_lock(endpoints, shared=False)  # as a first load holds it
    try:
        with pytest.raises(ProviderBusyError):
            load_movies(conn, [CARMEN])
    finally:
        other.close()
    assert load_movies(conn, [CARMEN]).first_load


def test_an_upsert_under_way_turns_a_first_load_into_an_upsert(
    conn: psycopg.Connection, endpoints: Endpoints
) -> None:
    other = provider_lock(endpoints, shared=True)  # as an upsert holds it
    try:
        loaded = load_movies(conn, [CARMEN, CARMEN_2])
    finally:
        other.close()
    assert not loaded.first_load and loaded.inserted == 2


def test_ahead_hands_over_the_producers_error_and_stops_it_when_closed() -> None:
    def failing() -> Iterator[bytes]:
        yield b"a"
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        list(ahead(failing(), 2))

    produced: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                produced.append(1)
                yield b"x"
        finally:
            closed.set()

    stream = ahead(endless(), 2)
    assert next(stream) == b"x"
    stream.close()
    assert closed.is_set()
    assert len(produced) <= 4  # bounded: never more than the queue ahead of the consumer
