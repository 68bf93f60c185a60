"""Ingestion benchmark: files from the local S3 to answers of the API, in one run, on the local
stack (PostgreSQL, Redis and moto as local processes; `moviestore worker` and `moviestore api`
as the child processes production runs):

1. **A burst**: 200 ten-movie files from 20 providers and 4 files of 50,000 to 200,000 movies,
   uploaded at once (8 uploads in flight, as providers upload from machines of their own) in a
   shuffled order, loaded by one worker with concurrency 1, then again
   (database emptied) with concurrency 4: files/s, rows/s, the time to drain the small files,
   upload-to-queryable p50/p99 per size class, dead letters. A file is queryable when the API
   answers at the catalog version its commit made (the API's /readyz, sampled every 20 ms; one
   server process, so the version is the one every answer is at).
2. **One large file** (362,540 movies, NDJSON) from the start of its upload (multipart, as
   `moviestore upload` does it) to queryable through the API, against a raw binary COPY of the
   same rows into ``CREATE TABLE … (LIKE movies INCLUDING ALL)`` (the same columns and indexes,
   checked), measured in the same run.
3. **A snapshot** that withdraws 10% of a 300,000-movie provider: the seconds from its upload to
   its commit, and the WAL it wrote (``pg_current_wal_lsn()`` before and after).

    .venv/bin/python benchmarks/bench_ingest.py            # everything, writes RESULTS.md
    .venv/bin/python benchmarks/bench_ingest.py --quick    # small sizes, prints only

Nothing here asserts a time; the targets are printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg
from boto3.s3.transfer import TransferConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "python"))

from moviestore._validator import COPY_HEADER, COPY_TRAILER, Validator  # noqa: E402
from moviestore.aws.clients import Clients  # noqa: E402
from moviestore.localstack.processes import (  # noqa: E402
    Server,
    free_port,
    port_open,
    sigterm_unwinds,
    wait_until,
)
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env  # noqa: E402
from moviestore.store.loader import COPY_MOVIES, movie_suffix, retag  # noqa: E402
from moviestore.store.migrate import migrate  # noqa: E402
from results import heading, write_section  # noqa: E402

SECTION = "## Ingestion"
MULTIPART = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20,
                           max_concurrency=4)  # fmt: skip
LOCAL = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Uploads of the burst in flight at once (the shuffled order is the order they start in).
BURST_UPLOADERS = 8


@dataclass(frozen=True)
class Sizes:
    small_files: int
    small_providers: int
    small_movies: int
    large: tuple[int, ...]
    big: int
    snapshot: int


FULL = Sizes(200, 20, 10, (50_000, 100_000, 150_000, 200_000), 362_540, 300_000)
QUICK = Sizes(24, 6, 10, (2_000, 4_000), 20_000, 10_000)


# --- data --------------------------------------------------------------------------------


def catalog(records: int) -> Path:
    """NDJSON of ``records`` generated movies (cached in benchmarks/data)."""
    path = HERE / "data" / f"catalog-{records}-records-seed20240917.ndjson"
    if not path.exists():  # written whole or not at all: an interrupted run leaves no stub
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), "--records", str(records),
             "--format", "ndjson", "-o", str(partial)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        partial.rename(path)
    return path


def without_every_tenth(source: Path) -> Path:
    """The same catalog lacking every tenth movie: a snapshot that withdraws 10%."""
    path = source.with_name(source.stem + "-snapshot90.ndjson")
    if not path.exists():
        partial = path.with_suffix(".partial")
        with source.open("rb") as src, partial.open("wb") as out:
            for i, line in enumerate(src):
                if i % 10 != 9:
                    out.write(line)
        partial.rename(path)
    return path


def small_file(provider: int, index: int, movies: int) -> bytes:
    return b"\n".join(
        orjson.dumps({"id": f"{provider}-{index}-{n}", "title": f"Burst {provider} {index} {n}",
                      "year": 1990 + n % 30, "genres": ["Drama"]})
        for n in range(movies)
    )  # fmt: skip


# --- the platform ------------------------------------------------------------------------


class Platform:
    """The local stack, the API (one server process) and, per part, a worker."""

    def __init__(self, stack: LocalStack, endpoints: Endpoints):
        self.stack, self.endpoints = stack, endpoints
        self.url = endpoints.database_url
        with set_env(LOCAL):
            self.clients = Clients(REGION, endpoints.aws_endpoint)
        self.api_url = ""
        self.api: Server | None = None
        self.versions: list[tuple[float, int]] = []  # (time.time(), the API's version)
        self.sampling = threading.Event()

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.endpoints.settings_env(), **extra}

    def start(self, command: str, **env: str) -> Server:
        log = self.stack.state / "logs" / f"{command}.log"
        argv = [sys.executable, "-m", "moviestore.cli", command]
        server = Server(command, argv, log, env=self.env(**env))
        server.start()
        self.stack.servers.append(server)
        return server

    def start_api(self) -> None:
        """The API, started anew (its search index built from the catalog as it is now), and
        its version sampled."""
        if self.api is not None:
            self.sampling.set()
            self.api.stop()
        self.sampling = threading.Event()
        port = free_port()
        self.api = self.start("api", MOVIESTORE_API_PORT=str(port), MOVIESTORE_API_PROCESSES="1",
                              MOVIESTORE_API_VERSION_POLL_SECONDS="0.05")  # fmt: skip
        self.api_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: port_open(port), 60, "the API", self.api)
        self.versions = []
        threading.Thread(target=self.sample_versions, args=(self.sampling,), daemon=True).start()

    def sample_versions(self, sampling: threading.Event) -> None:
        while not sampling.is_set():
            try:
                with urllib.request.urlopen(self.api_url + "/readyz", timeout=2) as got:
                    version = orjson.loads(got.read())["catalog_version"]
                if version is not None:
                    self.versions.append((time.time(), int(version)))
            except OSError:
                pass
            time.sleep(0.02)

    def queryable_at(self, version: int) -> float | None:
        """When the API first answered at ``version`` or later."""
        return next((t for t, v in self.versions if v >= version), None)

    def await_queryable(self, version: int) -> float:
        """When the API answered at ``version``, waiting for it (its log shown if never)."""
        try:
            wait_until(lambda: self.queryable_at(version) is not None, 300, "the API", self.api)
        except Exception:
            log = self.stack.state / "logs" / "api.log"
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        at = self.queryable_at(version)
        assert at is not None
        return at

    def worker(self, concurrency: int) -> Server:
        port = free_port()
        worker = self.start("worker", MOVIESTORE_METRICS_PORT=str(port),
                            MOVIESTORE_WORKER_CONCURRENCY=str(concurrency),
                            MOVIESTORE_SQS_WAIT_SECONDS="1")  # fmt: skip
        wait_until(lambda: port_open(port), 60, "the worker", worker)
        return worker

    def empty(self) -> None:
        """No movie, no ingestion, and the API started anew on the empty catalog (a TRUNCATE is
        no change the feed tells)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE movies, ingestions, catalog_versions, catalog_changes,"
                         " catalog_change_rows RESTART IDENTITY CASCADE")  # fmt: skip
            conn.execute("UPDATE catalog_state SET feed_horizon = version")
            conn.execute("CHECKPOINT")
        self.start_api()

    def committed(
        self, keys: list[str], seconds: float
    ) -> dict[str, tuple[str, int | None, float | None]]:
        """Each key's (status, catalog version, commit time) once every one has a final
        status."""
        deadline = time.monotonic() + seconds
        while True:
            with psycopg.connect(self.url) as conn:
                rows = conn.execute(
                    "SELECT i.key, i.status, v.version, extract(epoch FROM v.committed_at)"
                    " FROM ingestions i LEFT JOIN catalog_versions v ON v.ingestion_id = i.id"
                    " WHERE i.key = ANY(%s) AND i.status NOT IN ('processing', 'confirmed')",
                    (keys,),
                ).fetchall()
            if len(rows) == len(keys):
                return {
                    key: (status, version, None if at is None else float(at))
                    for key, status, version, at in rows
                }
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(rows)} of {len(keys)} files done after {seconds} s")
            time.sleep(0.2)

    def dead_letters(self) -> int:
        attrs = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.endpoints.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def wal_lsn(self) -> str:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0]) if row else "0/0"

    def wal_since(self, lsn: str) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)
            ).fetchone()
        return int(row[0]) if row else 0


