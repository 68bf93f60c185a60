"""The in-memory search index (api/search_index.py) against PostgreSQL itself: for any query
and cursor, the same total and the same page as the SQL the API runs without it, when built
from the catalog and after any sequence of change sets read from the change feed and applied,
merged, and shared through a file. (Through the API, every query test runs against the index
too: the "search-index" plan in conftest.py.)"""

from __future__ import annotations

import random
import struct
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from psycopg import sql
from psycopg.rows import dict_row

from moviestore._validator import CHANGE_COLUMNS
from moviestore.api import search_index
from moviestore.api.search_index import Built, Segments
from moviestore.catalog.query import SORTS, MovieQuery
from moviestore.localstack.processes import wait_until
from moviestore.localstack.stack import Endpoints, LocalStack
from moviestore.store import reads
from moviestore.store.feed import PROBE_MOVIES, commit_version
from tests.integration.api.catalog import (
    CAST,
    GENRES,
    PROVIDERS,
    WORDS,
    Commits,
    Movie,
    commit,
    create_database,
    generate,
    load,
    movie_ids,
    new_ingestion,
)
from tests.integration.api.conftest import CATALOG_SIZE

NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


@dataclass
class Indexed:
    built: Built
    url: str
    movies: list[Movie]


def build(url: str) -> Built:
    with psycopg.connect(url, autocommit=True) as conn:
        return search_index.build(conn)


# Title order is the database's collation's: code points (the stack's C.UTF-8), and ICU's root
# locale, where "a" < "A" < "b" and accents weigh less than letters.
@pytest.fixture(scope="module", params=["C.UTF-8", "ICU und"])
def indexed(
    request: pytest.FixtureRequest,
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
) -> Iterator[Indexed]:
    url, movies = api_database
    if request.param == "ICU und":
        url = create_database(local_stack[1].database_url, "moviestore_api_tests_icu", "und")
        movies = load(url, generate(CATALOG_SIZE))
    yield Indexed(build(url), url, movies)


def database_page(url: str, q: MovieQuery, after: Any) -> tuple[int, list[int]]:
    """The PostgreSQL plan that finds every match (no limit on how many)."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(*reads.sorted_matches(q, after, 10**9)).fetchall()
    return rows[0]["total"], [r["id"] for r in rows if r["id"] is not None][: q.limit]


NEEDLES = [*WORDS, "lo", "LOVE", "ove ni", "%", "_", "\\", "e", "a ", "nothing-like-it", "é", "É",
           "AMÉLIE", "Ω", "ω"]  # fmt: skip
queries = st.builds(
    MovieQuery,
    title=st.none() | st.sampled_from(NEEDLES),
    year=st.none() | st.integers(1989, 2006),
    year_from=st.none() | st.integers(1988, 2003),
    year_to=st.none() | st.integers(1993, 2007),
    genres=st.lists(st.sampled_from([*GENRES, "Western"]), max_size=2).map(tuple),
    any_genres=st.lists(st.sampled_from([*GENRES, "Western"]), max_size=3).map(tuple),
    exclude_genres=st.lists(st.sampled_from([*GENRES, "Western"]), max_size=2).map(tuple),
    cast=st.lists(st.sampled_from([*CAST, "Nobody"]), max_size=2).map(tuple),
    provider=st.none() | st.sampled_from([*PROVIDERS, "other"]),
    sort=st.sampled_from(list(SORTS)),
    limit=st.integers(1, 30),
)


def same_answer(built: Built, url: str, q: MovieQuery, after: Any) -> None:
    title = needle(built, url, q.title)
    found = built.search(q, title, after, q.limit)
    assert found is not None
    assert found == database_page(url, q, after)


@settings(max_examples=300, deadline=None)
@given(q=queries, at=st.none() | st.integers(0, 10**6))
def test_the_index_answers_every_query_as_postgresql_does(
    indexed: Indexed, q: MovieQuery, at: int | None
) -> None:
    after = None
    if at is not None:  # a cursor after any movie (matching the filters or not)
        m = indexed.movies[at % len(indexed.movies)]
        after = (m.title if SORTS[q.sort][0] == "title" else m.year, m.id)
    same_answer(indexed.built, indexed.url, q, after)


def needle(built: Built, url: str, title: str | None) -> str | None:
    """The title lower-cased as the API does it: itself for ASCII, else by the database."""
    if title is None:
        return None
    lowered = built.lowered(title)
    if lowered is not None:
        assert title.isascii()
        return lowered
    assert not title.isascii()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT lower(%s)", (title,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_cursor_of_a_changed_or_missing_movie_is_left_to_postgresql(indexed: Indexed) -> None:
    built, m = indexed.built, indexed.movies[0]
    q = MovieQuery(title="o")
    assert built.search(q, "o", (m.title, m.id), 5) is not None
    assert built.search(q, "o", (m.title + " (renamed)", m.id), 5) is None
    assert built.search(q, "o", (m.title, 10**12), 5) is None  # no such movie


# --- changes -------------------------------------------------------------------------------


def changes_since(url: str, since: int) -> reads.Changes:
    """The changes after ``since``, with each version's rows."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        state = reads.feed_state(conn, since)
        assert since >= state.horizon and state.recorded == state.version - since
        changes = reads.changes_since(conn, state, since)
        return reads.changed_rows(conn, changes)


