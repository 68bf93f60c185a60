"""Locust suites for the catalog API: the traffic the release gates measure.

* ``Reader`` (FastHttpUser): API clients with a weighted mix of list queries by genre and year,
  title substring searches, cast searches, detail lookups, pagination walks that follow
  ``next_cursor`` and conditional requests (``If-None-Match``, expecting 304). Every parameter
  comes from the catalog actually loaded: at test start a few pages of ``/v1/movies`` and
  ``/v1/genres`` are sampled from the API itself.
* ``Provider`` (only with ``--provider-scenario``; one user): uploads a small generated catalog
  file to ``s3://$MOVIESTORE_S3_BUCKET/providers/{provider}/`` and polls the API until all its
  movies are queryable; that time is reported as request type ``INGEST``, name
  ``upload->queryable``, so it lands in locust's statistics and CSV like any request.

Requests are named by endpoint group (``list``, ``search:title``, ``search:cast``, ``detail``,
``page``, ``conditional``; ``ingest:poll`` for the provider's polling) so that each group has its
own percentiles and its own gate (``benchmarks/gates.toml``). Run by hand:

    .venv/bin/locust -f benchmarks/locustfile.py --host http://127.0.0.1:8080
    .venv/bin/locust -f benchmarks/locustfile.py --host URL --headless -u 20 -r 10 -t 60s \\
        --csv out/locust --provider-scenario

or through ``moviestore bench gate``, which also evaluates the gates.
"""

from __future__ import annotations

import logging
import os
import random
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import gevent  # type: ignore[import-untyped]
import orjson
from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from generate import MovieFactory, dumps
from moviestore.aws.clients import Clients

log = logging.getLogger("moviestore.locust")

INGEST_TYPE, INGEST_NAME = "INGEST", "upload->queryable"
SORTS = ("title", "-title", "year", "-year")
JSON = {"Accept": "application/json"}
Params = list[tuple[str, str | int]]


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def add_arguments(parser: LocustArgumentParser) -> None:
    parser.add_argument(
        "--think-time",
        type=float,
        default=0.1,
        help="a reader's longest pause between requests (s)",
    )
    parser.add_argument(
        "--provider-scenario",
        action="store_true",
        default=False,
        help="also run one Provider user: upload a catalog, time until it is queryable",
    )
    parser.add_argument("--ingest-provider", default="loadtest", help="the provider it uploads as")
    parser.add_argument("--ingest-records", type=int, default=50, help="movies per uploaded file")
    parser.add_argument(
        "--ingest-interval", type=float, default=15.0, help="pause between two uploads (s)"
    )
    parser.add_argument(
        "--ingest-timeout", type=float, default=300.0, help="give up on an upload after (s)"
    )


def option(environment: Environment, name: str, default: Any) -> Any:
    return getattr(environment.parsed_options, name, default)


@events.init.add_listener  # type: ignore[untyped-decorator]
def drop_provider_unless_asked(environment: Environment, **_: Any) -> None:
    # The provider writes to S3 and to the catalog: never by accident.
    if not option(environment, "provider_scenario", False):
        environment.user_classes[:] = [u for u in environment.user_classes if u is not Provider]


@events.init.add_listener  # type: ignore[untyped-decorator]
def refresh_the_clock(**_: Any) -> None:
    # gevent's loop caches "now" from before this file's imports (a second or two): locust's
    # --run-time timer, armed next, would fire that much early; a 3 s run would not even start.
    gevent.get_hub().loop.update_now()


# --- the catalog sample ---------------------------------------------------------------------


@dataclass
class Movie:
    id: str
    title: str
    year: int
    genres: list[str]
    cast: list[str]


@dataclass
class Sample:
    """What readers ask for, drawn from the catalog loaded (not a list of five titles)."""

    movies: list[Movie] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    genre_counts: list[int] = field(default_factory=list)
    title_parts: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


SAMPLE = Sample()


def fetch(host: str, path: str, params: Params) -> Any:
    query = "?" + urlencode(params) if params else ""
    request = urllib.request.Request(host.rstrip("/") + path + query, headers=JSON)
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def title_part(title: str, rng: random.Random) -> str | None:
    """A case-varied substring of a real title: what a user types into a search box."""
    title = title.strip()
    if len(title) < 3:
        return None
    size = rng.randint(3, min(8, len(title)))
    start = rng.randint(0, len(title) - size)
    part = title[start : start + size].strip()
    if len(part) < 3:
        return None
    return part.lower() if rng.random() < 0.5 else part