# --- 1. the burst --------------------------------------------------------------------------


@dataclass
class Burst:
    concurrency: int
    drained_small: float  # first upload to the last small file queryable
    drained_all: float
    rows: int
    files: int
    committed_small: float  # first upload to the last small file's commit
    latency: dict[str, list[float]] = field(default_factory=dict)  # class -> to queryable
    to_commit: dict[str, list[float]] = field(default_factory=dict)  # class -> to the commit
    dead_letters: int = 0

    def __str__(self) -> str:
        small = self.latency["small"]
        return (f"concurrency {self.concurrency}: small files committed in "
                f"{self.committed_small:.1f} s, queryable in {self.drained_small:.1f} s "
                f"(p50 {percentile(small, 0.5):.1f}, p99 {percentile(small, 0.99):.1f}), "
                f"everything in {self.drained_all:.1f} s, "
                f"{self.dead_letters} dead letters")  # fmt: skip


def burst(p: Platform, sizes: Sizes, concurrency: int) -> Burst:
    p.empty()
    uploads: list[tuple[str, str, bytes | Path, int]] = []  # (class, key, body, movies)
    for i in range(sizes.small_files):
        provider = i % sizes.small_providers
        body: bytes | Path = small_file(provider, i, sizes.small_movies)
        uploads.append(("small", f"providers/burst-{provider}/f{i}.ndjson", body,
                        sizes.small_movies))  # fmt: skip
    for n in sizes.large:
        uploads.append(("large", f"providers/large-{n}/catalog.ndjson", catalog(n), n))
    random.Random(15).shuffle(uploads)
    worker = p.worker(concurrency)
    started: dict[str, float] = {}

    def upload(key: str, content: bytes | Path) -> None:
        started[key] = time.time()
        if isinstance(content, Path):
            p.clients.s3.upload_file(str(content), p.endpoints.bucket, key, Config=MULTIPART)
        else:
            p.clients.s3.put_object(Bucket=p.endpoints.bucket, Key=key, Body=content)

    first = time.time()
    # Providers upload from machines of their own, at once: one uploader after another would
    # hold every small file back behind the large uploads before it, whatever the worker does.
    with ThreadPoolExecutor(BURST_UPLOADERS) as uploaders:
        for uploading in [uploaders.submit(upload, key, body) for _, key, body, _ in uploads]:
            uploading.result()
    keys = [key for _, key, _, _ in uploads]
    done = p.committed(keys, 3600)
    p.await_queryable(max(v for _, v, _ in done.values() if v is not None))
    result = Burst(concurrency, 0, 0, sum(m for *_, m in uploads), len(uploads), 0)
    ready: dict[str, float] = {}
    for cls, key, _, _ in uploads:
        status, version, committed = done[key]
        assert status == "loaded" and version is not None and committed, (key, status)
        at = p.queryable_at(version)
        assert at is not None
        ready[key] = at
        result.latency.setdefault(cls, []).append(at - started[key])
        result.to_commit.setdefault(cls, []).append(committed - started[key])
    smalls = [k for c, k, _, _ in uploads if c == "small"]
    result.drained_small = max(ready[k] for k in smalls) - first
    result.committed_small = max(float(done[k][2] or 0) for k in smalls) - first
    result.drained_all = max(ready.values()) - first
    result.dead_letters = p.dead_letters()
    worker.stop()
    return result