class ChangingCatalog(RuleBasedStateMachine):
    """Change sets committed to the catalog; after each, the index with the changes read from
    the feed and applied (sometimes merged, sometimes shared through a file and opened again)
    answers every query as PostgreSQL does at that version."""

    catalog: Commits
    folder: Path

    @initialize()
    def start(self) -> None:
        """The same catalog at the start of every example (only the version moves on)."""
        with psycopg.connect(self.catalog.url) as conn:
            conn.execute(
                "TRUNCATE movies, ingestions, catalog_versions, catalog_changes,"
                " catalog_change_rows"
                " RESTART IDENTITY CASCADE"
            )
        load(self.catalog.url, generate(120, seed=11))
        self.built = build(self.catalog.url)

    @rule(
        data=st.data(),
        inserts=st.integers(0, 6),
        updates=st.integers(0, 6),
        removals=st.integers(0, 3),
        comebacks=st.integers(0, 2),
        seeds=st.lists(st.integers(0, 2**32), min_size=1, max_size=3),
        walk=st.booleans(),
    )
    def change(
        self, data: st.DataObject, *, inserts: int, updates: int, removals: int, comebacks: int,
        seeds: list[int], walk: bool,
    ) -> None:  # fmt: skip
        for seed in seeds:  # several versions read as one change set (a withdrawal and a
            # comeback of one movie among them)
            self.catalog.change(inserts, updates, removals, seed, comebacks=comebacks, walk=walk)
        changes = changes_since(self.catalog.url, self.built.version)
        self.built = self.built.applied(changes)
        assert self.built.version == changes.version
        self.check(data)

    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        self.built = self.built.merged(None)
        assert self.built.index.delta_movies == self.built.index.removed_movies == 0
        self.check(data)

    @rule(data=st.data())
    def share(self, data: st.DataObject) -> None:
        self.built = self.built.merged(Segments(self.folder))
        assert self.built.index.mapped_bytes > 0
        self.check(data)

    def check(self, data: st.DataObject) -> None:
        with psycopg.connect(self.catalog.url) as conn:
            version = reads.catalog_version(conn)
            rows = conn.execute(
                "SELECT id, title, year FROM movies WHERE withdrawn_at IS NULL"
            ).fetchall()
        assert self.built.version == version
        assert len(self.built.index) == len(rows)
        for _ in range(8):
            q = data.draw(queries)
            after = None
            at = data.draw(st.none() | st.integers(0, 10**6))
            if at is not None and rows:  # a cursor after any movie there is
                movie_id, title, year = sorted(rows)[at % len(rows)]
                after = (title if SORTS[q.sort][0] == "title" else year, movie_id)
            same_answer(self.built, self.catalog.url, q, after)


@pytest.mark.parametrize("collation", ["C.UTF-8", "ICU und"])
def test_changes_applied_answer_every_query_as_postgresql_does(
    local_stack: tuple[LocalStack, Endpoints], tmp_path: Path, collation: str
) -> None:
    name = "moviestore_changes_" + ("icu" if collation != "C.UTF-8" else "c")
    url = create_database(local_stack[1].database_url, name, None if collation == "C.UTF-8"
                          else "und")  # fmt: skip
    ChangingCatalog.catalog = Commits(url, random.Random(5))
    ChangingCatalog.folder = tmp_path
    machine = ChangingCatalog.TestCase
    # Shrinking replays steps against the database: slow, and the unshrunk steps tell enough.
    machine.settings = settings(
        max_examples=15, stateful_step_count=8, deadline=None, phases=NO_SHRINK
    )
    machine().runTest()


def test_a_change_the_feed_cannot_place_is_refused(indexed: Indexed) -> None:
    """A predecessor the index does not hold (a gap in what it was told): a clear error, and
    the follower starts over from the catalog."""
    row = copy_of_one(indexed.url, 10**12, after=10**12 + 1)
    with pytest.raises(ValueError, match="predecessor"):
        indexed.built.index.apply([10**12], row)