def sample_catalog(host: str, rng: random.Random) -> Sample:
    """A few hundred movies from opposite ends of every sort order, some years and genres."""
    genres = fetch(host, "/v1/genres", [])["items"]
    seen: dict[str, Movie] = {}

    def take(params: Params) -> None:
        for item in fetch(host, "/v1/movies", [*params, ("limit", 100)])["items"]:
            movie = Movie(
                str(item["id"]), item["title"], int(item["year"]), item["genres"], item["cast"]
            )
            seen[movie.id] = movie

    for sort in SORTS:
        take([("sort", sort)])
    years = sorted({m.year for m in seen.values()})
    for year in rng.sample(years, k=min(6, len(years))):
        take([("year", year)])
    for g in rng.sample(genres, k=min(4, len(genres))):
        take([("genre", g["genre"]), ("sort", "-year")])
    movies = list(seen.values())
    parts = [p for p in (title_part(m.title, rng) for m in movies) if p]
    return Sample(
        movies=movies,
        genres=[g["genre"] for g in genres if g["count"] > 0],
        genre_counts=[g["count"] for g in genres if g["count"] > 0],
        title_parts=parts,
        cast=sorted({name for m in movies for name in m.cast}),
        years=sorted({m.year for m in movies}),
    )


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def sample_the_catalog(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner) or not environment.host:
        return  # the master runs no users; without a host there is nothing to sample
    started = time.perf_counter()
    try:
        sample = sample_catalog(environment.host, random.Random(20240917))
    except Exception as e:
        log.error("cannot sample the catalog from %s: %r", environment.host, e)
        return
    if not sample.movies or not sample.genres:
        log.error("the catalog at %s is empty: load one before measuring", environment.host)
        return
    SAMPLE.__dict__.update(sample.__dict__)
    log.info(
        "sampled %d movies, %d genres, %d cast names in %.1f s",
        len(sample.movies),
        len(sample.genres),
        len(sample.cast),
        time.perf_counter() - started,
    )


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def write_final_csv(environment: Environment, **_: Any) -> None:
    # Locust rewrites its CSV every second and not at exit: the last second of the run would be
    # missing from what the gates are judged on. Users have stopped by now; wait one more pass.
    if environment.parsed_options is not None and environment.parsed_options.csv_prefix:
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)


# --- readers --------------------------------------------------------------------------------


