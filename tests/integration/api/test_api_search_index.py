"""The in-memory search index (api/search_index.py) against PostgreSQL itself: for any query
and cursor, the same total and the same page as the SQL the API runs without it. (Through the
API, every query test runs against the index too: the "search-index" plan in conftest.py.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from psycopg.rows import dict_row

from moviestore.api import queries
from moviestore.api.params import SORTS, MovieQuery
from moviestore.api.search_index import SearchIndexes
from moviestore.localstack.processes import free_port
from tests.integration.api.catalog import CAST, GENRES, PROVIDERS, WORDS, Movie
from tests.integration.api.conftest import Api, metric
from tests.integration.api.test_api_queries import add_movie


@pytest.fixture(scope="module")
def indexed(api_database: tuple[str, list[Movie]]) -> Iterator[tuple[SearchIndexes, int]]:
    url, _ = api_database
    indexes = SearchIndexes(url, enabled=True, answering=lambda: None)
    indexes.built = indexes.build()
    yield indexes, indexes.built.version


def database_page(url: str, q: MovieQuery, after: Any) -> tuple[int, list[int]]:
    """The PostgreSQL plan that finds every match (no limit on how many)."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(*queries.sorted_matches(q, after, 10**9)).fetchall()
    return rows[0]["total"], [r["id"] for r in rows if r["id"] is not None][: q.limit]


NEEDLES = [*WORDS, "lo", "LOVE", "ove ni", "%", "_", "\\", "e", "a ", "nothing-like-it", "é", "É",
           "AMÉLIE", "Ω", "ω"]  # fmt: skip
queries_ = st.builds(
    MovieQuery,
    title=st.none() | st.sampled_from(NEEDLES),
    year=st.none() | st.integers(1989, 2006),
    year_from=st.none() | st.integers(1988, 2003),
    year_to=st.none() | st.integers(1993, 2007),
    genres=st.lists(st.sampled_from([*GENRES, "Western"]), max_size=2).map(tuple),
    cast=st.lists(st.sampled_from([*CAST, "Nobody"]), max_size=2).map(tuple),
    provider=st.none() | st.sampled_from([*PROVIDERS, "other"]),
    sort=st.sampled_from(list(SORTS)),
    limit=st.integers(1, 30),
)


@settings(max_examples=300, deadline=None)
@given(q=queries_, at=st.none() | st.integers(0, 10**6))
def test_the_index_answers_every_query_as_postgresql_does(
    indexed: tuple[SearchIndexes, int], api_database: tuple[str, list[Movie]], q: MovieQuery,
    at: int | None,
) -> None:  # fmt: skip
    indexes, version = indexed
    url, movies = api_database
    after = None
    if at is not None:  # a cursor after any movie (matching the filters or not)
        m = movies[at % len(movies)]
        after = (m.title if SORTS[q.sort][0] == "title" else m.year, m.id)
    found = indexes.search(version, q, needle(indexes, url, q.title), after, q.limit)
    assert found is not None
    assert found == database_page(url, q, after)


def needle(indexes: SearchIndexes, url: str, title: str | None) -> str | None:
    """The title lower-cased as the API does it: itself for ASCII, else by the database."""
    if title is None:
        return None
    lowered = indexes.lowered(title)
    if lowered is not None:
        assert title.isascii()
        return lowered
    assert not title.isascii()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT lower(%s)", (title,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_cursor_of_a_changed_movie_and_another_version_are_left_to_postgresql(
    indexed: tuple[SearchIndexes, int], api_database: tuple[str, list[Movie]]
) -> None:
    indexes, version = indexed
    m = api_database[1][0]
    q = MovieQuery(title="o")
    assert indexes.search(version, q, "o", (m.title, m.id), 5) is not None
    assert indexes.search(version, q, "o", (m.title + " (renamed)", m.id), 5) is None
    assert indexes.search(version, q, "o", (m.title, 10**12), 5) is None  # no such movie
    assert indexes.search(version + 1, q, "o", None, 5) is None
    assert indexes.search(None, q, "o", None, 5) is None


@pytest.mark.parametrize("api", ["search-index"], indirect=True)
def test_lists_come_from_the_index_which_follows_each_catalog_version(api: Api) -> None:
    def computed() -> tuple[float, float]:
        return tuple(  # type: ignore[return-value]
            metric(api.url, "moviestore_api_list_answers_total", {"source": s})
            for s in ("index", "database")
        )

    title = f"indexed {uuid.uuid4().hex}"  # a query never asked: not in any cache
    before = computed()
    assert api.get("/v1/movies", params={"title": title}).json()["total"] == 0
    assert computed() == (before[0] + 1, before[1])

    version_before = metric(api.url, "moviestore_api_search_index_version")
    movie_id, version = add_movie(api, title.title(), publish=True)
    assert version > version_before
    deadline = time.monotonic() + 20  # both processes switch, then rebuild
    while (
        metric(api.url, "moviestore_api_search_index_processes") < 2
        or metric(api.url, "moviestore_api_search_index_version") < version
    ):
        assert time.monotonic() < deadline, "the index did not follow the new catalog version"
        time.sleep(0.05)
    before = computed()
    got = api.get("/v1/movies", params={"title": title.upper(), "limit": 3}).json()
    assert (got["total"], [m["id"] for m in got["items"]]) == (1, [movie_id])
    assert computed() == (before[0] + 1, before[1])


def test_a_build_that_fails_is_counted_and_leaves_the_answers_to_postgresql() -> None:
    refused = f"postgresql://moviestore@127.0.0.1:{free_port()}/none"
    indexes = SearchIndexes(refused, enabled=True, answering=lambda: 1)
    failures = "moviestore_api_search_index_failures_total"
    before = REGISTRY.get_sample_value(failures) or 0.0
    indexes.want(1)
    deadline = time.monotonic() + 10
    while (REGISTRY.get_sample_value(failures) or 0.0) == before:
        assert time.monotonic() < deadline, "the failed build was not counted"
        time.sleep(0.02)
    indexes.stop()
    assert indexes.state() == {"status": "building"}  # and it is retried, every 5 s
    assert indexes.search(1, MovieQuery(), None, None, 5) is None
