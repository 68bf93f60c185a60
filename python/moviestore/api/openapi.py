"""The OpenAPI 3.1 document of the API, and the docs page that renders it: Swagger UI, from the
assets of the ``swagger-ui-bundle-v2`` package, served by the API itself (nothing from a CDN),
with an "Authorize" button that sends a key with the requests tried from the page.

Written out rather than generated: Robyn 0.88 leaves typed query parameters out of its own
document, and its docs page loads Swagger UI from a CDN. Tests check every route against it
(schemathesis), that it lists every route the app serves, and that the page shows every one in
headless Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle

from moviestore import __version__
from moviestore.api.cursor import MAX_LENGTH as CURSOR_MAX_LENGTH
from moviestore.api.params import (
    LIMIT_MAX,
    MAX_REPEATS,
    MAX_VALUE_CHARS,
    YEAR_MAX,
    YEAR_MIN,
)
from moviestore.api.problems import CONTENT_TYPE, TITLES, TYPE_BASE
from moviestore.catalog.documents import COLUMNS as MOVIE_FIELDS
from moviestore.catalog.query import LIMIT_DEFAULT, SORTS

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS}
YEAR = {"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
        **extra,
    }


def repeatable(name: str, description: str) -> dict[str, Any]:
    """A parameter given once per value (``?genre=a&genre=b``)."""
    schema = {"type": "array", "items": TEXT, "maxItems": MAX_REPEATS}
    return query(name, schema, description, style="form", explode=True)


def path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


KEYED_MEANING = {
    401: "No key, or a key that is not valid (unknown or revoked)",
    413: "A read request with a body",
    429: "Over the key's rate limit: retry after Retry-After seconds",
}


def problems(*statuses: int, keyed: bool = True) -> dict[str, Any]:
    """The problem answers of a route: those given, and 500 (a fault of ours) for every one; a
    keyed route's 401, 413 and 429 too."""
    meaning = {
        400: "Invalid parameter",
        403: "This key may not read this resource (another provider's)",
        404: "Not found",
        410: "Withdrawn by its provider (it may come back)",
        405: "Method not allowed",
        500: "An internal error (logged with the request id); not the client's fault",
        503: "PostgreSQL unavailable or too slow; retry after Retry-After seconds",
        **KEYED_MEANING,
    }
    answers: dict[str, Any] = {}
    for status in sorted({*statuses, 500, *(KEYED_MEANING if keyed else ())}):
        answer: dict[str, Any] = {
            "description": meaning[status],
            "content": {CONTENT_TYPE: {"schema": ref("Problem")}},
        }
        if status in (429, 503):
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        if status == 429:
            answer["headers"].update(RATE_LIMIT_HEADERS)
        answers[str(status)] = answer
    return answers


RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "schema": {"type": "string"},
        "description": "The key's quota (draft-ietf-httpapi-ratelimit-headers): "
        '"key";q=<rate>;w=1',
    },
    "RateLimit": {
        "schema": {"type": "string"},
        "description": 'What is left of it: "key";r=<requests left>;t=<seconds until the next>',
    },
}


def ok(schema: str, description: str, cached: bool = True, link: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "X-Request-ID": {"schema": {"type": "string"}, "description": "Echoed or generated"},
        "Vary": {"schema": {"type": "string"}, "description": "Accept-Encoding (and Origin)"},
        **RATE_LIMIT_HEADERS,
    }
    if cached:
        headers["ETag"] = {
            "schema": {"type": "string"},
            "description": "Of the plain bytes; a gzip or br answer's ends in -gzip or -br. "
            "If-None-Match with any of them answers 304",
        }
        headers["Cache-Control"] = {"schema": {"type": "string"}}
    if link:
        headers["Link"] = {
            "schema": {"type": "string"},
            "description": 'The next page, beside next_cursor: <...>; rel="next" (RFC 8288)',
        }
    answer: dict[str, Any] = {
        "200": {
            "description": description,
            "headers": headers,
            "content": {"application/json": {"schema": ref(schema)}},
        },
    }
    if cached:
        answer["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
    return answer


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag from an earlier answer",
}
REQUEST_ID = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Your id for this request: 1 to 128 of A-Za-z0-9._:- (anything else is "
    "replaced by a generated one); echoed, and in every log line",
}

