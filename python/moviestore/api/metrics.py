"""Prometheus metrics of the API. With several server processes, prometheus_client runs in
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``moviestore api`` before any metric
exists), so any process's /metrics reports the sum over all of them."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("moviestore_api_requests_total", "Requests answered", ["route", "status"])
LATENCY = Histogram(
    "moviestore_api_request_duration_seconds",
    "Time from the request reaching Python to its answer",
    ["route"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CACHE = Counter(
    "moviestore_api_cache_total", "Cache lookups by layer and result", ["layer", "result"]
)
POOL = Gauge(
    "moviestore_api_db_pool_connections",
    "Database pool connections by state",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
CATALOG_VERSION = Gauge(
    "moviestore_api_catalog_version", "Catalog version answered for", multiprocess_mode="max"
)
# The same, one sample per server process (labelled by pid): the oldest one is the freshness.
PROCESS_VERSION = Gauge(
    "moviestore_api_process_catalog_version",
    "Catalog version each server process answers for",
    multiprocess_mode="liveall",
)
LIST_ANSWERS = Counter(
    "moviestore_api_list_answers_total",
    "List answers computed (not from a cache), by where the matches were found",
    ["source"],
)
SEARCH_INDEX = {
    field: Gauge(f"moviestore_api_search_index_{field}", doc, multiprocess_mode="max")
    for field, doc in (
        ("version", "Catalog version of the in-memory search index"),
        ("movies", "Movies in the in-memory search index"),
        ("bytes", "Heap memory held by a process's search index (its delta included)"),
        ("mapped_bytes", "Bytes of the search index's base mapped from a file the pod shares"),
        ("delta_movies", "Movies in the search index's delta (changed since its base)"),
        ("build_seconds", "Time the last search index build took"),
        ("merge_seconds", "Time the last merge of the delta into a new base took"),
    )
}
DATABASE_FAST_FAILURES = Counter(
    "moviestore_api_database_fast_failures_total",
    "Requests answered 503 at once while PostgreSQL was known to be unreachable",
)
SEARCH_INDEX_RESTARTS = Counter(
    "moviestore_api_search_index_restarts_total",
    "Times a process started over from the whole catalog instead of applying changes",
)
FRESHNESS = Histogram(
    "moviestore_api_catalog_freshness_seconds",
    "From a catalog version's commit to this process answering for it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CHANGE_APPLY = Histogram(
    "moviestore_api_change_apply_seconds",
    "Time to apply one change set to the search index and the change log",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SEARCH_INDEX_PROCESSES = Gauge(
    "moviestore_api_search_index_processes",
    "API processes whose search index is of the catalog version they answer for",
    multiprocess_mode="livesum",
)
SEARCH_INDEX_FAILURES = Counter(
    "moviestore_api_search_index_failures_total",
    "Search index builds and searches that failed (PostgreSQL answered)",
)

RATE_LIMITS = Counter(
    "moviestore_api_rate_limit_syncs_total",
    "Reconciliations of the rate limits with Redis, by outcome (failed: each process on its share)",
    ["result"],
)
COMPRESSIONS = Counter(
    "moviestore_api_compressions_total",
    "Answers compressed (once per cached answer and coding), by coding",
    ["coding"],
)
LOGS_SUPPRESSED = Counter(
    "moviestore_api_log_lines_suppressed_total",
    "Repeated log lines not written (at most one a second per message), by logger",
    ["logger"],
)

# Bound once: label lookups take a lock and cost more than the rest of a cached answer.
MEMORY_HITS = CACHE.labels("memory", "hit")
MEMORY_MISSES = CACHE.labels("memory", "miss")
# A cached answer at an older version: kept (no change touched it) or found stale.
MEMORY_KEPT = CACHE.labels("memory", "kept")
MEMORY_STALE = CACHE.labels("memory", "stale")
# Redis: a usable answer, none, one a change since touched, not asked (paused), failed.
REDIS = {
    result: CACHE.labels("redis", result) for result in ("hit", "miss", "stale", "skipped", "error")
}
FLIGHT_JOINED = CACHE.labels("flight", "joined")
LIST_SOURCES = {source: LIST_ANSWERS.labels(source) for source in ("index", "database")}
POOL_STATES = {state: POOL.labels("api", state) for state in ("open", "idle", "waiting")}
RATE_LIMIT_SYNCS = {result: RATE_LIMITS.labels(result) for result in ("ok", "failed")}
_bound: dict[tuple[str, int], tuple[Any, Any]] = {}


def answered(route: str, status: int, seconds: float) -> None:
    bound = _bound.get((route, status))
    if bound is None:
        bound = _bound[route, status] = (REQUESTS.labels(route, str(status)), LATENCY.labels(route))
    bound[0].inc()
    bound[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
