"""Every filter and combination against the model, walked page by page: the pages together are
exactly the model's answer, in its order, with no movie repeated or skipped."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import redis
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from moviestore.aws.clients import Clients
from moviestore.catalog.keys import CHANNEL
from moviestore.localstack.stack import REGION, Endpoints
from tests.integration.api.catalog import (
    CAST,
    GENRES,
    PROVIDERS,
    WORDS,
    Movie,
    commit,
    new_ingestion,
    select,
)
from tests.integration.api.conftest import Api, metric, provider_key


def ordered_years(q: dict[str, Any]) -> bool:
    return bool(q.get("year_from", 0) <= q.get("year_to", 9999))


queries: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "title": st.sampled_from([*WORDS, "lo", "LOVE", "%", "_", "\\", "é", "nothing-like-it"]),
        "year": st.integers(1989, 2006),
        "year_from": st.integers(1988, 2000),
        "year_to": st.integers(1995, 2007),
        "genre": st.lists(st.sampled_from(GENRES), min_size=1, max_size=2, unique=True),
        "any_genre": st.lists(st.sampled_from([*GENRES, "Western"]), min_size=1, max_size=3),
        "exclude_genre": st.lists(st.sampled_from(GENRES), min_size=1, max_size=3),
        "fields": st.sampled_from(["id", "id,title", "year,id,genres"]),
        "cast": st.lists(st.sampled_from(CAST), min_size=1, max_size=2, unique=True),
        "provider": st.sampled_from(PROVIDERS),
        "sort": st.sampled_from(["title", "-title", "year", "-year"]),
    },
).filter(ordered_years)


def walk(api: Api, params: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], set[int]]:
    """Every page of a query; the totals reported on the way."""
    items: list[dict[str, Any]] = []
    totals: set[int] = set()
    cursor = None
    for _ in range(1000):
        page_params = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get("/v1/movies", params=page_params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("the walk did not end")


@settings(max_examples=60, deadline=None)
@given(params=queries, limit=st.sampled_from([1, 3, 7, 20, 100]))
def test_every_filter_combination_matches_the_model(
    api: Api, params: dict[str, Any], limit: int
) -> None:
    database = {"source": "database"}
    before = metric(api.url, "moviestore_api_list_answers_total", database)
    expected = select(api.movies, params)
    items, totals = walk(api, params, limit)
    if api.plan == "search-index":  # every page computed was found in the index
        assert metric(api.url, "moviestore_api_list_answers_total", database) == before
    assert [m["id"] for m in items] == [m.id for m in expected]
    assert totals == {len(expected)}
    by_id = {m.id: m for m in expected}
    fields = set(params["fields"].split(",")) if "fields" in params else None
    for item in items:
        movie = by_id[item["id"]]
        if fields is not None:
            assert set(item) == fields
            assert all(item[f] == getattr(movie, f) for f in fields)
            continue
        assert (item["title"], item["year"], item["provider"]) == (
            movie.title,
            movie.year,
            movie.provider,
        )
        assert item["genres"] == movie.genres and item["cast"] == movie.cast


def test_the_default_page_is_twenty_by_title(api: Api) -> None:
    page = api.get("/v1/movies").json()
    assert [m["id"] for m in page["items"]] == [m.id for m in select(api.movies, {})[:20]]
    assert page["total"] == len(api.movies)
    assert page["next_cursor"] is not None


def test_a_detail_is_the_document_of_the_list(api: Api) -> None:
    listed = api.get("/v1/movies", params={"limit": 5, "sort": "-year"}).json()["items"]
    for item in listed:
        detail = api.get(f"/v1/movies/{item['id']}")
        assert detail.status_code == 200
        assert detail.json() == item
    missing = max(m.id for m in api.movies) + 1000
    assert api.get(f"/v1/movies/{missing}").status_code == 404


def test_genres_are_counted(api: Api) -> None:
    counts: dict[str, int] = {}
    for m in api.movies:
        for g in m.genres:
            counts[g] = counts.get(g, 0) + 1
    got = api.get("/v1/genres").json()["items"]
    assert {g["genre"]: g["count"] for g in got} == counts
    assert [g["count"] for g in got] == sorted(counts.values(), reverse=True)


def test_ingestions_of_a_provider(api: Api) -> None:
    got = api.get("/v1/providers/acme/ingestions", headers=provider_key(api, "acme")).json()
    assert got["provider"] == "acme"
    # the catalog's first load, and a commit per movie other tests add
    assert {i["status"] for i in got["items"]} == {"loaded"}
    nobody = provider_key(api, "nobody")
    assert api.get("/v1/providers/nobody/ingestions", headers=nobody).json()["items"] == []


def test_ingestions_link_their_reports_and_say_which_claims_are_stale(
    api: Api, endpoints: Endpoints
) -> None:
    provider = f"linked-{uuid.uuid4().hex[:8]}"
    key = f"reports/{provider}/catalog.json.v1.errors.ndjson"
    clients = Clients(REGION, endpoints.aws_endpoint)
    clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=b'{"summary": {}}\n')
    with psycopg.connect(api.database_url) as conn:
        conn.execute(
            "INSERT INTO ingestions (bucket, key, version, provider, status, report_key,"
            " heartbeat_at) VALUES"
            " (%(b)s, %(p)s || '/a.json', 'v1', %(p)s, 'partially_loaded', %(r)s, now()),"
            " (%(b)s, %(p)s || '/b.json', 'v2', %(p)s, 'processing', NULL,"
            "  now() - interval '1 hour'),"
            " (%(b)s, %(p)s || '/c.json', 'v3', %(p)s, 'processing', NULL, now())",
            {"b": endpoints.bucket, "p": provider, "r": key},
        )
    path, headers = f"/v1/providers/{provider}/ingestions", provider_key(api, provider)
    items = {i["key"]: i for i in api.get(path, headers=headers).json()["items"]}
    linked = items[f"{provider}/a.json"]
    assert linked["report_url"].startswith(endpoints.aws_endpoint)
    assert "X-Amz-Signature" in linked["report_url"]
    # The link alone fetches the report from the local S3: no credentials.
    assert requests.get(linked["report_url"], timeout=10).content == b'{"summary": {}}\n'
    assert (items[f"{provider}/b.json"]["stale"], items[f"{provider}/c.json"]["stale"]) == (
        True, False)  # fmt: skip
    assert linked["stale"] is False and linked["report_url"] != linked["report_key"]


def add_movie(api: Api, title: str, publish: bool) -> tuple[int, int]:
    """A new movie and a new catalog version, as an ingestion commits them."""
    with psycopg.connect(api.database_url) as conn:
        ingestion = new_ingestion(conn)
        row = conn.execute(
            """INSERT INTO movies (provider, record_key, title, year, genres, "cast",
                   content_hash, ingestion_id, source_key)
               VALUES ('acme', gen_random_uuid(), %s, 2001, '{}', '{}', 0, %s, 'k')
               RETURNING id""",
            (title, ingestion),
        ).fetchone()
        assert row is not None
        version = commit(conn, ingestion, {row[0]: "inserted"})
    api.movies.append(Movie(row[0], "acme", title, 2001, [], []))  # the model follows
    if publish:
        redis.Redis.from_url(api.redis_url).publish(CHANNEL, version)
    return row[0], version


def eventually_listed(api: Api, title: str, movie_id: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = api.get("/v1/movies", params={"title": title}).json()["items"]
        if [m["id"] for m in items] == [movie_id]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{title!r} not listed after {seconds} s")


def test_a_new_catalog_version_is_answered_at_once(api: Api) -> None:
    for publish in (True, False):  # published on Redis, or found by polling PostgreSQL
        title = f"Brand New Movie {uuid.uuid4().hex}"
        # cached answers (memory, Redis) of the current version: nothing found
        for _ in range(3):
            assert api.get("/v1/movies", params={"title": title}).json()["total"] == 0
        other = {"year": 2001, "provider": "acme", "limit": 100}
        before = api.get("/v1/movies", params=other).json()
        movie_id, _ = add_movie(api, title, publish)
        eventually_listed(api, title, movie_id, 5)
        # Every cached answer the new movie touches is answered anew, not only the one asked
        # for (within the poll interval: each server process moves on its own).
        deadline = time.monotonic() + 5
        while api.get("/v1/movies", params=other).json()["total"] != before["total"] + 1:
            assert time.monotonic() < deadline, "an answer of the old version is still served"
            time.sleep(0.05)


def test_a_walk_survives_a_catalog_change(api: Api) -> None:
    """Keyset pagination: movies added mid-walk never make a page repeat or skip another."""
    params = {"sort": "year", "limit": 50}
    expected_before = {m.id for m in api.movies}
    first = api.get("/v1/movies", params=params).json()
    add_movie(api, "Aaa Inserted Mid-Walk", publish=True)
    seen = [m["id"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get("/v1/movies", params={**params, "cursor": cursor}).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert expected_before <= set(seen)