# --- 2. one large file, and the raw COPY of its rows -----------------------------------------


def copy_tuples(url: str, data: Path) -> tuple[Path, int]:
    """The COPY tuples the worker sends for ``data`` (made here, not timed), and their count."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO ingestions (bucket, key, version, provider, status)"
            " VALUES ('bench', 'ceiling', 'ceiling', 'ceiling', 'loaded') RETURNING id"
        ).fetchone()
    assert row is not None
    suffix = movie_suffix("ceiling", int(row[0]), "providers/ceiling/catalog")
    path = Path(tempfile.mkstemp(suffix=".pgcopy")[1])
    rows = 0
    with data.open("rb") as src, path.open("wb") as out:
        v = Validator(filename=data.name)
        out.write(COPY_HEADER)
        while chunk := src.read(1 << 20):
            b = v.feed(chunk)
            out.write(retag(b.copy_data, suffix))
            rows += b.count
        b = v.finish()
        out.write(retag(b.copy_data, suffix))
        rows += b.count
        out.write(COPY_TRAILER)
    return path, rows


def raw_copy(url: str, tuples: Path) -> float:
    """Seconds for a binary COPY of the tuples into a fresh table made like ``movies``,
    committed."""
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS ceiling_movies")
        conn.execute("CREATE TABLE ceiling_movies (LIKE movies INCLUDING ALL)")
        conn.commit()
        conn.execute("CHECKPOINT")
        copy = COPY_MOVIES.as_string(conn).replace("COPY movies", "COPY ceiling_movies", 1)
        started = time.perf_counter()
        with conn.cursor().copy(copy) as sink, tuples.open("rb") as f:
            while block := f.read(1 << 20):
                sink.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE ceiling_movies")
        conn.commit()
    return seconds


def same_indexes(url: str) -> None:
    """The raw COPY's table has exactly the indexes of ``movies`` (checked, not assumed)."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE ceiling_check (LIKE movies INCLUDING ALL)")
        query = (
            "SELECT regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes"
            " WHERE tablename = %s ORDER BY 1"
        )
        movies = conn.execute(query, ("movies",)).fetchall()
        ceiling = conn.execute(query, ("ceiling_check",)).fetchall()
        assert movies == ceiling, (movies, ceiling)


