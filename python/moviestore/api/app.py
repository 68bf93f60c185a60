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
from urllib.parse import quote, urlencode

import orjson

from moviestore.api import metrics, openapi, params
from moviestore.api.answer_cache import Answer
from moviestore.api.bootstrap import Components
from moviestore.api.catalog import Gone, NotFound
from moviestore.api.changes import GENRES, Dependency, OfList, OfMovie
from moviestore.api.database import Unavailable
from moviestore.api.encoding import Negotiator, encoded
from moviestore.api.framework import Request, Response, Robyn, new_app
from moviestore.api.keys import Client
from moviestore.api.limits import retry_after
from moviestore.api.problems import CONTENT_TYPE, Problem
from moviestore.api.search_index import Built
from moviestore.catalog.keys import answer_key, movie_key
from moviestore.catalog.query import LIMIT_DEFAULT
from moviestore.logs import correlated, event
from moviestore.settings import anonymous_reads

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
# The routes a key reads (the rest are the operations' and the docs').
KEYED = frozenset({"movies", "movie", "genres", "ingestions"})
CORS_EXPOSED = "ETag, Link, Retry-After, RateLimit, RateLimit-Policy, X-Request-ID"
CORS_ALLOWED_HEADERS = "Authorization, X-API-Key, If-None-Match, X-Request-ID"
CORS_MAX_AGE = "600"


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
    if path.startswith("/docs/"):
        return "docs"
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
    """RFC 9110 weak comparison, as If-None-Match requires; the ETag of any coding of the
    answer (``"<tag>-gzip"``, ``"<tag>-br"``) matches it too: they decode to the same bytes."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    base = etag[:-1]
    for given in if_none_match.split(","):
        tag = given.strip().removeprefix("W/")
        if tag == etag or (tag.startswith(base) and tag[len(base) :] in CODED_SUFFIXES):
            return True
    return False


CODED_SUFFIXES = frozenset({'-gzip"', '-br"'})


def presented_key(request: Request) -> str | None:
    """The key of ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    headers = request.headers
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, key = authorization.strip().partition(" ")
        return key.strip() if scheme.lower() == "bearer" else ""
    return headers.get("x-api-key")


