"""The Robyn application: the HTTP layer.

A request first meets ``Api.front`` (a global before-request middleware, synchronous): an answer
already in this process's memory, good at the current catalog version, is sent from there, with
its ETag (304 on a match), before any route handler runs. Otherwise the async route handler
reads top to bottom: parameters → the answer cache (Redis) → the catalog (search index → rows →
bytes), and the answer is kept for the next client. Every error is a problem document: 400/404/
405 for the client's mistakes, 503 when PostgreSQL is unavailable, 500 for a fault of ours,
never a bare error page.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import orjson

from moviestore.api import metrics, openapi, params
from moviestore.api.answer_cache import Answer
from moviestore.api.bootstrap import Components
from moviestore.api.catalog import Gone, NotFound
from moviestore.api.changes import GENRES, Dependency, OfList, OfMovie
from moviestore.api.database import Unavailable
from moviestore.api.framework import Request, Response, Robyn, new_app
from moviestore.api.problems import CONTENT_TYPE, Problem
from moviestore.api.search_index import Built
from moviestore.catalog.keys import answer_key, movie_key
from moviestore.catalog.query import LIMIT_DEFAULT
from moviestore.logs import correlated, event

log = logging.getLogger("moviestore.api")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
JSON = "application/json"
INGESTION_PARAMETERS = frozenset({"limit"})
# HEAD is GET without the body: the same handlers answer it, and actix sends their headers
# (Content-Length of the body included) without the body.
SERVED_METHODS = frozenset({"GET", "HEAD"})
ALLOW = "GET, HEAD"
OPERATIONS = {"/healthz": "healthz", "/readyz": "readyz", "/metrics": "metrics",
              "/openapi.json": "openapi", "/docs": "docs"}  # fmt: skip


def route_of(path: str) -> str | None:
    """The route a path belongs to (the metrics label), or None for an unknown path."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "v1":
        if parts[2] == "movies":
            return {3: "movies", 4: "movie"}.get(len(parts))
        if parts[2] == "genres" and len(parts) == 3:
            return "genres"
        if parts[2] == "providers" and len(parts) == 5 and parts[4] == "ingestions":
            return "ingestions"
        return None
    return OPERATIONS.get(path)


