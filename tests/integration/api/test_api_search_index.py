"""The in-memory search index (api/search_index.py) against PostgreSQL itself: for any query
and cursor, the same total and the same page as the SQL the API runs without it. (Through the
API, every query test runs against the index too: the "search-index" plan in conftest.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from psycopg.rows import dict_row

from moviestore.api import queries
from moviestore.api.cache import Answer
from moviestore.api.params import SORTS, MovieQuery
from moviestore.api.search_index import Built, SearchIndexes
from moviestore.api.service import Catalog
from moviestore.localstack.processes import free_port
from moviestore.localstack.stack import Endpoints, LocalStack
from moviestore.settings import Settings
from tests.integration.api.catalog import (
    CAST,
    GENRES,
    PROVIDERS,
    WORDS,
    Movie,
    create_database,
    generate,
    load,
)
from tests.integration.api.conftest import CATALOG_SIZE, Api, api_env, metric
from tests.integration.api.extra import spare_redis_db
from tests.integration.api.test_api_queries import add_movie


@dataclass
class Indexed:
    indexes: SearchIndexes
    built: Built
    url: str
    movies: list[Movie]


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
    indexes = SearchIndexes(url, enabled=True, answering=lambda: None)
    indexes.built = built = indexes.build()
    yield Indexed(indexes, built, url, movies)


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
    indexed: Indexed, q: MovieQuery, at: int | None
) -> None:
    after = None
    if at is not None:  # a cursor after any movie (matching the filters or not)
        m = indexed.movies[at % len(indexed.movies)]
        after = (m.title if SORTS[q.sort][0] == "title" else m.year, m.id)
    title = needle(indexed.built, indexed.url, q.title)
    found = indexed.built.search(q, title, after, q.limit)
    assert found is not None
    assert found == database_page(indexed.url, q, after)


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


def test_a_cursor_of_a_changed_movie_and_another_version_are_left_to_postgresql(
    indexed: Indexed,
) -> None:
    indexes, built, m = indexed.indexes, indexed.built, indexed.movies[0]
    q = MovieQuery(title="o")
    assert indexes.at(built.version) is built
    assert built.search(q, "o", (m.title, m.id), 5) is not None
    assert built.search(q, "o", (m.title + " (renamed)", m.id), 5) is None
    assert built.search(q, "o", (m.title, 10**12), 5) is None  # no such movie
    assert indexes.at(built.version + 1) is None
    assert indexes.at(None) is None


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
        metric(api.url, "moviestore_api_search_index_processes") < api.processes
        or metric(api.url, "moviestore_api_search_index_version") < version
    ):
        assert time.monotonic() < deadline, "the index did not follow the new catalog version"
        time.sleep(0.05)
    before = computed()
    got = api.get("/v1/movies", params={"title": title.upper(), "limit": 3}).json()
    assert (got["total"], [m["id"] for m in got["items"]]) == (1, [movie_id])
    assert computed() == (before[0] + 1, before[1])


def test_a_build_that_fails_is_counted_retried_and_leaves_the_answers_to_postgresql() -> None:
    refused = f"postgresql://moviestore@127.0.0.1:{free_port()}/none"
    indexes = SearchIndexes(refused, enabled=True, answering=lambda: 1, retry_seconds=0.05)
    failures = "moviestore_api_search_index_failures_total"
    before = REGISTRY.get_sample_value(failures) or 0.0
    indexes.want(1)
    deadline = time.monotonic() + 10
    while (REGISTRY.get_sample_value(failures) or 0.0) < before + 2:  # tried, then again
        assert time.monotonic() < deadline, "the failed build was not counted and retried"
        time.sleep(0.02)
    assert indexes.state() == {"status": "building"}
    assert indexes.at(1) is None
    indexes.stop()
    assert indexes.builder is not None
    indexes.builder.join(5)
    assert indexes.builder is None  # a later version seen starts a builder again


def test_a_page_read_after_the_catalog_moved_on_is_answered_by_postgresql(
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The index found the page at version v; its rows are read at v + 1 (an ingestion
    committed in between, which may have changed them): PostgreSQL answers instead."""
    url = api_database[0]
    for name, value in api_env(local_stack[1], url, spare_redis_db(local_stack[1], 7)).items():
        monkeypatch.setenv(name, value)

    def sources() -> tuple[float, float]:
        name = "moviestore_api_list_answers_total"
        index = REGISTRY.get_sample_value(name, {"source": "index"}) or 0.0
        return index, REGISTRY.get_sample_value(name, {"source": "database"}) or 0.0

    async def pages() -> tuple[Answer, Answer]:
        catalog = Catalog(Settings())  # type: ignore[call-arg]  # from the environment
        await catalog.open()
        try:
            catalog.indexes.built = catalog.indexes.build()
            catalog.local.switch(catalog.indexes.built.version)  # no watcher: it stays there
            q = MovieQuery(title="o", sort="-year", limit=7)
            first = await catalog.movie_page(q, None)
            with psycopg.connect(url) as conn:
                conn.execute("UPDATE catalog_state SET version = version + 1")
            return first, await catalog.movie_page(q, None)
        finally:
            await catalog.close()

    before = sources()
    first, second = asyncio.run(pages())
    assert sources() == (before[0] + 1, before[1] + 1)
    assert first.body == second.body  # no movie changed: the same answer either way
    assert len(orjson.loads(first.body)["items"]) == 7
