"""API benchmark: cached and uncached answers of ``moviestore api`` against Robyn's ceiling.

In one run, on its own local stack (PostgreSQL, Redis, moto as local processes):

* a catalog of ``--movies`` generated movies is COPYed straight into ``movies`` (secondary
  indexes dropped and rebuilt, ``COPY … FREEZE``, then ``VACUUM ANALYZE`` and a new catalog
  version); the COPY file is kept in ``benchmarks/data/`` for the next run;
* for each ``--configs`` entry (``PxW``: P server processes of W worker threads) one
  ``moviestore api`` and one ``peers/robyn_constant.py`` (the same Robyn runtime, process model
  and ``build_server``, answering constant bodies from a minimal synchronous handler);
* with wrk, requests/s at 64 connections and p50/p99 (``--latency``) at 8 connections for: the
  constant bodies (the size of the cached list answer, of the cached detail, and 9 KB), a cached
  list query and a cached detail (warmed first), and uncached title-substring, genre+year and
  cast queries (the API finds their matches in its in-memory search index); and, as their
  peer, PostgreSQL alone answering the same uncached values with the statements the API runs
  without its index, from as many client processes as wrk has connections;
* every measurement ``--rounds`` times, interleaved (round → configuration → target); the
  tables give the median and the spread (min-max) of the rounds.

How "uncached" is guaranteed: each uncached measurement gets a fresh ``moviestore api`` (the
same configuration; its in-memory answers and its per-process cache of ``total`` counts start
empty), Redis is flushed before it starts, and a wrk Lua script walks a shuffled list of
distinct parameter values (drawn from the loaded movies) in order, each thread its own slice, so
no value is requested twice unless the list runs out (the repeats are counted and reported).
A 1 s warm-up (connections, pools) uses values kept apart from the measured ones. The API's
/metrics before and after prove it: memory-cache hits and Redis hits over the measured run.

    .venv/bin/python benchmarks/bench_api.py            # 300,000 movies, writes RESULTS.md
    .venv/bin/python benchmarks/bench_api.py --quick    # 3,000 movies, 1 s runs, prints only

Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import redis
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "python"))

from generate import (  # noqa: E402
    ASPECTS,
    CIRCUMSTANCES,
    FIRST_NAMES,
    GENRE_WEIGHTS,
    GENRES,
    LAST_NAMES,
    NATIONALITIES,
    OBJECTS,
    OCCUPATIONS,
    PLACES,
    TITLE_ADJECTIVES,
    TITLE_NOUNS,
    VERBS,
)
from moviestore.api import database, params  # noqa: E402
from moviestore.api.keys import digest, new_key  # noqa: E402
from moviestore.catalog.query import SORTS  # noqa: E402
from moviestore.localstack.processes import (  # noqa: E402
    Server,
    free_port,
    port_open,
    sigterm_unwinds,
    wait_until,
)
from moviestore.localstack.stack import Endpoints, LocalStack  # noqa: E402
from moviestore.settings import Settings  # noqa: E402
from moviestore.store import keys as stored_keys  # noqa: E402
from moviestore.store import reads  # noqa: E402
from moviestore.store.migrate import migrate  # noqa: E402
from results import heading, write_section  # noqa: E402

SECTION = "## API"
SEED = 20240917
PROVIDER = "bench"
SOURCE_KEY = "providers/bench/api-bench.copy"
CACHED_LIST = "/v1/movies?genre=Drama&year_from=1990&limit=20"
NINE_KB = 9 * 1024
CONNECTIONS = (64, 8)
WRK_THREADS = 2
# wrk runs one Lua state per thread: each walks its own slice of the values, in order.
WALK = """
local paths, threads, made = {}, {}, 0
function setup(thread)
  made = made + 1
  thread:set("id", made)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  per = math.floor(#paths / tonumber(args[2]))
  start, sent = (id - 1) * per, 0
end
function request()
  local path = paths[(start + sent) % #paths + 1]
  sent = sent + 1
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  local total, repeats = 0, 0
  for _, t in ipairs(threads) do
    local n, per = t:get("sent"), t:get("per")
    total = total + n
    if n > per then repeats = repeats + n - per end
  end
  io.write(string.format("WALK sent=%d repeats=%d\\n", total, repeats))
end
"""

# --- the catalog ---------------------------------------------------------------------------


def vocabulary(rng: random.Random) -> list[str]:
    """Title words: the generator's nouns, then invented proper names, drawn Zipf-like (a few
    words are in thousands of titles, most in a few dozen), as in real title vocabularies."""
    syllables = ("ka", "ro", "mi", "len", "tor", "vas", "el", "an", "bri", "dor", "sa", "mon",
                 "ther", "wyn", "ga", "li", "ver", "ston", "ash", "ford", "ham", "ley", "ric",
                 "ta", "na", "bel", "cor", "dra", "fen", "gil", "har", "jor", "kel", "lor",
                 "mar", "nor", "pel", "quin", "ras", "sel", "tam", "ul", "vor", "wen",
                 "yar")  # fmt: skip
    invented: set[str] = set()
    while len(invented) < 3000:
        n = 2 + int(rng.random() * 2)
        invented.add("".join(rng.choice(syllables) for _ in range(n)).capitalize())
    words = list(TITLE_NOUNS) + list(PLACES)
    return words + sorted(invented - set(words))


class Catalog:
    """Fast, seeded movie rows in PostgreSQL's text COPY format."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.word_weights = list(itertools.accumulate(1 / (r + 5) for r in range(len(self.words))))
        ranked = sorted(zip(GENRE_WEIGHTS, GENRES, strict=True), reverse=True)[:20]
        self.genres = [g for _, g in ranked]
        self.genre_weights = list(itertools.accumulate(w for w, _ in ranked))
        people = sorted({f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES})
        self.cast_pool = self.rng.sample(people, 4000)

    def word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.word_weights)[0]

    def title(self) -> str:
        r, pick = self.rng.random(), self.rng.choice
        noun, noun2, adj = self.word(), self.word(), pick(TITLE_ADJECTIVES)
        if r < 0.15:
            return f"The {noun}"
        if r < 0.30:
            return f"The {adj} {noun}"
        if r < 0.42:
            return f"{noun} of the {noun2}"
        if r < 0.55:
            return f"{adj} {noun}"
        if r < 0.63:
            return f"{noun} in {pick(PLACES)}"
        if r < 0.70:
            return f"{noun} {pick(('II', '2', '3', 'Returns'))}"
        if r < 0.80:
            return f"{noun}: The {adj} {noun2}"
        if r < 0.90:
            return f"{noun} and {noun2}"
        return f"{pick(FIRST_NAMES)}'s {noun}"

    def rows(self, count: int) -> Iterator[str]:
        rng, pick = self.rng, self.rng.choice
        for i in range(1, count + 1):
            title, year = self.title(), rng.randint(1900, 2025)
            n = rng.choices((0, 1, 2, 3), (5, 50, 30, 15))[0]
            genres = sorted(set(rng.choices(self.genres, cum_weights=self.genre_weights, k=n)))
            cast = rng.sample(self.cast_pool, rng.randint(0, 8))
            genre = genres[0].lower() if genres else "feature"
            starring = f" It stars {', '.join(cast[:3])}." if cast else ""
            extract = (
                f"{title} is a {year} {pick(NATIONALITIES)} {genre} film directed by "
                f"{pick(self.cast_pool)}.{starring} A {pick(OCCUPATIONS)} {pick(VERBS)} "
                f"{pick(OBJECTS)} {pick(CIRCUMSTANCES)}. Critics praised {pick(ASPECTS)} and "
                f"{pick(ASPECTS)}, and the film was a {pick(('modest', 'surprise', 'major'))} "
                f"success at the box office."
            )
            href = "https://en.wikipedia.org/wiki/" + quote(
                f"{title} ({year} film)".replace(" ", "_")
            )
            key = f"{i:032x}"
            uuid = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:]}"
            yield "\t".join(
                (PROVIDER, uuid, str(i), title, str(year), href, array(cast), array(genres),
                 extract, r"\N", r"\N", r"\N", str(rng.getrandbits(62)), "1", SOURCE_KEY)
            ) + "\n"  # fmt: skip