def copy_of_one(url: str, movie_id: int, after: int) -> bytes:
    """Binary COPY of one CHANGE_COLUMNS row (made by PostgreSQL itself)."""
    with psycopg.connect(url) as conn:
        query = (
            "COPY (SELECT %s::int8, 'x'::text, 'X'::text, 2000::int4, 'acme'::text,"
            " '{}'::text[], '{}'::text[], %s::int8) TO STDOUT (FORMAT binary)"
        )
        with conn.cursor().copy(query, (movie_id, after)) as copy:
            return b"".join(bytes(chunk) for chunk in copy)


def test_change_rows_of_ingestions_committing_at_once_are_exact_at_each_version(
    local_stack: tuple[LocalStack, Endpoints],
) -> None:
    """Two ingestions commit at once, the second's new movie right after the first's in title
    order. The second's predecessors are found after it waited for the first's commit, so its
    new movie follows the first's (found before the wait, it would follow the movie before
    both), and the index that applies both versions answers as PostgreSQL does."""
    url = create_database(local_stack[1].database_url, "moviestore_feed_race")
    load(url, generate(40))
    built = build(url)

    def insert(conn: psycopg.Connection, title: str) -> tuple[int, int]:
        ingestion = new_ingestion(conn)
        m = generate(1, seed=len(title))[0]
        row = conn.execute(
            """INSERT INTO movies (provider, record_key, title, year, genres, "cast",
                   content_hash, ingestion_id, source_key)
               VALUES (%s, %s, %s, %s, %s, %s, 0, %s, 'k') RETURNING id""",
            (m["provider"], uuid.uuid4(), title, m["year"], m["genres"], m["cast"], ingestion),
        ).fetchone()  # fmt: skip
        assert row is not None
        conn.execute("INSERT INTO catalog_changes VALUES (%s, %s, 'inserted')", (ingestion, row[0]))
        return ingestion, row[0]

    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        first_ingestion, first_id = insert(first, "Mmm race")
        second_ingestion, second_id = insert(second, "Mmm race, the sequel")
        first_version = commit_version(first, first_ingestion, 1)  # holds the version's lock
        waiting = threading.Thread(target=commit_version, args=(second, second_ingestion, 1))
        waiting.start()
        with psycopg.connect(url, autocommit=True) as watcher:

            def locked() -> bool:
                row = watcher.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                    (second.info.backend_pid,),
                ).fetchone()
                return row == ("Lock",)

            wait_until(locked, 10, "the second commit's wait for the version's lock")
        first.commit()
        waiting.join(10)
        assert not waiting.is_alive()
        second.commit()
        parts = second.execute(
            "SELECT tuples FROM catalog_change_rows WHERE version = %s", (first_version + 1,)
        ).fetchall()
    placed = [(f[0], f[-1]) for _, f in copy_tuples(b"".join(p for (p,) in parts))]
    assert placed == [(second_id.to_bytes(8, "big"), first_id.to_bytes(8, "big"))]
    changes = changes_since(url, built.version)
    assert [v.version for v in changes.versions] == [first_version, first_version + 1]
    built = built.applied(changes)
    for sort in SORTS:
        same_answer(built, url, MovieQuery(sort=sort, limit=30), None)
        same_answer(built, url, MovieQuery(title="mmm", sort=sort, limit=30), None)