class Api:
    def __init__(self, components: Components):
        settings = components.settings
        self.components = components
        self.answers, self.catalog = components.answers, components.catalog
        self.version, self.cursors = components.version, components.cursors
        self.cache_control = f"public, max-age={settings.api_client_max_age_seconds}"
        self.access_log = settings.api_access_log
        self.keys, self.limiter = components.keys, components.limiter
        self.anonymous = anonymous_reads(settings)
        self.anonymous_rate = settings.api_anonymous_rate or 0
        self.limiting = settings.api_rate_limits
        self.origins = frozenset(settings.api_cors_origins)
        self.negotiator = Negotiator()
        self.inflight = 0
        self.draining = False

    # --- the in-memory front -------------------------------------------------------------

    def front(self, request: Request) -> Request | Response:
        started = time.perf_counter()
        path = request.url.path
        route = route_of(path)
        method = request.method
        if route is None or method not in SERVED_METHODS:
            rid = request_id(request)
            if route is not None and method == "OPTIONS":
                return self.finish(route, started, rid, self.preflight(request, rid))
            if route is None:
                problem = Problem(404, "not-found", f"no such path: {path}")
            else:
                problem = Problem(405, "method-not-allowed", f"{method} is not served")
            return self.finish(route or "unknown", started, rid,
                               self.problem(problem, request, rid))  # fmt: skip
        headers = request.headers
        if headers.get("content-length") not in (None, "0") or headers.get("transfer-encoding"):
            rid = request_id(request)
            body = Problem(413, "body-not-allowed", "a read request takes no body")
            return self.finish(route, started, rid, self.problem(body, request, rid))
        limits: dict[str, str] | None = None
        if route in KEYED:
            admitted = self.admit(request, route, path)
            if isinstance(admitted, Problem):
                rid = request_id(request)
                return self.finish(route, started, rid, self.problem(admitted, request, rid))
            limits = admitted
        answer = self.answers.cached(memory_key(path, request))
        if answer is None:
            return request
        metrics.MEMORY_HITS.inc()
        rid = request_id(request)
        return self.finish(route, started, rid, self.answer(request, answer, rid, limits))

    # --- keys, limits, CORS ----------------------------------------------------------------

    def client(self, request: Request) -> Client | Problem:
        key = presented_key(request)
        if key is None:
            if self.anonymous:
                return Client(None, None, self.anonymous_rate)
            return Problem(401, "unauthorized", "send a key: Authorization: Bearer <key> or "
                           "X-API-Key: <key>")  # fmt: skip
        found = self.keys.find(key)
        if found is not None:
            return found
        if not self.keys.loaded:
            return Problem(503, "unavailable", "the API keys are not read yet")
        return Problem(401, "unauthorized", "this key is not valid (unknown or revoked)")

    def admit(self, request: Request, route: str, path: str) -> dict[str, str] | Problem:
        """The request's key checked (in memory), its provider's routes, one of its tokens:
        the rate limit headers of its answer, or the problem that refuses it."""
        client = self.client(request)
        if isinstance(client, Problem):
            return client
        if route == "ingestions":
            if client.key_id is None:
                return Problem(401, "unauthorized", "a provider's ingestions need its key")
            try:
                provider = params.provider_name(
                    params.unquote(path.split("/")[3], "provider"), "provider"
                )
            except Problem as bad:
                return bad
            if provider != client.provider:
                return Problem(403, "forbidden", "this key may read its own provider's "
                               "ingestions only")  # fmt: skip
        if not self.limiting or not client.rate:
            return {}
        wait, left = self.limiter.take(bucket_name(request, client), client.rate)
        if wait > 0:
            problem = Problem(429, "rate-limited", f"at most {client.rate} requests a second")
            problem.retry_after = retry_after(wait)
            return problem
        return rate_headers(client.rate, left, 0.0)

    def limit_headers(self, request: Request) -> dict[str, str]:
        """The key's policy and what is left of it now, without taking a token."""
        client = self.client(request)
        if isinstance(client, Problem) or not self.limiting or not client.rate:
            return {}
        left, wait = self.limiter.state(bucket_name(request, client))
        return rate_headers(client.rate, left, wait)

    def cors(self, request: Request, headers: dict[str, str]) -> None:
        if not self.origins:
            return
        origin = request.headers.get("origin")
        if origin is None:
            return
        if "*" in self.origins:
            headers["access-control-allow-origin"] = "*"
        elif origin in self.origins:
            headers["access-control-allow-origin"] = origin
            headers["vary"] = f"{headers['vary']}, Origin" if "vary" in headers else "Origin"
        else:
            return
        headers["access-control-expose-headers"] = CORS_EXPOSED

    def preflight(self, request: Request, rid: str) -> Response:
        headers = {"allow": ALLOW, "x-request-id": rid, "cache-control": "no-store"}
        self.cors(request, headers)
        if "access-control-allow-origin" in headers:
            headers["access-control-allow-methods"] = ALLOW
            headers["access-control-allow-headers"] = CORS_ALLOWED_HEADERS
            headers["access-control-max-age"] = CORS_MAX_AGE
        return Response(204, headers, b"")

    # --- answers -------------------------------------------------------------------------

    def answer(
        self, request: Request, answer: Answer, rid: str, limits: dict[str, str] | None,
        content_type: str = JSON,
    ) -> Response:  # fmt: skip
        headers = {
            "cache-control": self.cache_control,
            "x-request-id": rid,
            "vary": "Accept-Encoding",
        }
        if self.draining:
            headers["connection"] = "close"
        if answer.link:
            headers["link"] = answer.link
        self.cors(request, headers)
        if limits:
            headers.update(limits)
        body, etag = answer.body, answer.etag
        coding = self.negotiator.coding(request.headers.get("accept-encoding"))
        if coding is not None:
            coded = encoded(answer, coding)
            if coded is not None:
                body, etag = coded, f'{etag[:-1]}-{coding}"'
                headers["content-encoding"] = coding
        headers["etag"] = etag
        if matches(request.headers.get("if-none-match"), answer.etag):
            headers.pop("content-encoding", None)
            return Response(304, headers, b"")
        headers["content-type"] = content_type
        return Response(200, headers, body)

    def problem(self, problem: Problem, request: Request, rid: str) -> Response:
        headers = {"content-type": CONTENT_TYPE, "x-request-id": rid, "cache-control": "no-store"}
        if problem.status == 405:
            headers["allow"] = ALLOW
        if problem.status == 413:
            headers["connection"] = "close"  # the body is not read: the connection is spent
        if problem.status == 401:
            headers["www-authenticate"] = 'Bearer realm="moviestore"'
        if problem.retry_after is not None:
            headers["retry-after"] = str(problem.retry_after)
        elif problem.status == 503:
            headers["retry-after"] = "1"
        if problem.status == 429:
            headers.update(self.limit_headers(request))
        self.cors(request, headers)
        return Response(problem.status, headers, problem.body(request.url.path, rid))

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
                    response = self.problem(p, request, rid)
                except NotFound as e:
                    response = self.problem(Problem(404, "not-found", str(e)), request, rid)
                except Gone as e:
                    response = self.problem(Problem(410, "gone", str(e)), request, rid)
                except Unavailable as e:
                    response = self.problem(Problem(503, "unavailable", str(e)), request, rid)
                except Exception:
                    log.exception("request failed")
                    internal = Problem(500, "internal", "an internal error; it is logged")
                    response = self.problem(internal, request, rid)
                else:
                    metrics.MEMORY_MISSES.inc()
                    response = self.answer(request, answer, rid, self.limit_headers(request))
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
            given = params.decode(request.query_params.multi_items(), params.MOVIE_PARAMETERS)
            q = params.query_of(given)
            after = self.cursors.decode(q.cursor, q.sort, q.filters) if q.cursor else None
            index = self.version.view.index
            title = index.lowered(q.title) if index is not None and q.title is not None else None
            answer = await self.answers.answer(
                memory_key(request.url.path, request),
                answer_key("movies", q.digest),
                OfList(q, title),
                lambda view: self.catalog.movies(q, after, view),
            )
            if answer.link is None:
                answer.link = next_link(request.url.path, given, answer.body)
            return answer

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

    def static(
        self, answer: Answer, content_type: str, policy: str | None = None
    ) -> Callable[[Request], Response]:
        """The OpenAPI document and the docs page's files: compressed once, with ETags."""

        def handler(request: Request) -> Response:
            response = self.answer(request, answer, request_id(request), None, content_type)
            if policy is not None:
                response.headers.set("content-security-policy", policy)
            return response

        return handler


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