@dataclass
class BigFile:
    movies: int
    megabytes: float
    raw_copy: float
    upload: float
    to_commit: float  # from the start of the upload
    to_queryable: float


def big_file(p: Platform, sizes: Sizes) -> BigFile:
    data = catalog(sizes.big)
    p.empty()
    same_indexes(p.url)
    tuples, rows = copy_tuples(p.url, data)
    try:
        copy_seconds = raw_copy(p.url, tuples)
    finally:
        tuples.unlink()
    p.empty()
    worker = p.worker(1)
    key = "providers/big/catalog.ndjson"
    started = time.time()
    p.clients.s3.upload_file(str(data), p.endpoints.bucket, key, Config=MULTIPART)
    uploaded = time.time()
    status, version, committed = p.committed([key], 3600)[key]
    assert status == "loaded" and version is not None and committed is not None
    queryable = p.await_queryable(version)
    worker.stop()
    return BigFile(rows, data.stat().st_size / 1e6, copy_seconds, uploaded - started,
                   committed - started, queryable - started)  # fmt: skip


# --- 3. a snapshot that withdraws 10% ---------------------------------------------------------


@dataclass
class Withdrawal:
    movies: int
    withdrawn: int
    seconds: float
    wal_mb: float
    load_seconds: float  # the first load of the catalog, for comparison


def snapshot(p: Platform, sizes: Sizes) -> Withdrawal:
    full = catalog(sizes.snapshot)
    lacking = without_every_tenth(full)
    p.empty()
    worker = p.worker(1)
    key = "providers/snapshots/catalog.ndjson"
    started = time.time()
    p.clients.s3.upload_file(str(full), p.endpoints.bucket, key, Config=MULTIPART)
    p.committed([key], 3600)
    loaded = time.time() - started
    # A settled catalog (vacuumed and analyzed, as autovacuum leaves it after a while), so the
    # WAL below is the snapshot's, not a vacuum's of the 300,000 rows the first load wrote.
    with psycopg.connect(p.url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) movies")
        conn.execute("CHECKPOINT")
    lsn = p.wal_lsn()
    started = time.time()
    key = "providers/snapshots/snapshot.ndjson"
    p.clients.s3.upload_file(str(lacking), p.endpoints.bucket, key, Config=MULTIPART,
                             ExtraArgs={"Metadata": {"mode": "snapshot"}})  # fmt: skip
    p.committed([key], 3600)
    with psycopg.connect(p.url) as conn:
        row = conn.execute(
            "SELECT status, rows_withdrawn, extract(epoch FROM finished_at) FROM ingestions"
            " WHERE key = %s",
            (key,),
        ).fetchone()
        live = conn.execute("SELECT count(*) FROM movies WHERE provider = 'snapshots'").fetchone()
    assert row is not None and row[0] == "loaded", row
    wal = p.wal_since(lsn)
    worker.stop()
    assert live is not None
    return Withdrawal(int(live[0]), int(row[1]), float(row[2]) - started, wal / 1e6, loaded)


# --- the report --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Figures:
    sizes: Sizes
    bursts: list[Burst]
    big: BigFile
    snap: Withdrawal