class Reader(FastHttpUser):
    """An API client. Weights: what a catalog's clients mostly do is list and look up."""

    weight = 10

    def wait_time(self) -> float:
        return random.uniform(0, float(option(self.environment, "think_time", 0.1)))

    def on_start(self) -> None:
        if not SAMPLE.movies:
            raise StopUser  # sampling failed and said why; no request can be drawn
        self.etags: dict[str, str] = {}

    # -- tasks

    @task(30)
    def list_by_genre_and_year(self) -> None:
        """Mostly a genre and year of a real movie (a match), else a genre and a decade."""
        movie = random.choice(SAMPLE.movies)
        if movie.genres and random.random() < 0.7:
            params: Params = [("genre", random.choice(movie.genres)), ("year", movie.year)]
            self.movies(params, "list", must_match=True)
        else:
            self.movies([*self.genre_and_decade(), ("sort", random.choice(SORTS))], "list")

    @task(15)
    def search_title(self) -> None:
        self.movies([("title", random.choice(SAMPLE.title_parts))], "search:title", must_match=True)

    @task(10)
    def search_cast(self) -> None:
        params: Params = [("cast", random.choice(SAMPLE.cast))]
        self.movies(params, "search:cast", must_match=True)

    @task(25)
    def detail(self) -> None:
        self.movie(random.choice(SAMPLE.movies).id)

    @task(8)
    def pagination_walk(self) -> None:
        params: Params = [self.genre()] if random.random() < 0.5 else self.genre_and_decade()
        params += [("sort", random.choice(SORTS)), ("limit", random.choice((10, 20, 50)))]
        body = self.movies(params, "list")
        for _ in range(random.randint(2, 5)):
            if body is None or not body.get("next_cursor"):
                return
            body = self.movies([*params, ("cursor", body["next_cursor"])], "page")

    @task(12)
    def conditional(self) -> None:
        if not self.etags:
            self.movie(random.choice(SAMPLE.movies).id)
            return
        path, etag = random.choice(list(self.etags.items()))
        headers = {**JSON, "If-None-Match": etag}
        with self.client.get(path, headers=headers, name="conditional", catch_response=True) as r:
            if r.status_code == 304:
                r.success()
            elif r.status_code == 200 and etag_of(r) not in (None, etag):
                self.remember(path, etag_of(r))  # the catalog changed: a new version is right
                r.success()
            else:
                r.failure(f"expected 304 for a current ETag, got {r.status_code}")

    # -- requests

    def genre(self) -> tuple[str, str | int]:
        """A genre, popular ones more often (as clients browse)."""
        return ("genre", random.choices(SAMPLE.genres, weights=SAMPLE.genre_counts)[0])

    def genre_and_decade(self) -> Params:
        decade = random.choice(SAMPLE.years) // 10 * 10
        return [self.genre(), ("year_from", decade), ("year_to", decade + 9)]

    def movies(self, params: Params, name: str, must_match: bool = False) -> dict[str, Any] | None:
        path = "/v1/movies?" + urlencode(params)
        with self.client.get(path, headers=JSON, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {(r.text or '')[:200]}")
                return None
            try:
                body: dict[str, Any] = orjson.loads(r.content or b"")
                items, total = body["items"], body["total"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                r.failure(f"not a movie list: {e!r}")
                return None
            if must_match and (total < 1 or not items):
                r.failure(f"no match for {params}, which was drawn from the catalog")
                return None
            if len(self.etags) < 20 and (tag := etag_of(r)):
                self.remember(path, tag)
            return body

    def movie(self, movie_id: str) -> None:
        path = f"/v1/movies/{movie_id}"
        with self.client.get(path, headers=JSON, name="detail", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code} for a movie id drawn from the catalog")
                return
            try:
                same = str(orjson.loads(r.content or b"")["id"]) == movie_id
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                r.failure(f"not a movie: {e!r}")
                return
            if not same:
                r.failure(f"asked for movie {movie_id}, got another")
            elif tag := etag_of(r):
                self.remember(path, tag)

    def remember(self, path: str, etag: str | None) -> None:
        if etag is None:
            return
        if len(self.etags) >= 50:
            self.etags.pop(next(iter(self.etags)))
        self.etags[path] = etag


def etag_of(response: Any) -> str | None:
    if response.headers is None:
        return None
    value = response.headers.get("ETag")
    return str(value) if value else None


# --- the provider scenario ------------------------------------------------------------------


def catalog_file(token: str, records: int) -> bytes:
    """``records`` realistic movies as NDJSON, every title carrying ``token`` to find them by."""
    factory = MovieFactory(random.Random(token))
    lines = []
    for _ in range(records):
        movie = factory.movie()
        movie["title"] = f"{movie['title']} {token}"
        lines.append(dumps(movie))
    return b"\n".join(lines) + b"\n"


class Provider(FastHttpUser):
    """One provider uploading a file now and then, timing upload → queryable through the API."""

    fixed_count = 1
    weight = 1

    def wait_time(self) -> float:
        return float(option(self.environment, "ingest_interval", 15.0))

    def on_start(self) -> None:
        bucket = os.environ.get("MOVIESTORE_S3_BUCKET")
        if not bucket:
            log.error("the provider scenario needs MOVIESTORE_S3_BUCKET (and AWS credentials)")
            raise StopUser
        region = os.environ.get("MOVIESTORE_AWS_REGION", "us-east-1")
        self.s3 = Clients(region, os.environ.get("MOVIESTORE_AWS_ENDPOINT_URL") or None).s3
        self.bucket = bucket

    @task
    def upload_and_wait(self) -> None:
        provider = str(option(self.environment, "ingest_provider", "loadtest"))
        records = int(option(self.environment, "ingest_records", 50))
        timeout = float(option(self.environment, "ingest_timeout", 300.0))
        token = "lt" + uuid.uuid4().hex[:12]
        body = catalog_file(token, records)
        key = f"providers/{provider}/{token}.ndjson"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        except Exception as e:
            self.report(0.0, len(body), e)
            return
        # The clock starts when S3 has the file: the provider's own upload speed is not ours.
        started = time.perf_counter()
        params: Params = [("title", token), ("provider", provider), ("limit", 1)]
        while (found := self.queryable(params)) < records:
            waited = time.perf_counter() - started
            if waited > timeout:
                error = TimeoutError(f"{found} of {records} movies of {key} after {waited:.0f} s")
                self.report(waited * 1000, len(body), error)
                return
            time.sleep(0.25)
        self.report((time.perf_counter() - started) * 1000, len(body), None)

    def queryable(self, params: Params) -> int:
        path = "/v1/movies?" + urlencode(params)
        with self.client.get(path, headers=JSON, name="ingest:poll", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return 0
            try:
                return int(orjson.loads(r.content or b"")["total"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                r.failure(f"not a movie list: {e!r}")
                return 0

    def report(self, ms: float, size: int, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=INGEST_TYPE,
            name=INGEST_NAME,
            response_time=ms,
            response_length=size,
            exception=error,
            context={},
        )