class RequestIds:
    """Generated request ids: a random prefix per process and a counter (a uuid4 per request
    costs more than the rest of a cached answer)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        """Called after a fork: each server process gets its own prefix."""
        self.prefix, self.counter = uuid.uuid4().hex[:12], itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}-{next(self.counter):x}"


REQUEST_IDS = RequestIds()


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given is not None and REQUEST_ID.fullmatch(given):
        return given
    return REQUEST_IDS.next()


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


class Api:
    def __init__(self, components: Components):
        settings = components.settings
        self.components = components
        self.answers, self.catalog = components.answers, components.catalog
        self.version, self.cursors = components.version, components.cursors
        self.cache_control = f"public, max-age={settings.api_client_max_age_seconds}"
        self.access_log = settings.api_access_log
        self.inflight = 0
        self.draining = False

    # --- the in-memory front -------------------------------------------------------------

    def front(self, request: Request) -> Request | Response:
        started = time.perf_counter()
        path = request.url.path
        route = route_of(path)
        if route is None or request.method not in SERVED_METHODS:
            rid = request_id(request)
            if route is None:
                problem = Problem(404, "not-found", f"no such path: {path}")
            else:
                problem = Problem(405, "method-not-allowed", f"{request.method} is not served")
            return self.finish(route or "unknown", started, rid, self.problem(problem, path, rid))
        answer = self.answers.cached(memory_key(path, request))
        if answer is None:
            return request
        metrics.MEMORY_HITS.inc()
        rid = request_id(request)
        return self.finish(route, started, rid, self.answer(request, answer, rid))

    def answer(self, request: Request, answer: Answer, rid: str) -> Response:
        headers = {
            "etag": answer.etag,
            "cache-control": self.cache_control,
            "x-request-id": rid,
        }
        if self.draining:
            headers["connection"] = "close"
        if matches(request.headers.get("if-none-match"), answer.etag):
            return Response(304, headers, b"")
        headers["content-type"] = JSON
        return Response(200, headers, answer.body)

    def problem(self, problem: Problem, path: str, rid: str) -> Response:
        headers = {"content-type": CONTENT_TYPE, "x-request-id": rid, "cache-control": "no-store"}
        if problem.status == 405:
            headers["allow"] = ALLOW
        if problem.status == 503:
            headers["retry-after"] = "1"
        return Response(problem.status, headers, problem.body(path, rid))

    def finish(self, route: str, started: float, rid: str, response: Response) -> Response:
        seconds = time.perf_counter() - started
        metrics.answered(route, response.status_code, seconds)
        if self.access_log:
            event(log, logging.INFO, "request", route=route, status=response.status_code,
                  ms=round(seconds * 1000, 3), request_id=rid)  # fmt: skip
        return response

    # --- the handlers behind it ----------------------------------------------------------

    async def handle(
        self, route: str, request: Request, compute: Callable[[], Awaitable[Answer]]
    ) -> Response:
        started = time.perf_counter()
        rid = request_id(request)
        self.inflight += 1
        try:
            with correlated(request_id=rid, route=route):
                try:
                    answer = await compute()
                except Problem as p:
                    response = self.problem(p, request.url.path, rid)
                except NotFound as e:
                    response = self.problem(Problem(404, "not-found", str(e)), request.url.path,
                                            rid)  # fmt: skip
                except Gone as e:
                    response = self.problem(Problem(410, "gone", str(e)), request.url.path, rid)
                except Unavailable as e:
                    response = self.problem(Problem(503, "unavailable", str(e)),
                                            request.url.path, rid)  # fmt: skip
                except Exception:
                    log.exception("request failed")
                    internal = Problem(500, "internal", "an internal error; it is logged")
                    response = self.problem(internal, request.url.path, rid)
                else:
                    metrics.MEMORY_MISSES.inc()
                    response = self.answer(request, answer, rid)
            return self.finish(route, started, rid, response)
        finally:
            self.inflight -= 1

    async def cached(
        self, request: Request, key: str, dependency: Dependency,
        compute: Callable[[], Awaitable[Answer]],
    ) -> Answer:  # fmt: skip
        return await self.answers.answer(
            memory_key(request.url.path, request), key, dependency, lambda _view: compute()
        )

    async def movies(self, request: Request) -> Response:
        async def compute() -> Answer:
            q = params.movie_query(request.query_params.multi_items())
            after = self.cursors.decode(q.cursor, q.sort, q.filters) if q.cursor else None
            index = self.version.view.index
            title = index.lowered(q.title) if index is not None and q.title is not None else None
            return await self.answers.answer(
                memory_key(request.url.path, request),
                answer_key("movies", q.digest),
                OfList(q, title),
                lambda view: self.catalog.movies(q, after, view),
            )

        return await self.handle("movies", request, compute)

    async def movie(self, request: Request) -> Response:
        async def compute() -> Answer:
            params.decode(request.query_params.multi_items(), frozenset())
            movie_id = params.movie_id(request.path_params["id"])
            return await self.cached(
                request, movie_key(movie_id), OfMovie(movie_id),
                lambda: self.catalog.movie(movie_id),
            )  # fmt: skip

        return await self.handle("movie", request, compute)

    async def genres(self, request: Request) -> Response:
        async def compute() -> Answer:
            params.decode(request.query_params.multi_items(), frozenset())
            return await self.cached(
                request, answer_key("genres", "all"), GENRES, self.catalog.genres
            )

        return await self.handle("genres", request, compute)

    async def ingestions(self, request: Request) -> Response:
        async def compute() -> Answer:
            given = params.decode(request.query_params.multi_items(), INGESTION_PARAMETERS)
            provider = params.provider_name(
                params.unquote(request.path_params["provider"], "provider"), "provider"
            )
            limit = params.limit(given.get("limit", [None])[0], LIMIT_DEFAULT)
            # Never cached: a file's status changes without the catalog changing (a rejection).
            return await self.catalog.ingestions(provider, limit)

        return await self.handle("ingestions", request, compute)

    # --- operations ----------------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        return operation(request, 200, JSON, b'{"status":"ok"}')

    async def readyz(self, request: Request) -> Response:
        database = await self.components.database.up()
        redis = await self.answers.shared.ping()
        view = self.version.view
        status = ("ready" if redis else "degraded") if database else "unavailable"
        if self.draining:
            status = "draining"
        report = {
            "status": status,
            "postgres": "up" if database else "down",
            "redis": "up" if redis else "down",
            "catalog_version": view.version,
            "search_index": index_state(self.components.settings.api_search_index, view.index),
        }
        ready = database and not self.draining
        return operation(request, 200 if ready else 503, JSON, orjson.dumps(report))

    def metrics(self, request: Request) -> Response:
        body, content_type = metrics.exposition()
        return operation(request, 200, content_type, body)


def index_state(enabled: bool, built: Built | None) -> dict[str, object]:
    if not enabled:
        return {"status": "off"}
    if built is None:
        return {"status": "building"}
    return {"status": "ready", "catalog_version": built.version, "movies": len(built.index)}


def operation(request: Request, status: int, content_type: str, body: bytes) -> Response:
    """An answer of the operations routes: never cached, with the request's id."""
    headers = {
        "content-type": content_type,
        "cache-control": "no-store",
        "x-request-id": request_id(request),
    }
    return Response(status, headers, body)


def memory_key(path: str, request: Request) -> Hashable:
    # The raw (still percent-encoded) parameters, in a canonical order: `?a=1&b=2` and
    # `?b=2&a=1` share an answer, and no decoding is paid on a hit.
    return (path, tuple(sorted(request.query_params.multi_items())))


def create_app(components: Components) -> tuple[Robyn, Api]:
    app = new_app(__file__)
    api = Api(components)
    app.before_request()(api.front)
    document = orjson.dumps(openapi.document())
    routes: dict[str, Callable[[Request], Any]] = {
        "/v1/movies": api.movies,
        "/v1/movies/:id": api.movie,
        "/v1/genres": api.genres,
        "/v1/providers/:provider/ingestions": api.ingestions,
        "/healthz": api.healthz,
        "/readyz": api.readyz,
        "/metrics": api.metrics,
        "/openapi.json": constant(document, JSON),
        "/docs": constant(openapi.docs_page().encode(), "text/html; charset=utf-8"),
    }
    for path, handler in routes.items():
        app.get(path)(handler)
        app.head(path)(handler)
    return app, api


def constant(body: bytes, content_type: str) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        return Response(200, {"content-type": content_type}, body)

    return handler