def array(values: list[str]) -> str:
    # No generated value holds a quote, backslash, tab or newline: nothing to escape.
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


COLUMNS = ("provider", "record_key", "provider_id", "title", "year", "href", "cast", "genres",
           "extract", "thumbnail", "thumbnail_width", "thumbnail_height", "content_hash",
           "ingestion_id", "source_key")  # fmt: skip


def catalog_file(movies: int) -> Path:
    path = HERE / "data" / f"api-movies-{movies}-seed{SEED}.copy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        with partial.open("w") as out:
            out.writelines(Catalog(SEED).rows(movies))
        partial.rename(path)
        print(f"generated {movies:,} movies in {time.perf_counter() - started:.1f} s: {path}")
    return path


@contextlib.contextmanager
def catalog_stack(
    movies: int, state_dir: Path | None, prefix: str
) -> Iterator[tuple[LocalStack, Endpoints, float]]:
    """A local stack of its own (its state kept in ``state_dir`` if given) with ``movies``
    generated movies loaded, and how long the load took."""
    data = catalog_file(movies)
    stack = LocalStack(state_dir or Path(tempfile.mkdtemp(prefix=prefix)))
    endpoints = stack.start()
    try:
        migrate(endpoints.database_url)
        seconds = load(endpoints.database_url, data, movies)
        print(f"loaded {movies:,} movies in {seconds:.1f} s", flush=True)
        yield stack, endpoints, seconds
    finally:
        stack.stop()
        if state_dir is None:
            stack.destroy()


