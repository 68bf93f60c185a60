"""The in-memory search index (api/search_index.py) against PostgreSQL itself: for any query
and cursor, the same total and the same page as the SQL the API runs without it, when built
from the catalog and after any sequence of change sets read from the change feed and applied,
merged, and shared through a file. (Through the API, every query test runs against the index
too: the "search-index" plan in conftest.py.)"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from psycopg.rows import dict_row

from moviestore._validator import CHANGE_COLUMNS
from moviestore.api import search_index
from moviestore.api.search_index import Built, Segments
from moviestore.catalog.query import SORTS, MovieQuery
from moviestore.localstack.stack import Endpoints, LocalStack
from moviestore.store import reads
from tests.integration.api.catalog import (
    CAST,
    GENRES,
    PROVIDERS,
    WORDS,
    Commits,
    Movie,
    create_database,
    generate,
    load,
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


def changes_since(url: str, since: int, *, walk: bool = False) -> reads.Changes:
    """The changes after ``since``, their predecessors found by a probe each or (``walk``) in
    one walk of the catalog."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        state = reads.feed_state(conn, since)
        assert since >= state.horizon and state.recorded == state.version - since
        changes = reads.changes_since(conn, state, since)
        return reads.changed_rows(conn, changes, CHANGE_COLUMNS, 0 if walk else 10**9)


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
                "TRUNCATE movies, ingestions, catalog_versions, catalog_changes"
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
            self.catalog.change(inserts, updates, removals, seed, comebacks=comebacks)
        changes = changes_since(self.catalog.url, self.built.version, walk=walk)
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