def render(command: str, load: tuple[str, str], figures: Figures) -> str:
    sizes, bursts, big, snap = figures.sizes, figures.bursts, figures.big, figures.snap
    one, four = bursts
    large_sizes = ", ".join(f"{n:,}" for n in sizes.large)
    lines = heading(SECTION, command)
    lines += [
        f"{os.cpu_count()} cores shared with other work; load average (1/5/15 min) before: "
        f"{load[0]}, after: {load[1]}. The local stack: PostgreSQL, Redis and moto as local "
        "processes, `moviestore worker` and `moviestore api` (one server process) as children.",
        "",
        f"### A burst: {sizes.small_files} files of {sizes.small_movies} movies from "
        f"{sizes.small_providers} providers and {len(sizes.large)} files of {large_sizes} movies, "
        f"uploaded at once ({BURST_UPLOADERS} uploads in flight) in a shuffled order",
        "",
        "| worker concurrency | small files committed / queryable | files/s | rows/s |"
        " small: to commit p50 / p99 | small: to queryable p50 / p99 | large: to queryable"
        " p50 / p99 | dead letters |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for b in bursts:
        small, large, commit = b.latency["small"], b.latency["large"], b.to_commit["small"]
        lines.append(
            f"| {b.concurrency} | {b.committed_small:.1f} / {b.drained_small:.1f} s |"
            f" {b.files / b.drained_all:.1f} | {b.rows / b.drained_all:,.0f} |"
            f" {percentile(commit, 0.5):.1f} / {percentile(commit, 0.99):.1f} s |"
            f" {percentile(small, 0.5):.1f} / {percentile(small, 0.99):.1f} s |"
            f" {percentile(large, 0.5):.1f} / {percentile(large, 0.99):.1f} s |"
            f" {b.dead_letters} |"
        )
    lines += [
        "",
        "From the start of a file's upload to its commit, and to the API answering at the "
        "version its commit made (queryable). Concurrency 4 commits the small files "
        f"**{one.committed_small / four.committed_small:.1f}x** faster than 1, and makes them "
        f"queryable **{one.drained_small / four.drained_small:.1f}x** faster (target: at least "
        f"2x, with zero dead letters); everything, {one.drained_all / four.drained_all:.1f}x. "
        "files/s and rows/s count every file, from the first upload to the last queryable.",
        "",
        f"### One file of {big.movies:,} movies ({big.megabytes:,.0f} MB NDJSON)",
        "",
        "| what | seconds | vs the raw COPY |",
        "|---|--:|--:|",
        f"| raw binary COPY of the same rows into `LIKE movies INCLUDING ALL`, committed |"
        f" {big.raw_copy:.1f} | 1.00x |",
        f"| upload to the local S3 (multipart, 64 MiB parts) | {big.upload:.1f} | |",
        f"| start of the upload to the commit | {big.to_commit:.1f} |"
        f" {big.to_commit / big.raw_copy:.2f}x |",
        f"| **start of the upload to queryable through the API** | **{big.to_queryable:.1f}** |"
        f" **{big.to_queryable / big.raw_copy:.2f}x** (target: at most 1.3x) |",
        "",
        f"### A snapshot that withdraws 10% of a {snap.movies:,}-movie provider",
        "",
        f"{snap.withdrawn:,} movies withdrawn (soft deletes, logged in the change feed), the "
        f"rest unchanged: **{snap.seconds:.1f} s** from the start of its upload to its commit "
        f"(the provider's first load: {snap.load_seconds:.1f} s), **{snap.wal_mb:,.1f} MB of "
        "WAL** (cluster-wide, from a checkpoint before the upload to the commit; the catalog "
        "vacuumed and analyzed first, as autovacuum leaves it).",
        "",
    ]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes; prints only")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    results = args.results or (None if args.quick else HERE / "RESULTS.md")
    command = ".venv/bin/python benchmarks/bench_ingest.py" + (" --quick" if args.quick else "")
    before = load_average()
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="moviestore-bench-ingest-")))
    endpoints = stack.start(visibility_timeout=600)
    platform = Platform(stack, endpoints)
    try:
        migrate(endpoints.database_url)
        bursts = []
        for concurrency in (1, 4):
            bursts.append(burst(platform, sizes, concurrency))
            print(str(bursts[-1]), flush=True)
        big = big_file(platform, sizes)
        print(big, flush=True)
        snap = snapshot(platform, sizes)
        print(snap, flush=True)
    finally:
        platform.sampling.set()
        stack.destroy()
    section = render(command, (before, load_average()), Figures(sizes, bursts, big, snap))
    print(section)
    if results is not None:
        write_section(results, SECTION, section)
    return 0


if __name__ == "__main__":
    with sigterm_unwinds():
        sys.exit(main())