def load(url: str, data: Path, movies: int) -> float:
    """COPY the rows into ``movies`` (indexes rebuilt after), bump the catalog version."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "INSERT INTO ingestions (id, bucket, key, version, provider, status, records_valid)"
            " OVERRIDING SYSTEM VALUE VALUES (1, 'bench', %s, '1', %s, 'loaded', %s)"
            " ON CONFLICT (id) DO NOTHING",
            (SOURCE_KEY, PROVIDER, movies),
        )
        # Later ingestions (the worker's, in the churn run) take the next ids.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('ingestions', 'id'), greatest(1, max(id)))"
            " FROM ingestions"
        )
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'movies'"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        conn.execute("TRUNCATE movies RESTART IDENTITY")
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        copy = sql.SQL("COPY movies ({}) FROM STDIN (FREEZE)").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        )
        with conn.cursor().copy(copy) as sink, data.open("rb") as f:
            while block := f.read(1 << 20):
                sink.write(block)
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("UPDATE catalog_state SET version = version + 1")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE movies")
    return time.perf_counter() - started


# --- the values the uncached queries walk --------------------------------------------------


@dataclass(frozen=True)
class Walk:
    kind: str
    example: str
    measured: Path
    warmup: Path
    distinct: int


def walks(url: str, folder: Path, movies: int) -> list[Walk]:
    """Distinct query strings per uncached kind, drawn from movies actually loaded."""
    rng = random.Random(SEED + 1)
    with psycopg.connect(url) as conn:
        sample = conn.execute(
            'SELECT title, year, genres, "cast" FROM movies WHERE id = ANY(%s)',
            (rng.sample(range(1, movies + 1), min(movies, 40_000)),),
        ).fetchall()
    titles: set[str] = set()
    genre_years: set[str] = set()
    casts: set[str] = set()
    for title, year, genres, cast in sample:
        words = [w for w in re.findall(r"[^\W\d_]+", title) if len(w) >= 4]
        if words:
            word = rng.choice(words)
            size = rng.randint(4, min(8, len(word)))
            at = rng.randint(0, len(word) - size)
            part = word[at : at + size]
            titles.add(part.lower() if rng.random() < 0.5 else part)
        if genres:
            low = max(1900, year - rng.randint(0, 2))
            high = low + rng.randint(0, 4)
            genre_years.add(f"genre={q(rng.choice(genres))}&year_from={low}&year_to={high}")
        # 4,000 names only: each with each sort, so long runs need not repeat a value
        casts.update(f"cast={q(name)}&sort={q(sort)}" for name in cast for sort in SORTS)
    made = []
    for kind, values in (
        ("title", [f"title={q(t)}" for t in titles]),
        ("genre+year", list(genre_years)),
        ("cast", list(casts)),
    ):
        paths = [f"/v1/movies?{v}" for v in sorted(values)]
        rng.shuffle(paths)
        keep = max(len(paths) // 10, 1)
        measured, warmup = folder / f"walk-{kind}.txt", folder / f"warmup-{kind}.txt"
        measured.write_text("\n".join(paths[keep:]) + "\n")
        warmup.write_text("\n".join(paths[:keep]) + "\n")
        made.append(Walk(kind, paths[keep], measured, warmup, len(paths) - keep))
    return made


def q(value: str) -> str:
    return quote(value, safe="")


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    processes: int
    workers: int

    @property
    def name(self) -> str:
        return f"{self.processes}x{self.workers}"

    @classmethod
    def parse(cls, text: str) -> Config:
        p, _, w = text.partition("x")
        return cls(int(p), int(w or 1))


@dataclass
class Service:
    server: Server
    url: str

    def stop(self) -> None:
        self.server.stop(grace=10)

    def pids(self) -> set[int]:
        """The supervisor's and its server processes'."""
        proc = self.server.proc
        assert proc is not None
        return {proc.pid, *self.server_pids()}

    def server_pids(self) -> list[int]:
        proc = self.server.proc
        assert proc is not None
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []


def peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def start_api(
    state: Path, env: dict[str, str], config: Config, name: str, wrap: tuple[str, ...] = ()
) -> Service:
    """``wrap``: a command line the API's is appended to (it must exec it)."""
    port = free_port()
    server = Server(
        name,
        [*wrap, sys.executable, "-m", "moviestore.cli", "api"],
        state / "logs" / f"{name}.log",
        env={
            "MOVIESTORE_LOG_LEVEL": "WARNING",
            **env,
            "MOVIESTORE_API_HOST": "127.0.0.1",
            "MOVIESTORE_API_PORT": str(port),
            "MOVIESTORE_API_PROCESSES": str(config.processes),
            "MOVIESTORE_API_WORKERS": str(config.workers),
            "MOVIESTORE_API_SHUTDOWN_GRACE_SECONDS": "2",
            "MOVIESTORE_METRICS_PORT": str(free_port()),
        },
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:  # and every process answers lists from its in-memory index
        if get_status(f"{url}/readyz") != 200:
            return False
        text = get(f"{url}/metrics").decode()
        found = re.search(r"^moviestore_api_search_index_processes (\S+)$", text, re.M)
        return found is not None and float(found[1]) == config.processes

    return serve(server, url, ready, name)


def start_constant(
    state: Path, config: Config, sizes: list[int], gzip_files: list[Path]
) -> Service:
    port = free_port()
    bodies = [arg for size in sizes for arg in ("--body", str(size))]
    bodies += [arg for path in gzip_files for arg in ("--gzip-file", str(path))]
    server = Server(
        f"constant-{config.name}",
        [sys.executable, str(HERE / "peers" / "robyn_constant.py"), "--port", str(port),
         "--processes", str(config.processes), "--workers", str(config.workers), *bodies],
        state / "logs" / f"constant-{config.name}.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return serve(server, url, lambda: port_open(port), "the constant-body server")


def serve(server: Server, url: str, ready: Callable[[], bool], what: str) -> Service:
    """Started and ready, or stopped: a SIGTERM or a failure while waiting leaves nothing."""
    server.start()
    try:
        wait_until(ready, 60, what, server)
    except BaseException:
        server.stop()
        raise
    return Service(server, url)


# What every request of the benchmark's clients sends: the key of a client whose limit is far
# above the load, and gzip accepted (set in main()).
HEADERS: dict[str, str] = {}


def get(url: str, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=HEADERS if headers is None else headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def wrk_headers() -> tuple[str, ...]:
    return tuple(f"{k}: {v}" for k, v in HEADERS.items())


def bench_key(database_url: str) -> str:
    """A key whose limit (1,000,000 requests a second) is far above any load here."""
    key_id, key = new_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored_keys.create(conn, key_id=key_id, secret_sha256=digest(key), name="bench",
                           provider=None, rate=1_000_000)  # fmt: skip
    return key


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def cache_counters(url: str) -> dict[str, float]:
    """The API's cache counters (every server process summed), e.g. ``memory:hit``."""
    text = get(f"{url}/metrics").decode()
    found: dict[str, float] = {}
    pattern = r'^moviestore_api_cache_total\{layer="(\w+)",result="(\w+)"\} (\S+)$'
    for layer, result, value in re.findall(pattern, text, re.M):
        found[f"{layer}:{result}"] = float(value)
    for route, status, value in re.findall(
        r'^moviestore_api_requests_total\{route="(\w+)",status="(\d+)"\} (\S+)$', text, re.M
    ):
        found[f"{route}:{status}"] = found.get(f"{route}:{status}", 0) + float(value)
    pattern = r'^moviestore_api_list_answers_total\{source="(\w+)"\} (\S+)$'
    for source, value in re.findall(pattern, text, re.M):
        found[f"list:{source}"] = float(value)
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


# --- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int
    sent: int = 0
    repeats: int = 0


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(url: str, connections: int, seconds: float, script: Path | None = None,
        args: tuple[str, ...] = (), *, headers: tuple[str, ...] = ()) -> Run:  # fmt: skip
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "5s"]  # fmt: skip
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def latency(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        assert found, out
        return float(found.group(1)) * UNITS[found.group(2)]

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    requests = re.search(r"^\s+(\d+) requests in", out, re.M)
    assert rps and requests, out
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    walk = re.search(r"^WALK sent=(\d+) repeats=(\d+)", out, re.M)
    return Run(
        rps=float(rps.group(1)),
        requests=int(requests.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        errors=errors + (int(non2xx.group(1)) if non2xx else 0),
        sent=int(walk.group(1)) if walk else 0,
        repeats=int(walk.group(2)) if walk else 0,
    )


# --- the measurements ----------------------------------------------------------------------


@dataclass
class Target:
    name: str
    kind: str  # "constant", "cached", "uncached" or "database" (PostgreSQL alone)
    path: str
    walk: Walk | None = None
    body: int = 0
    # cached: asked of the API that checks no key and limits nothing (the cost of both)
    open: bool = False


@dataclass
class Measured:
    """Every round of one target in one configuration."""

    runs: dict[int, list[Run]] = field(default_factory=lambda: {c: [] for c in CONNECTIONS})
    caches: list[dict[str, float]] = field(default_factory=list)
    rss_mb: float = 0.0
    # uncached runs at 8 connections: CPU ms per answer by process group, and cores kept busy
    cpu_ms: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Bench:
    state: Path
    env: dict[str, str]
    database_url: str
    redis_url: str
    seconds: float
    script: Path
    results: dict[tuple[str, str], Measured] = field(default_factory=dict)
    api_rss: dict[str, float] = field(default_factory=dict)

    def measure(
        self, config: Config, target: Target, api: Service, constant: Service, open_api: Service
    ) -> None:
        measured = self.results.setdefault((config.name, target.name), Measured())
        for connections in CONNECTIONS:
            if target.kind == "uncached":
                run, caches, rss = self.uncached(config, target, connections)
                measured.rss_mb = max(measured.rss_mb, rss)
            elif target.kind == "database":
                run, caches = self.database_alone(config, target, connections), {}
            elif target.kind == "cached":
                served = open_api if target.open else api
                headers = wrk_headers() if not target.open else ("Accept-Encoding: gzip",)
                for _ in range(8 * config.processes):
                    get(served.url + target.path)
                before = cache_counters(served.url)
                run = wrk(served.url + target.path, connections, self.seconds, headers=headers)
                caches = delta(cache_counters(served.url), before)
            else:
                run = wrk(constant.url + target.path, connections, self.seconds,
                          headers=wrk_headers())  # fmt: skip
                caches = {}
            caches["wrk:requests"] = run.requests
            measured.runs[connections].append(run)
            measured.caches.append(caches)
            print(f"  {config.name} {target.name} c{connections}: {run.rps:,.0f} req/s, "
                  f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, errors {run.errors}; "
                  f"{caches}", flush=True)  # fmt: skip

    def uncached(
        self, config: Config, target: Target, connections: int
    ) -> tuple[Run, dict[str, float], float]:
        walk = target.walk
        assert walk is not None
        redis.Redis.from_url(self.redis_url).flushall()
        api = start_api(self.state, self.env, config, f"api-uncached-{config.name}")
        try:
            threads = str(WRK_THREADS)
            headers = wrk_headers()
            wrk(api.url, connections, 1, self.script, (str(walk.warmup), threads), headers=headers)
            before = cache_counters(api.url)
            pids = api.pids()
            cpu_before, started = cpu_seconds(pids), time.perf_counter()
            run = wrk(api.url, connections, self.seconds, self.script,
                      (str(walk.measured), threads), headers=headers)  # fmt: skip
            spent = cpu_delta(cpu_seconds(pids), cpu_before)
            wall = time.perf_counter() - started
            caches = delta(cache_counters(api.url), before)
            rss = max((peak_rss_mb(p) for p in api.server_pids()), default=0.0)
        finally:
            api.stop()
        if connections == 8:
            self.spent(config, target, run, spent, wall)
        return run, caches, rss

    def database_alone(self, config: Config, target: Target, connections: int) -> Run:
        """The uncached answer without the search index: the statements the API runs for it
        then, sent by ``connections`` clients straight to PostgreSQL (no API, Redis, HTTP)."""
        assert target.walk is not None
        run, spent, wall = alone(self.database_url, target.walk, connections, self.seconds)
        if connections == 8:
            self.spent(config, target, run, spent, wall)
        return run

    def spent(
        self, config: Config, target: Target, run: Run, spent: dict[str, float], wall: float
    ) -> None:
        """CPU per answer of each process group, and the cores they kept busy."""
        cores = sum(spent.values()) / wall
        per_answer = {k: 1000 * v / max(run.requests, 1) for k, v in spent.items()}
        self.results[config.name, target.name].cpu_ms.append({**per_answer, "cores": cores})


def peer_name(kind: str) -> str:
    """The target of PostgreSQL alone answering an uncached kind's values."""
    return f"database alone: {kind}"


# What a client of ``alone`` reports: latencies, statement timeouts, its CPU seconds, and how
# many values it asked a second time; or what stopped it.
Tally = tuple[list[float], int, float, int]


def alone(
    url: str, walk: Walk, connections: int, seconds: float
) -> tuple[Run, dict[str, float], float]:
    """``connections`` client processes (threads would queue on the GIL), a PostgreSQL
    session each with the API's session settings, each answering its own share of the walk's
    values in order with ``statements``, closed loop: 1 s on the warm-up values, then
    ``seconds`` measured. Returns the run, the CPU seconds of PostgreSQL, Redis and the
    clients over the measured period, and its wall time. A client that fails stops the run
    with its error."""
    measured, warmup = walk.measured.read_text().split(), walk.warmup.read_text().split()
    fork = multiprocessing.get_context("fork")
    start, stop = fork.Barrier(connections + 1), fork.Barrier(connections + 1)
    reports: multiprocessing.Queue[Tally | str] = fork.Queue()
    barriers = (start, stop)
    parts = [(warmup[i::connections], measured[i::connections]) for i in range(connections)]
    clients = [
        fork.Process(target=client, args=(url, part, seconds, barriers, reports), daemon=True)
        for part in parts
    ]
    for process in clients:
        process.start()
    answered: list[float] = []
    failed = repeats = 0
    client_cpu = 0.0
    try:
        start.wait(timeout=60)
        before, began = cpu_seconds(set()), time.perf_counter()
        for _ in clients:
            report = reports.get(timeout=seconds + 60)
            if isinstance(report, str):
                raise RuntimeError(f"a PostgreSQL-alone client failed: {report}")
            answered += report[0]
            failed += report[1]
            client_cpu += report[2]
            repeats += report[3]
        wall = time.perf_counter() - began
        # Read while the sessions are still open: see ``client``.
        spent = cpu_delta(cpu_seconds(set()), before)
        spent["client"] = client_cpu
        stop.wait(timeout=60)
    except threading.BrokenBarrierError:
        cause = reports.get(timeout=5)
        raise RuntimeError(f"a PostgreSQL-alone client failed: {cause}") from None
    finally:
        stop.abort()  # frees the clients still waiting when the run stopped early
        for process in clients:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    sent = len(answered)
    run = Run(
        rps=sent / seconds,
        requests=sent,
        p50_ms=1000 * percentile(answered, 50),
        p99_ms=1000 * percentile(answered, 99),
        errors=failed,
        sent=sent,
        repeats=repeats,
    )
    return run, spent, wall


def client(
    url: str,
    values: tuple[list[str], list[str]],  # the warm-up's, the measured
    seconds: float,
    barriers: tuple[threading.Barrier, threading.Barrier],
    reports: multiprocessing.Queue[Tally | str],
) -> None:
    """One client of ``alone``: it keeps its session open until the parent has read the
    PostgreSQL backends' CPU (a backend that exits takes its CPU time with it)."""
    start, stop = barriers
    options = database.session_options(Settings.model_fields["statement_timeout_ms"].default)
    try:
        with psycopg.connect(url, autocommit=True, options=options) as session:

            def answer(values: list[str], deadline: float) -> tuple[list[float], int, int]:
                latencies, failed, asked = [], 0, 0
                for path in itertools.cycle(values):
                    began = time.perf_counter()
                    if began >= deadline:
                        break
                    asked += 1
                    try:
                        statements(session, path)
                    except psycopg.errors.QueryCanceled:  # counted, as wrk counts a timeout
                        failed += 1
                        continue
                    latencies.append(time.perf_counter() - began)
                return latencies, failed, asked

            warmup, measured = values
            answer(warmup, time.perf_counter() + 1.0)
            start.wait(timeout=60)
            cpu = time.process_time()
            latencies, failed, asked = answer(measured, time.perf_counter() + seconds)
            cpu = time.process_time() - cpu
            reports.put((latencies, failed, cpu, max(0, asked - len(measured))))
            stop.wait(timeout=60)
    except BaseException as e:  # told to the parent, which stops the run with it
        reports.put(f"{type(e).__name__}: {e}")
        start.abort()
        sys.exit(1)


def cpu_seconds(api_pids: set[int]) -> dict[tuple[str, int], float]:
    """CPU seconds so far of each process that takes part in an answer: the API's, every
    PostgreSQL and Redis process of the machine (the stack's), and the client."""
    tick = os.sysconf("SC_CLK_TCK")
    spent: dict[tuple[str, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        pid = int(entry.name)
        group = ("API" if pid in api_pids else "PostgreSQL" if name.startswith("postgres")
                 else "Redis" if name.startswith("redis") else None)  # fmt: skip
        if group is not None:
            utime, stime = fields.split()[11:13]
            spent[group, pid] = (int(utime) + int(stime)) / tick
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk: the only child process
    spent["client", 0] = children.ru_utime + children.ru_stime
    return spent


def cpu_delta(
    after: dict[tuple[str, int], float], before: dict[tuple[str, int], float]
) -> dict[str, float]:
    groups: dict[str, float] = {}
    for key, seconds in after.items():
        groups[key[0]] = groups.get(key[0], 0.0) + seconds - before.get(key, 0.0)
    return groups


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], fmt: str) -> str:
    if len(values) < 2:
        return ""
    return f" ({min(values):{fmt}}-{max(values):{fmt}})"


# --- why an uncached query is slow ---------------------------------------------------------


@dataclass(frozen=True)
class Explained:
    kind: str
    values: int
    planning_ms: list[float]
    execution_ms: list[float]
    totals: list[int]
    walked: int
    slowest: str
    plans: str


Statement = reads.Statement
UP_TO = Settings.model_fields["api_sort_matches_up_to"].default


def explain(url: str, walk: Walk, limit: int) -> Explained:
    """EXPLAIN ANALYZE of the statements the API runs per uncached list answer, composed by
    ``moviestore.store.reads`` exactly as the API composes them (see ``statements``)."""
    paths = walk.measured.read_text().split()[:limit]
    planning, execution, totals, walked = [], [], [], 0
    worst = (-1.0, "")
    with psycopg.connect(url, autocommit=True, options=database.session_options(60_000)) as conn:
        for path in paths:
            ran, total = statements(conn, path)
            timings = [timed_plan(conn, *statement) for statement in ran]
            planning.append(sum(t[0] for t in timings))
            execution.append(sum(t[1] for t in timings))
            totals.append(total)
            walked += len(ran) > 1
            if planning[-1] + execution[-1] > worst[0]:
                worst = (planning[-1] + execution[-1], path)
        plans = "\n\n".join(text_plan(conn, *s) for s in statements(conn, worst[1])[0])
    return Explained(walk.kind, len(paths), planning, execution, totals, walked, worst[1], plans)


def statements(conn: psycopg.Connection[Any], path: str) -> tuple[list[Statement], int]:
    """Runs them as ``Catalog.database_page`` does on a first page: the matches sorted and counted
    in one statement; when they are more than ``api_sort_matches_up_to``, their count and an
    index walk instead. Returns the statements and the total."""
    raw = [tuple(p.split("=", 1)) for p in path.partition("?")[2].split("&")]
    query = params.movie_query((k, v) for k, v in raw)
    first = reads.sorted_matches(query, None, UP_TO + 1)
    row = conn.execute(*first).fetchone()
    assert row is not None
    if row[0] <= UP_TO:
        return [first], int(row[0])
    count = reads.count(query)
    counted = conn.execute(*count).fetchone()
    assert counted is not None
    walk = reads.walk(query, None)
    conn.execute(*walk)
    return [first, count, walk], int(counted[0])


def timed_plan(
    conn: psycopg.Connection[Any], query: bytes, values: dict[str, Any]
) -> tuple[float, float]:
    """Planning and execution time: the API plans every statement anew (force_custom_plan)."""
    plan = conn.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) " + query, values).fetchone()
    assert plan is not None
    return float(plan[0][0]["Planning Time"]), float(plan[0][0]["Execution Time"])


def text_plan(conn: psycopg.Connection[Any], query: bytes, values: dict[str, Any]) -> str:
    rows = conn.execute(b"EXPLAIN (ANALYZE, BUFFERS) " + query, values).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else 0.0


# --- the run -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "section",
        nargs="?",
        default="answers",
        choices=["answers", "churn", "scale"],
        help="answers (the default), churn, or scale (api_churn.py)",
    )
    parser.add_argument("--movies", type=int, default=None, help="catalog size (300,000)")
    parser.add_argument("--bulk", type=int, default=None, help="churn: the bulk file's movies")
    parser.add_argument(
        "--pod-mib",
        type=int,
        default=None,
        help="scale: the memory limit the API runs under (the pod's, 1024)",
    )
    parser.add_argument("--seconds", type=float, default=None, help="per wrk run (5)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved repeats (3)")
    parser.add_argument("--configs", default="1x1,2x1", help="PxW: processes x workers")
    parser.add_argument("--quick", action="store_true", help="3,000 movies, 1 s runs, 1 round")
    parser.add_argument("--state-dir", type=Path, default=None, help="kept when given")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu)")
    if args.section != "answers":
        import api_churn  # noqa: PLC0415 - it imports this module

        return int(getattr(api_churn, args.section)(args))
    movies = args.movies or (3_000 if args.quick else 300_000)
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    rounds = args.rounds or (1 if args.quick else 3)
    configs = [Config.parse(c) for c in args.configs.split(",")]
    results = args.results or (
        HERE / "RESULTS.md" if not args.quick and movies >= 300_000 else None
    )
    load_before = os.getloadavg()
    stack_of = catalog_stack(movies, args.state_dir, "moviestore-bench-api-")
    with stack_of as (stack, endpoints, load_seconds), contextlib.ExitStack() as services:
        url = endpoints.database_url
        work = Path(tempfile.mkdtemp(prefix="walks-", dir=stack.state))
        script = work / "walk.lua"
        script.write_text(WALK)
        kinds = walks(url, work, movies)
        bench = Bench(
            stack.state, endpoints.settings_env(), url, endpoints.redis_url, seconds, script
        )
        detail = f"/v1/movies/{movies // 2}"
        HEADERS.update({"Authorization": f"Bearer {bench_key(url)}", "Accept-Encoding": "gzip"})
        # The same answers without keys or limits: what both cost.
        open_env = {**bench.env, "MOVIESTORE_API_ANONYMOUS_READS": "true",
                    "MOVIESTORE_API_RATE_LIMITS": "false"}  # fmt: skip
        apis: dict[str, Service] = {}
        opens: dict[str, Service] = {}
        constants: dict[str, Service] = {}
        sizes: dict[str, int] = {}
        for config in configs:
            apis[config.name] = start_api(stack.state, bench.env, config, f"api-{config.name}")
            services.callback(apis[config.name].stop)
            opens[config.name] = start_api(stack.state, open_env, config, f"open-{config.name}")
            services.callback(opens[config.name].stop)
            if not sizes:
                gzipped = get(apis[config.name].url + CACHED_LIST)
                sizes = {"list": len(get(apis[config.name].url + CACHED_LIST, {})),
                         "list gzip": len(gzipped),
                         "detail": len(get(apis[config.name].url + detail))}  # fmt: skip
                gzip_file = stack.state / "list.json.gz"
                gzip_file.write_bytes(gzipped)
            constants[config.name] = start_constant(
                stack.state, config, [sizes["list"], sizes["detail"], NINE_KB], [gzip_file]
            )
            services.callback(constants[config.name].stop)
        targets = [
            Target("ceiling: constant body, list size", "constant", f"/constant/{sizes['list']}",
                   body=sizes["list"]),
            Target("ceiling: constant body, the list gzip'd", "constant", "/file/0",
                   body=sizes["list gzip"]),
            Target("ceiling: constant body, detail size", "constant",
                   f"/constant/{sizes['detail']}", body=sizes["detail"]),
            Target("ceiling: constant body, 9 KB", "constant", f"/constant/{NINE_KB}",
                   body=NINE_KB),
            Target("cached list", "cached", CACHED_LIST, body=sizes["list gzip"]),
            Target("cached list, no key or limit", "cached", CACHED_LIST, body=sizes["list gzip"],
                   open=True),
            Target("cached detail", "cached", detail, body=sizes["detail"]),
            *(Target(f"uncached {w.kind}", "uncached", w.example, walk=w) for w in kinds),
            *(Target(peer_name(w.kind), "database", w.example, walk=w) for w in kinds),
        ]  # fmt: skip
        for r in range(rounds):
            for config in configs:
                print(f"round {r + 1}/{rounds}, {config.name} (processes x workers)", flush=True)
                for target in targets:
                    bench.measure(config, target, apis[config.name], constants[config.name],
                                  opens[config.name])  # fmt: skip
        for config in configs:
            pids = apis[config.name].server_pids()
            bench.api_rss[config.name] = max((peak_rss_mb(p) for p in pids), default=0.0)
        explained = [explain(url, w, 60 if args.quick else 300) for w in kinds]
        for e in explained:
            print(f"\n{e.kind}: slowest {e.slowest}\n{e.plans}")
    command = " ".join(["benchmarks/bench_api.py", *sys.argv[1:]])
    section = render(
        Report(command, movies, load_seconds, seconds, rounds, configs, targets, bench,
               explained, load_before, os.getloadavg(), sizes)
    )  # fmt: skip
    print(section)
    if results is not None:
        write_section(results, SECTION, section)
    return 0


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    command: str
    movies: int
    load_seconds: float
    seconds: float
    rounds: int
    configs: list[Config]
    targets: list[Target]
    bench: Bench
    explained: list[Explained]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    sizes: dict[str, int]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def robyn_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("robyn")


def rps_of(m: Measured) -> list[float]:
    return [r.rps for r in m.runs[64]]


def ratios(report: Report, config: Config, cached: str, ceiling: str) -> list[float]:
    """Cached req/s over the ceiling's, round by round (each pair measured minutes apart)."""
    a = rps_of(report.bench.results[config.name, cached])
    b = rps_of(report.bench.results[config.name, ceiling])
    return [x / y for x, y in zip(a, b, strict=True)]


def cache_note(target: Target, m: Measured) -> str:
    requests = sum(c.get("wrk:requests", 0) for c in m.caches)
    if target.kind == "constant":
        return "no cache: a constant"
    if target.kind == "cached":
        hits = sum(c.get("memory:hit", 0) for c in m.caches)
        misses = sum(c.get("memory:miss", 0) for c in m.caches)
        return (f"memory hits {hits:,.0f}, misses {misses:,.0f} (wrk completed "
                f"{requests:,.0f}; the warm-up and requests cut at the end count too)")  # fmt: skip
    sent = sum(r.sent for runs in m.runs.values() for r in runs)
    repeats = sum(r.repeats for runs in m.runs.values() for r in runs)
    assert target.walk is not None
    walked = (f"{target.walk.distinct:,} distinct values, {repeats:,} of {sent:,} "
              f"{'answers' if target.kind == 'database' else 'requests'} repeated one")  # fmt: skip
    if target.kind == "database":
        return f"no API, no cache: the API's statements from client processes; {walked}"
    memory = sum(c.get("memory:hit", 0) for c in m.caches)
    misses = sum(c.get("memory:miss", 0) for c in m.caches)
    redis_hits = sum(c.get("redis:hit", 0) for c in m.caches)
    redis_misses = sum(c.get("redis:miss", 0) for c in m.caches)
    indexed = sum(c.get("list:index", 0) for c in m.caches)
    database = sum(c.get("list:database", 0) for c in m.caches)
    return (f"memory hits {memory:,.0f}, misses {misses:,.0f}; Redis hits {redis_hits:,.0f}, "
            f"misses {redis_misses:,.0f}; matches found by the search index {indexed:,.0f}, "
            f"by PostgreSQL {database:,.0f}; {walked}")  # fmt: skip


def table(report: Report, config: Config) -> list[str]:
    lines = [
        f"#### {config.processes} process(es) x {config.workers} worker(s)",
        "",
        "| what | example request | req/s at 64 conns | p50 at 8 (ms) | p99 at 8 (ms) "
        "| vs ceiling (req/s) | errors | caches over the measured runs |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for target in report.targets:
        m = report.bench.results[config.name, target.name]
        rps = rps_of(m)
        p50 = [r.p50_ms for r in m.runs[8]]
        p99 = [r.p99_ms for r in m.runs[8]]
        errors = sum(r.errors for runs in m.runs.values() for r in runs)
        versus = "-"
        if target.kind == "cached":
            ceiling = CEILINGS[target.name]
            rs = ratios(report, config, target.name, ceiling)
            versus = f"{median(rs):.0%}{spread([r * 100 for r in rs], '.0f')}"
        lines.append(
            f"| {target.name} | `{target.path}` | {median(rps):,.0f}{spread(rps, ',.0f')} "
            f"| {median(p50):.2f}{spread(p50, '.2f')} | {median(p99):.2f}{spread(p99, '.2f')} "
            f"| {versus} | {errors} | {cache_note(target, m)} |"
        )
    uncached_rss = max((report.bench.results[config.name, t.name].rss_mb for t in report.targets
                        if t.kind == "uncached"), default=0.0)  # fmt: skip
    lines += [
        "",
        f"Peak RSS (VmHWM) per server process: {report.bench.api_rss[config.name]:.0f} MB for "
        f"the API that served the cached runs (every round), {uncached_rss:.0f} MB for the "
        "fresh instances of the uncached runs.",
        "",
    ]
    return lines


# The ceiling each cached answer is held against: the same bytes from a constant handler.
CEILINGS = {
    "cached list": "ceiling: constant body, the list gzip'd",
    "cached list, no key or limit": "ceiling: constant body, the list gzip'd",
    "cached detail": "ceiling: constant body, detail size",
}


def verdicts(report: Report, config: Config) -> list[str]:
    results = report.bench.results

    def mark(ok: bool) -> str:
        return "met" if ok else "**NOT met**"

    lines = []
    for cached in ("cached list", "cached detail"):
        rs = ratios(report, config, cached, CEILINGS[cached])
        lines.append(
            f"- {cached} (a key, the limiter on, gzip accepted) at least 70% of the "
            f"constant-body ceiling serving the same bytes, at 64 connections: {median(rs):.0%} "
            f"(rounds {', '.join(f'{r:.0%}' for r in rs)}): {mark(median(rs) >= 0.70)}"
        )
    share = report.sizes["list gzip"] / report.sizes["list"]
    lines.append(
        f"- the compressed list answer under 25% of the plain bytes: {report.sizes['list gzip']:,}"
        f" of {report.sizes['list']:,} bytes, {share:.1%}: {mark(share < 0.25)}"
    )
    keyed = rps_of(results[config.name, "cached list"])
    free = rps_of(results[config.name, "cached list, no key or limit"])
    costs = [1 - k / f for k, f in zip(keyed, free, strict=True)]
    lines.append(
        f"- what keys and limits cost the cached list at 64 connections: {median(keyed):,.0f} "
        f"req/s with them, {median(free):,.0f} without (an API with anonymous reads and no "
        f"limits): {median(costs):.1%} (rounds {', '.join(f'{c:.1%}' for c in costs)})"
    )
    nine = median(rps_of(results[config.name, "ceiling: constant body, 9 KB"]))
    cached_list = median(rps_of(results[config.name, "cached list"]))
    lines.append(
        f"- for the issue's figure (9 KB constant body ~15,000 req/s at 64 connections): here "
        f"{nine:,.0f} req/s; the cached list ({report.sizes['list']:,} bytes) is "
        f"{cached_list / nine:.0%} of it"
    )
    for cached in ("cached list", "cached detail"):
        p99 = [r.p99_ms for r in results[config.name, cached].runs[8]]
        constant = [r.p99_ms for r in results[config.name, CEILINGS[cached]].runs[8]]
        lines.append(
            f"- {cached} p99 under 2 ms at 8 connections: {median(p99):.2f} ms "
            f"(rounds {', '.join(f'{v:.2f}' for v in p99)}): {mark(median(p99) < 2)}; the "
            f"constant-body ceiling of the same bytes, in the same rounds: {median(constant):.2f} "
            f"ms (rounds {', '.join(f'{v:.2f}' for v in constant)})"
        )
    for target in report.targets:
        if target.kind == "uncached":
            assert target.walk is not None
            p99 = [r.p99_ms for r in results[config.name, target.name].runs[8]]
            peer = results[config.name, peer_name(target.walk.kind)]
            alone = [r.p99_ms for r in peer.runs[8]]
            lines.append(
                f"- {target.name} p99 under 25 ms at 8 connections: {median(p99):.2f} ms "
                f"(rounds {', '.join(f'{v:.2f}' for v in p99)}): {mark(median(p99) < 25)}; "
                f"PostgreSQL alone answering the same values with the statements the API runs "
                f"without its search index, at 8 connections: {median(alone):.2f} ms (rounds "
                f"{', '.join(f'{v:.2f}' for v in alone)})"
            )
    return lines


def cpu_lines(report: Report) -> list[str]:
    groups = ["API", "PostgreSQL", "Redis", "client"]
    lines = [
        "| configuration | uncached kind | " + " | ".join(f"{g} (ms)" for g in groups)
        + " | total (ms) | cores busy |",
        "|---|---|" + "--:|" * (len(groups) + 2),
    ]  # fmt: skip
    for config in report.configs:
        for target in report.targets:
            rounds = report.bench.results[config.name, target.name].cpu_ms
            if target.kind not in ("uncached", "database") or not rounds:
                continue
            ms = {g: median([r.get(g, 0.0) for r in rounds]) for g in groups}
            total = median([sum(r.get(g, 0.0) for g in groups) for r in rounds])
            cores = median([r["cores"] for r in rounds])
            cells = " | ".join(f"{ms[g]:.2f}" for g in groups)
            assert target.walk is not None
            kind = target.walk.kind + (", PostgreSQL alone" if target.kind == "database" else "")
            lines.append(f"| {config.name} | {kind} | {cells} "
                         f"| {total:.2f} | {cores:.2f} |")  # fmt: skip
    return lines


def explained_lines(report: Report) -> list[str]:
    lines = [
        "| uncached kind | values | planning p50 / p99 / max (ms) | execution p50 / p99 / max "
        "(ms) | matches p50 / p99 / max | answers that counted and walked |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for e in report.explained:

        def three(v: list[float], fmt: str = ".2f") -> str:
            return " / ".join(f"{x:{fmt}}" for x in (percentile(v, 50), percentile(v, 99), max(v)))

        totals = three([float(t) for t in e.totals], ",.0f")
        lines.append(f"| {e.kind} | {e.values} | {three(e.planning_ms)} | "
                     f"{three(e.execution_ms)} | {totals} | {e.walked} |")  # fmt: skip
    return lines


def render(report: Report) -> str:
    lb, la = report.load_before, report.load_after
    wrk_version = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[1]
    versions = f"Robyn {robyn_version()}, CPython {platform.python_version()}, wrk {wrk_version}"
    lines = [
        *heading(SECTION, f".venv/bin/python {report.command}"),
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (`nproc`), shared: PostgreSQL, Redis, "
        "the API, the constant-body server and wrk (2 threads) all run on these 2 cores, and "
        "other jobs share the VM",
        f"- {versions}; PostgreSQL and Redis of the local stack",
        f"- load average (1/5/15 min) before: {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f}, after: "
        f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}",
        "",
        f"{report.movies:,} generated movies (titles Zipf-distributed over ~3,200 words, years "
        "1900-2025, 0-3 of 20 genres, 0-8 cast from a pool of 4,000 names, a ~400-character "
        f"extract) COPYed into `movies` in {report.load_seconds:.0f} s, indexes rebuilt, "
        f"`VACUUM ANALYZE`d. wrk {WRK_THREADS} threads, {report.seconds:g} s per run; every "
        f"figure is the median of {report.rounds} interleaved rounds (round → configuration → "
        "target), the min-max of the rounds in brackets. *vs ceiling* divides the cached "
        "answer's req/s by the constant body's of the same bytes, measured in the same round. "
        "Latencies are wrk's (`--latency`), at 8 connections; req/s at 64.",
        "",
        "Every request to the API carries a key (`Authorization: Bearer`, a limit of 1,000,000 "
        "requests a second: far above the load, so the limiter runs and never refuses) and "
        "`Accept-Encoding: gzip`; the cached list is answered gzip'd, and its ceiling is the "
        "constant-body handler sending those same gzip'd bytes. *cached list, no key or limit* "
        "asks a second API of the same configuration with anonymous reads and "
        "`MOVIESTORE_API_RATE_LIMITS=false`: the difference is what keys and limits cost.",
        "",
        "Uncached: each uncached run gets a fresh `moviestore api` (same configuration, empty "
        "in-memory answers and `total` counts), Redis flushed, and a wrk Lua script walking a "
        "shuffled list of distinct values drawn from the loaded movies (title: a 4-8 character "
        "substring of a title word, half lower-cased; genre+year: a genre of a movie with a "
        "`year_from`-`year_to` range of 1-5 years around its year; cast: a cast member's name "
        "with one of the four sorts), "
        "each wrk thread its own slice, after a 1 s warm-up on values kept apart. The cache "
        "columns are the API's own /metrics counters over the measured runs only.",
        "",
        "*PostgreSQL alone* is the uncached answer's peer on this machine: the same values "
        "(each client its share, in order), answered by the statements the API runs for them "
        "when it has no search index (composed by `moviestore.store.reads`, the API's session "
        "settings; with the index, the API asks PostgreSQL only for the page's rows by id), "
        "sent by as many "
        "client processes as wrk has connections, each with its own session, closed loop, and "
        "no API, Redis or HTTP in between; latency is from composing the first statement to "
        "receiving the last reply. It does not depend on the API's configuration: its rows in "
        "each configuration's table are two samples of the same peer. Its 64 client processes "
        "account for much of the load average after the run.",
        "",
    ]
    for config in report.configs:
        lines += table(report, config)
    for config in report.configs:  # a deployment runs one configuration: each is judged whole
        lines += [
            f"### Targets, {config.processes} process(es) x {config.workers} worker(s)",
            "",
            *verdicts(report, config),
            "",
        ]
    lines += [
        "### Where the CPU of an uncached answer goes",
        "",
        "CPU time (user + system, from /proc) of each group of processes over the uncached runs "
        "at 8 connections, divided by the answers completed; *client* is wrk, or the client "
        "processes when PostgreSQL answers alone (their own `time.process_time()`); *cores "
        "busy* is their sum over "
        "the run's wall time (the machine has "
        f"{len(os.sched_getaffinity(0))}). Medians of the rounds.",
        "",
        *cpu_lines(report),
        "",
        "### What PostgreSQL spends per uncached answer",
        "",
        "EXPLAIN ANALYZE of the statements each uncached list answer runs, composed by "
        "`moviestore.store.reads` for the first values of each walk: one statement that finds "
        "the matches once, counts them and sorts the page (`sorted_matches`), and, when they "
        f"are more than {UP_TO:,}, their count and an index walk as well (`count`, `walk`). "
        "Planning counts: the API plans each statement for its values.",
        "",
        *explained_lines(report),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    with sigterm_unwinds():
        sys.exit(main())
