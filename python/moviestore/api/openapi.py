"""The OpenAPI 3.1 document of the API, and a self-contained docs page rendered from it.

Written out rather than generated: Robyn 0.88 leaves typed query parameters out of its own
document, and its docs page loads Swagger UI from a CDN. Tests check every route against it
(schemathesis) and that it lists every route the app serves.
"""

from __future__ import annotations

import html
from typing import Any

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


def path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def problems(*statuses: int) -> dict[str, Any]:
    """The problem answers of a route: those given, and 500 (a fault of ours) for every one."""
    meaning = {
        400: "Invalid parameter",
        404: "Not found",
        410: "Withdrawn by its provider (it may come back)",
        405: "Method not allowed",
        500: "An internal error (logged with the request id); not the client's fault",
        503: "PostgreSQL unavailable or too slow; retry",
    }
    return {
        str(s): {"description": meaning[s], "content": {CONTENT_TYPE: {"schema": ref("Problem")}}}
        for s in (*statuses, 500)
    }


def ok(schema: str, description: str, cached: bool = True) -> dict[str, Any]:
    headers = {
        "X-Request-ID": {"schema": {"type": "string"}, "description": "Echoed or generated"},
    }
    if cached:
        headers["ETag"] = {"schema": {"type": "string"}}
        headers["Cache-Control"] = {"schema": {"type": "string"}}
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
        query(
            "genre",
            {"type": "array", "items": TEXT, "maxItems": MAX_REPEATS},
            "Repeatable; a movie must have every genre given",
            style="form",
            explode=True,
        ),
        query(
            "cast",
            {"type": "array", "items": TEXT, "maxItems": MAX_REPEATS},
            "Repeatable; a movie must have every cast member given",
            style="form",
            explode=True,
        ),
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
        IF_NONE_MATCH,
        REQUEST_ID,
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "moviestore catalog API",
            "version": __version__,
            "description": "Movies from every provider's catalog, by title, year, genre and "
            "cast. Answers are cached per catalog version: a new ingestion is visible at once.",
        },
        "paths": {
            "/v1/movies": {
                "get": {
                    "operationId": "listMovies",
                    "summary": "Search and list movies",
                    "parameters": movie_list,
                    "responses": {**ok("MoviePage", "A page of movies"), **problems(400, 503)},
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
                        **problems(400, 503),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
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
        "components": {
            "schemas": {
                "Movie": MOVIE,
                "MoviePage": {
                    "type": "object",
                    "required": ["items", "next_cursor", "total"],
                    "properties": {
                        "items": {"type": "array", "items": ref("Movie")},
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
            }
        },
    }


def docs_page() -> str:
    """The document as one HTML page with no external assets (nothing to fetch from a CDN)."""
    doc = document()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(doc['info']['title'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;"
        "padding:0 1em}code,td{font-family:ui-monospace,monospace;font-size:13px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:left;vertical-align:top}h2{margin-top:2em}</style></head><body>",
        f"<h1>{html.escape(doc['info']['title'])} {html.escape(doc['info']['version'])}</h1>",
        f"<p>{html.escape(doc['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. Errors are "
        "<code>application/problem+json</code> (RFC 9457) naming the parameter at fault.</p>",
    ]
    for route, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f"<h2><code>{method.upper()} {html.escape(route)}</code></h2>")
            parts.append(f"<p>{html.escape(op['summary'])}</p>")
            if op.get("parameters"):
                parts.append(
                    "<table><tr><th>parameter</th><th>in</th><th>schema</th><th>meaning</th></tr>"
                )
                for p in op["parameters"]:
                    parts.append(
                        f"<tr><td>{html.escape(p['name'])}</td><td>{p['in']}</td>"
                        f"<td>{html.escape(str(p['schema']))}</td>"
                        f"<td>{html.escape(p.get('description', ''))}</td></tr>"
                    )
                parts.append("</table>")
            statuses = ", ".join(
                f"{code} {html.escape(r['description'])}" for code, r in op["responses"].items()
            )
            parts.append(f"<p>Responses: {statuses}</p>")
    parts.append("</body></html>")
    return "".join(parts)