@pytest.mark.parametrize("walk", [False, True])
def test_a_versions_change_rows_are_what_copy_writes_with_each_predecessor(
    local_stack: tuple[LocalStack, Endpoints], walk: bool
) -> None:
    """The tuples an ingestion encodes for its version are byte for byte what PostgreSQL's own
    binary COPY writes for the same movies, each with its predecessor in the catalog's title
    order at that version (found here the obvious way: the whole order). One version holds a
    movie that sorts first (no predecessor), empty arrays and quotes, text beyond ASCII, a new
    movie, a comeback and a withdrawal (no tuple)."""
    url = create_database(local_stack[1].database_url, "moviestore_change_rows")
    load(url, generate(30))
    with psycopg.connect(url) as conn:
        ids = movie_ids(conn, withdrawn=False)
        conn.execute("UPDATE movies SET withdrawn_at = now() WHERE id = %s", (ids[-1],))
    with psycopg.connect(url) as conn:
        ingestion = new_ingestion(conn)
        edits: list[tuple[int, dict[str, Any]]] = [
            (ids[0], {"title": ""}),  # sorts first of all: no predecessor
            (ids[1], {"title": "Ångström", "genres": [], "cast": ['Zoë "the one", {Jr.}']}),
            (ids[2], {"title": "Ωmega", "year": 1901}),
            (ids[-1], {}),  # withdrawn before, back now
        ]
        for movie_id, values in edits:
            assignments = [sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
                           for c, v in values.items()]  # fmt: skip
            conn.execute(
                sql.SQL("UPDATE movies SET {} WHERE id = {}").format(
                    sql.SQL(", ").join([*assignments, sql.SQL("withdrawn_at = NULL")]),
                    sql.Literal(movie_id),
                )
            )
        conn.execute("UPDATE movies SET withdrawn_at = now() WHERE id = %s", (ids[3],))
        m = generate(1, seed=99)[0]
        row = conn.execute(
            """INSERT INTO movies (provider, record_key, title, year, genres, "cast",
                   content_hash, ingestion_id, source_key)
               VALUES (%s, %s, 'Mid', %s, %s, %s, 0, %s, 'k') RETURNING id""",
            (m["provider"], uuid.uuid4(), m["year"], m["genres"], m["cast"], ingestion),
        ).fetchone()  # fmt: skip
        assert row is not None
        changed = {ids[0]: "updated", ids[1]: "updated", ids[2]: "updated", ids[-1]: "updated",
                   ids[3]: "withdrawn", row[0]: "inserted"}  # fmt: skip
        version = commit(conn, ingestion, changed, walk)
    columns = sql.SQL(", ").join(map(sql.Identifier, CHANGE_COLUMNS[:-1]))
    with psycopg.connect(url) as conn:
        order = [r[0] for r in conn.execute(
            "SELECT id FROM movies WHERE withdrawn_at IS NULL ORDER BY title, id")]  # fmt: skip
        before = dict(zip(order, [None, *order[:-1]], strict=True))
        assert before[ids[0]] is None and ids[3] not in before
        expected = set()
        for movie_id in set(changed) - {ids[3]}:
            query = sql.SQL(
                "COPY (SELECT {}, {}::int8 FROM movies WHERE id = {}) TO STDOUT (FORMAT binary)"
            ).format(columns, sql.Literal(before[movie_id]), sql.Literal(movie_id))
            with conn.cursor().copy(query) as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            assert data.startswith(reads.COPY_HEADER) and data.endswith(reads.COPY_TRAILER)
            expected.add(data[len(reads.COPY_HEADER) : -len(reads.COPY_TRAILER)])
        parts = [r[0] for r in conn.execute(
            "SELECT tuples FROM catalog_change_rows WHERE version = %s", (version,))]  # fmt: skip
    stored = [whole for whole, _ in copy_tuples(b"".join(parts))]
    assert len(stored) == len(expected) == 5
    assert set(stored) == expected


def copy_tuples(data: bytes) -> list[tuple[bytes, list[bytes | None]]]:
    """Binary COPY tuples cut apart (a field count, then each field's length and bytes): each
    whole, and its fields (None: NULL)."""
    tuples, at = [], 0
    while at < len(data):
        start, (count,) = at, struct.unpack_from(">h", data, at)
        at += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", data, at)
            at += 4
            fields.append(None if length == -1 else data[at : at + length])
            at += max(length, 0)
        tuples.append((data[start:at], fields))
    assert at == len(data)
    return tuples


@pytest.mark.parametrize(("catalog", "written"), [(0, False), (PROBE_MOVIES + 1, True)])
def test_a_large_change_writes_rows_unless_it_outnumbers_the_catalog_before_it(
    local_stack: tuple[LocalStack, Endpoints], catalog: int, written: bool
) -> None:
    """Above ``PROBE_MOVIES`` changed movies the commit counts the live catalog: a first load
    (more movies than the catalog held) writes no change rows, every index builds anew; a
    large change into a larger catalog writes them."""
    url = create_database(local_stack[1].database_url, "moviestore_large_change")
    movies = PROBE_MOVIES + 1

    def insert(conn: psycopg.Connection, ingestion: int, count: int) -> None:
        conn.execute(
            """INSERT INTO movies (provider, record_key, title, year, ingestion_id, source_key,
                   content_hash)
               SELECT 'acme', gen_random_uuid(), 'Movie ' || n, 2000, %s, 'k', 0
               FROM generate_series(1, %s) AS n""",
            (ingestion, count),
        )  # fmt: skip

    with psycopg.connect(url) as conn:
        if catalog:
            insert(conn, new_ingestion(conn), catalog)
    with psycopg.connect(url) as conn:
        ingestion = new_ingestion(conn)
        insert(conn, ingestion, movies)
        conn.execute(
            "INSERT INTO catalog_changes SELECT %s, id, 'inserted' FROM movies"
            " WHERE ingestion_id = %s",
            (ingestion, ingestion),
        )
        version = commit_version(conn, ingestion, movies)
        recorded = conn.execute(
            "SELECT v.change_rows, count(r.part) FROM catalog_versions v"
            " LEFT JOIN catalog_change_rows r USING (version) WHERE v.version = %s"
            " GROUP BY v.change_rows",
            (version,),
        ).fetchone()
    assert recorded == (written, 1 if written else 0)