def rate_headers(rate: int, left: float, wait: float) -> dict[str, str]:
    """The key's policy and what is left of it (draft-ietf-httpapi-ratelimit-headers)."""
    reset = 0 if wait <= 0 else retry_after(wait)
    return {
        "ratelimit-policy": f'"key";q={rate};w=1',
        "ratelimit": f'"key";r={int(left)};t={reset}',
    }


def bucket_name(request: Request, client: Client) -> str:
    """Whose tokens a request takes: its key's, or (anonymous) its address's."""
    return client.key_id if client.key_id is not None else f"address:{request.ip_addr}"


NEXT_CURSOR = b',"next_cursor":"'


def next_link(path: str, given: dict[str, list[str]], body: bytes) -> str:
    """``Link: <next page>; rel="next"`` beside ``next_cursor`` (RFC 8288), as a reference
    relative to the request's URL; "" on the last page. The cursor is found in the bytes, where
    ``Catalog.page`` wrote it last but one (a title's quote would be escaped)."""
    at = body.rfind(NEXT_CURSOR)
    if at < 0:
        return ""
    start = at + len(NEXT_CURSOR)
    cursor = body[start : body.index(b'"', start)].decode()
    pairs = [(k, v) for k, values in sorted(given.items()) if k != "cursor" for v in values]
    return f'<{path}?{urlencode([*pairs, ("cursor", cursor)], quote_via=quote)}>; rel="next"'


def memory_key(path: str, request: Request) -> Hashable:
    # The raw (still percent-encoded) parameters, in a canonical order: `?a=1&b=2` and
    # `?b=2&a=1` share an answer, and no decoding is paid on a hit.
    return (path, tuple(sorted(request.query_params.multi_items())))


def create_app(components: Components) -> tuple[Robyn, Api]:
    app = new_app(__file__)
    api = Api(components)
    app.before_request()(api.front)
    document = Answer.of(orjson.dumps(openapi.document()))
    routes: dict[str, Callable[[Request], Any]] = {
        "/v1/movies": api.movies,
        "/v1/movies/:id": api.movie,
        "/v1/genres": api.genres,
        "/v1/providers/:provider/ingestions": api.ingestions,
        "/healthz": api.healthz,
        "/readyz": api.readyz,
        "/metrics": api.metrics,
        "/openapi.json": api.static(document, JSON),
    }
    for path, (content_type, body) in openapi.docs_files().items():
        routes[path] = api.static(Answer.of(body), content_type, openapi.DOCS_POLICY)
    for path, handler in routes.items():
        app.get(path)(handler)
        app.head(path)(handler)
    return app, api