MOVIE = {
    "type": "object",
    "required": ["id", "provider", "title", "year", "genres", "cast", "updated_at"],
    "properties": {
        "id": {"type": "integer", "description": "Use with GET /v1/movies/{id}"},
        "provider": {"type": "string"},
        "provider_id": NULLABLE_STRING,
        "title": {"type": "string"},
        "year": {"type": "integer"},
        "genres": {"type": "array", "items": {"type": "string"}},
        "cast": {"type": "array", "items": {"type": "string"}},
        "href": NULLABLE_STRING,
        "extract": NULLABLE_STRING,
        "thumbnail": NULLABLE_STRING,
        "thumbnail_width": NULLABLE_INT,
        "thumbnail_height": NULLABLE_INT,
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

INGESTION = {
    "type": "object",
    "required": ["id", "bucket", "key", "version", "status", "attempts", "started_at"],
    "properties": {
        "id": {"type": "integer"},
        "bucket": {"type": "string"},
        "key": {"type": "string"},
        "version": {"type": "string"},
        "status": {
            "enum": [
                "processing",
                "loaded",
                "partially_loaded",
                "rejected",
                "failed",
                "held",
                "confirmed",
                "discarded",
                "superseded",
            ]
        },
        "mode": {"enum": ["incremental", "snapshot"]},
        "stale": {"type": ["boolean", "null"], "description": "A claim whose worker died"},
        "attempts": {"type": "integer"},
        **{
            name: NULLABLE_INT
            for name in (
                "bytes",
                "records_total",
                "records_valid",
                "records_invalid",
                "duplicates_collapsed",
                "rows_inserted",
                "rows_updated",
                "rows_withdrawn",
                "would_withdraw",
                "catalog_movies",
            )
        },
        "error_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "error_summary": NULLABLE_STRING,
        "report_key": NULLABLE_STRING,
        "report_url": {
            "type": ["string", "null"],
            "description": "A presigned HTTPS link to the full error report; it expires",
        },
        "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "settled_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"enum": [TYPE_BASE + kind for kind in TITLES]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "parameter": {"type": "string", "description": "The parameter at fault"},
        "request_id": {"type": "string"},
    },
}


def document() -> dict[str, Any]:
    movie_list = [
        query("title", TEXT, "Case-insensitive substring of the title"),
        query("year", YEAR, "Exact year"),
        query("year_from", YEAR, "Earliest year (inclusive)"),
        query("year_to", YEAR, "Latest year (inclusive)"),
        repeatable("genre", "Repeatable; a movie must have every genre given"),
        repeatable("any_genre", "Repeatable; a movie must have at least one of the genres given"),
        repeatable("exclude_genre", "Repeatable; a movie must have none of the genres given"),
        repeatable("cast", "Repeatable; a movie must have every cast member given"),
        query(
            "provider",
            {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 63},
            "Only this provider's movies",
        ),
        query(
            "sort",
            {"enum": list(SORTS), "default": "title"},
            "Order; ties are broken by id in the same direction",
        ),
        query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
            "Items per page",
        ),
        query(
            "cursor",
            {"type": "string", "maxLength": CURSOR_MAX_LENGTH},
            "next_cursor of the previous page (valid only with the same filters and sort)",
        ),
        query(
            "fields",
            {
                "type": "array",
                "items": {"enum": list(MOVIE_FIELDS)},
                "minItems": 1,
                "uniqueItems": True,
            },
            "Only these fields of each movie, comma-separated (e.g. id,title,year); all when "
            "not given. The matches, the total and the cursors are the same",
            style="form",
            explode=False,
        ),
        IF_NONE_MATCH,
        REQUEST_ID,
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "moviestore catalog API",
            "version": __version__,
            "description": "Movies from every provider's catalog, by title, year, genre and "
            "cast. Answers are cached per catalog version: a new ingestion is visible at once. "
            "Every /v1 request needs a key (Authorize, above): `Authorization: Bearer <key>` or "
            "`X-API-Key: <key>`. Answers are gzip or br when Accept-Encoding allows.",
        },
        "paths": {
            "/v1/movies": {
                "get": {
                    "operationId": "listMovies",
                    "summary": "Search and list movies",
                    "parameters": movie_list,
                    "responses": {
                        **ok("MoviePage", "A page of movies", link=True),
                        **problems(400, 503),
                    },
                }
            },
            "/v1/movies/{id}": {
                "get": {
                    "operationId": "getMovie",
                    "summary": "One movie",
                    "parameters": [
                        path("id", {"type": "integer", "minimum": 1}, "The movie's id"),
                        IF_NONE_MATCH,
                        REQUEST_ID,
                    ],
                    "responses": {**ok("Movie", "The movie"), **problems(400, 404, 410, 503)},
                }
            },
            "/v1/genres": {
                "get": {
                    "operationId": "listGenres",
                    "summary": "Every genre with its number of movies",
                    "parameters": [IF_NONE_MATCH, REQUEST_ID],
                    "responses": {
                        **ok("Genres", "Genres, most common first"),
                        **problems(400, 503),
                    },
                }
            },
            "/v1/providers/{provider}/ingestions": {
                "get": {
                    "operationId": "listIngestions",
                    "summary": "A provider's recent files: status, counts, error report",
                    "parameters": [
                        path(
                            "provider",
                            {
                                "type": "string",
                                "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
                                "maxLength": 63,
                            },
                            "The provider",
                        ),
                        query(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": LIMIT_MAX,
                                "default": LIMIT_DEFAULT,
                            },
                            "How many files, newest first",
                        ),
                        REQUEST_ID,
                    ],
                    "responses": {
                        **ok("Ingestions", "Newest first", cached=False),
                        **problems(400, 403, 503),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "summary": "The process answers",
                    "responses": {
                        "200": {
                            "description": "Alive",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "security": [],
                    "summary": "PostgreSQL and Redis status (Redis down: degraded but ready)",
                    "responses": {
                        "200": {
                            "description": "Ready (status ready or degraded)",
                            "content": {"application/json": {"schema": ref("Readiness")}},
                        },
                        "503": {
                            "description": "Not ready (PostgreSQL down, or draining)",
                            "content": {"application/json": {"schema": ref("Readiness")}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "security": [],
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer ms_... (moviestore keys create)",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Movie": MOVIE,
                "MovieSelection": {
                    **MOVIE,
                    "required": [],
                    "description": "A movie: every field, or those the fields parameter names",
                },
                "MoviePage": {
                    "type": "object",
                    "required": ["items", "next_cursor", "total"],
                    "properties": {
                        "items": {"type": "array", "items": ref("MovieSelection")},
                        "next_cursor": NULLABLE_STRING,
                        "total": {"type": "integer", "description": "Every match, all pages"},
                    },
                },
                "Genres": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["genre", "count"],
                                "properties": {
                                    "genre": {"type": "string"},
                                    "count": {"type": "integer"},
                                },
                            },
                        }
                    },
                },
                "Ingestion": INGESTION,
                "Ingestions": {
                    "type": "object",
                    "required": ["provider", "items"],
                    "properties": {
                        "provider": {"type": "string"},
                        "items": {"type": "array", "items": ref("Ingestion")},
                    },
                },
                "Readiness": {
                    "type": "object",
                    "required": ["status", "postgres", "redis"],
                    "properties": {
                        "status": {"enum": ["ready", "degraded", "unavailable", "draining"]},
                        "postgres": {"enum": ["up", "down"]},
                        "redis": {"enum": ["up", "down"]},
                        "catalog_version": NULLABLE_INT,
                        "search_index": {
                            "type": "object",
                            "description": "This process's in-memory index of list queries "
                            "(while it is building or behind the catalog, PostgreSQL answers)",
                            "required": ["status"],
                            "properties": {
                                "status": {"enum": ["ready", "building", "off"]},
                                "catalog_version": {"type": "integer"},
                                "movies": {"type": "integer"},
                            },
                        },
                    },
                },
                "Problem": PROBLEM,
            },
        },
    }


ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
# What /docs serves beside its page: Swagger UI's own files, and the script that starts it.
DOCS_FILES = {
    "swagger-ui.css": ("text/css; charset=utf-8", "swagger-ui.css"),
    "swagger-ui-bundle.js": ("text/javascript; charset=utf-8", "swagger-ui-bundle.js"),
}
DOCS_START = b"""window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
  });
};
"""
DOCS_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>moviestore catalog API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/start.js"></script>
</body></html>
"""
# Everything from the API's own origin; Swagger UI styles some elements inline.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def docs_files() -> dict[str, tuple[str, bytes]]:
    """Path → (content type, bytes) of the docs page and its assets."""
    files = {
        "/docs": ("text/html; charset=utf-8", DOCS_PAGE),
        "/docs/start.js": ("text/javascript; charset=utf-8", DOCS_START),
    }
    for name, (content_type, asset) in DOCS_FILES.items():
        files[f"/docs/{name}"] = (content_type, (ASSETS / asset).read_bytes())
    return files
