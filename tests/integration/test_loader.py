"""The loader against a real PostgreSQL: whole files or nothing, idempotent upserts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import orjson
import psycopg
import pytest
from hypothesis import given, settings
from psycopg import sql

from moviestore._validator import CatalogFileError, Validator
from moviestore.localstack.stack import Endpoints
from moviestore.store.loader import (
    STAGED,
    HeldError,
    Loaded,
    Snapshot,
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
            "TRUNCATE movies, ingestions, catalog_versions, catalog_changes, catalog_change_rows"
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


# --- the catalog lifecycle: snapshots, deletion records, the brake, comebacks ---------------


def live(conn: psycopg.Connection) -> dict[str, str]:
    """The provider's live movies: id -> title."""
    with conn.transaction():  # not left open: each load is a transaction of its own
        found = conn.execute(
            "SELECT provider_id, title FROM movies WHERE withdrawn_at IS NULL AND provider = %s",
            (PROVIDER,),
        )
        return dict(found.fetchall())


def changes(conn: psycopg.Connection) -> dict[str, str]:
    """The change feed rows of the latest ingestion: id -> change."""
    with conn.transaction():
        found = conn.execute(
            "SELECT m.provider_id, c.change FROM catalog_changes c"
            " JOIN movies m ON m.id = c.movie_id"
            " WHERE c.ingestion_id = (SELECT max(id) FROM ingestions)"
        )
        return dict(found.fetchall())


def film(i: int, title: str = "T") -> dict[str, Any]:
    return {"id": f"m{i}", "title": f"{title}{i}", "year": 2000}


def test_a_snapshot_withdraws_exactly_the_movies_it_lacks(conn: psycopg.Connection) -> None:
    load_movies(conn, [film(i) for i in range(10)])
    kept = [film(i) for i in range(10) if i not in (3, 7)]
    loaded = load_movies(conn, [*kept, film(10)], snapshot=Snapshot(brake=0.2))
    assert (loaded.inserted, loaded.updated, loaded.withdrawn) == (1, 0, 2)
    assert set(live(conn)) == {f"m{i}" for i in range(11)} - {"m3", "m7"}
    assert changes(conn) == {"m3": "withdrawn", "m7": "withdrawn", "m10": "inserted"}
    # Soft deletes: the rows are kept, with the time and the ingestion that withdrew them.
    with conn.transaction():
        gone = conn.execute(
            "SELECT provider_id, withdrawn_at IS NOT NULL, ingestion_id FROM movies"
            " WHERE provider_id IN ('m3', 'm7') ORDER BY 1"
        ).fetchall()
        latest = conn.execute("SELECT max(id) FROM ingestions").fetchone()
    assert latest is not None
    assert gone == [("m3", True, latest[0]), ("m7", True, latest[0])]


def test_the_brake_holds_a_snapshot_that_would_withdraw_too_much(conn: psycopg.Connection) -> None:
    load_movies(conn, [film(i) for i in range(10)])
    with pytest.raises(HeldError) as held:
        load_movies(conn, [film(i, "New") for i in range(7)], snapshot=Snapshot(brake=0.2))
    assert (held.value.would_withdraw, held.value.live) == (3, 10)
    assert live(conn) == {f"m{i}": f"T{i}" for i in range(10)}  # nothing applied, not even updates
    # Exactly the brake's share is allowed; released (no brake), anything is.
    assert load_movies(conn, [film(i) for i in range(8)], snapshot=Snapshot(0.2)).withdrawn == 2
    assert load_movies(conn, [film(0)], snapshot=Snapshot(brake=None)).withdrawn == 7
    assert live(conn) == {"m0": "T0"}


def test_a_snapshot_with_invalid_records_withdraws_nothing_by_absence(
    conn: psycopg.Connection,
) -> None:
    load_movies(conn, [film(i) for i in range(4)])
    loaded = load_movies(conn, [film(0), {"id": "m1", "title": ""}], snapshot=Snapshot(1.0))
    assert loaded.withdrawals_skipped and loaded.withdrawn == 0
    assert set(live(conn)) == {"m0", "m1", "m2", "m3"}


def test_deletion_records_withdraw_and_a_later_record_brings_a_movie_back(
    conn: psycopg.Connection,
) -> None:
    first = load_movies(conn, [film(0), film(1), CARMEN, {"id": "nothing", "deleted": True}])
    assert first.first_load and first.inserted == 3 and first.withdrawn == 0
    gone = load_movies(
        conn,
        [
            {"id": "m1", "deleted": True},
            {**{k: CARMEN[k] for k in ("title", "year", "href")}, "deleted": True},
            {"id": "never-there", "deleted": True},
        ],
    )
    assert (gone.withdrawn, gone.inserted, gone.updated, gone.unchanged) == (2, 0, 0, 0)
    assert set(live(conn)) == {"m0"}
    assert load_movies(conn, [{"id": "m1", "deleted": True}]).withdrawn == 0  # already gone
    # The same record again brings it back: an update (the feed says so), content unchanged.
    back = load_movies(conn, [film(1)])
    assert (back.inserted, back.updated) == (0, 1)
    assert changes(conn) == {"m1": "updated"}
    assert set(live(conn)) == {"m0", "m1"}


# A provider's files in any order, checked against a plain model of its catalog.
FILES = st.lists(
    st.tuples(
        st.booleans(),  # a snapshot
        st.dictionaries(st.integers(0, 5), st.sampled_from(["A", "B", "deleted"]), max_size=6),
        st.sampled_from([0.2, 0.5, None]),  # the brake
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None)
@given(files=FILES)
def test_any_sequence_of_files_leaves_the_catalog_the_model_predicts(
    endpoints: Endpoints, files: list[tuple[bool, dict[int, str], float | None]]
) -> None:
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url) as conn:
        conn.execute("TRUNCATE movies, ingestions, catalog_changes RESTART IDENTITY CASCADE")
        conn.commit()
        rows: dict[str, tuple[str, bool]] = {}  # the model: id -> (title, live)
        for snapshot, records, brake in files:
            movies = [
                {"id": f"m{i}", "deleted": True}
                if what == "deleted"
                else {"id": f"m{i}", "title": what, "year": 2000}
                for i, what in records.items()
            ]
            named = {f"m{i}": what for i, what in records.items()}
            alive = {k for k, (_, up) in rows.items() if up}
            missing = alive - {k for k, w in named.items() if w != "deleted"} if snapshot else set()
            if snapshot and brake is not None and rows and len(missing) > brake * len(alive):
                with pytest.raises(HeldError):
                    load_movies(conn, movies, snapshot=Snapshot(brake))
                continue
            load_movies(conn, movies, snapshot=Snapshot(brake) if snapshot else None)
            expected: dict[str, str] = {}
            for key, what in named.items():
                before = rows.get(key)
                if what == "deleted":
                    if before is not None and before[1]:
                        expected[key] = "withdrawn"
                        rows[key] = (before[0], False)
                elif before is None:
                    expected[key], rows[key] = "inserted", (what, True)
                elif before != (what, True):
                    expected[key], rows[key] = "updated", (what, True)
            for key in missing:
                expected[key], rows[key] = "withdrawn", (rows[key][0], False)
            assert live(conn) == {k: t for k, (t, up) in rows.items() if up}
            assert changes(conn) == expected
