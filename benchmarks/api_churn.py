"""The API while providers keep uploading (``bench_api.py churn``), and at millions of movies
(``bench_api.py scale``).

churn: on a catalog of ``--movies`` (300,000) generated movies, one ``moviestore api`` (2 server
processes, as deployed) and one ``moviestore worker`` of its own local stack; wrk runs a cached
mix of list, detail and title queries at 8 connections, in three phases of one run:

1. nobody uploading;
2. five providers each uploading a 10-movie file every 10 s (one upload every 2 s), through S3,
   SQS and the worker, each file changing five of the provider's movies and adding five;
3. while a 200,000-movie file of a new provider loads (wrk starts with its upload).

For each phase: req/s, p50/p99, the answers by where they came from (the API's counters), and
from the API's log, for every change set each process applied: the time to apply it and the
freshness (the version's commit to the process answering for it).

scale: one ``moviestore api`` over ``--movies`` (3,000,000) movies: the start-up build, index
bytes per movie, each server process's RSS and PSS (a base mapped by both processes is counted
once between them in PSS, as the pod's memory cgroup counts it), during a 10-movie change and a
merge too, next to the API pod's memory limit (deploy/k8s).

    .venv/bin/python benchmarks/bench_api.py churn           # writes RESULTS.md
    .venv/bin/python benchmarks/bench_api.py churn --quick   # 3,000 movies, short phases
    .venv/bin/python benchmarks/bench_api.py scale           # 3 M movies, writes RESULTS.md

Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import orjson
import psycopg

import bench_api as base
from moviestore.api.database import APPLICATION
from moviestore.aws.clients import Clients
from moviestore.localstack.processes import Server, free_port, port_open, wait_until
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env
from moviestore.store.feed import commit_version
from results import heading, write_section

CHURN_SECTION = "## API under churn"
SCALE_SECTION = "## API at scale"
CONNECTIONS = 8
UPLOADERS = 5
UPLOAD_EVERY = 10.0  # seconds, per provider (staggered: one upload every 2 s in all)
BULK_MOVIES = 200_000
POD_LIMIT_MIB = 1024  # deploy/k8s/base/api-deployment.yaml
# Phase 1 with more of the machine idle than this did not saturate the API (its ratios mislead).
IDLE_UNSATURATED = 0.1
# wrk cycles through the mix, each thread its own offset.
MIX = """
local paths, n = {}, 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  n = math.random(#paths)
end
function request()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end
"""


# --- the cached mix ----------------------------------------------------------------------


def cached_mix(url: str, folder: Path) -> Path:
    """410 queries as clients ask them: 200 lists by genre and years (various sorts), 150
    details, 60 title searches, from movies actually loaded."""
    rng = random.Random(base.SEED + 7)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT setseed(0.42)")
        rows = conn.execute(
            "SELECT id, title, year, genres FROM movies ORDER BY random() LIMIT 3000"
        ).fetchall()
    paths: list[str] = []
    for movie_id, title, year, genres in rows:
        if len(paths) < 150:
            paths.append(f"/v1/movies/{movie_id}")
        elif len(paths) < 350 and genres:
            sort = rng.choice(("title", "-year", "year"))
            paths.append(f"/v1/movies?genre={base.q(genres[0])}&year_from={year - 2}"
                         f"&year_to={year + 2}&sort={sort}&limit=20")  # fmt: skip
        elif len(paths) >= 350 and len(paths) < 410:
            words = [w for w in re.findall(r"[^\W\d_]+", title) if len(w) >= 4]
            if words:
                paths.append(f"/v1/movies?title={base.q(rng.choice(words).lower())}")
    assert len(paths) == 410, f"only {len(paths)} queries from the sample"
    mix = folder / "mix.txt"
    mix.write_text("\n".join(paths) + "\n")
    return mix


def warm(url: str, mix: Path, processes: int) -> None:
    """Every query answered (and so cached) in every server process."""
    for path in mix.read_text().split():
        for _ in range(4 * processes):
            base.get(url + path)


# --- uploads -----------------------------------------------------------------------------


def record(provider: str, n: int, rng: random.Random, catalog: base.Catalog) -> dict[str, Any]:
    genres = sorted(set(rng.choices(catalog.genres, k=rng.randint(1, 3))))
    return {
        "id": f"{provider}-{n}",
        "title": catalog.title(),
        "year": rng.randint(1950, 2025),
        "genres": genres,
        "cast": rng.sample(catalog.cast_pool, rng.randint(0, 6)),
        "extract": f"A film from {provider}'s catalog.",
    }


class Background:
    """``run`` in a thread of its own while in the ``with`` block; ``stop`` ends it."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class Uploaders(Background):
    """``UPLOADERS`` providers, each uploading a 10-movie file every ``UPLOAD_EVERY`` seconds,
    staggered; each file changes five of the provider's movies and adds five new ones."""

    def __init__(self, clients: Clients, bucket: str):
        super().__init__()
        self.clients, self.bucket = clients, bucket
        self.uploaded = 0

    def run(self) -> None:
        rng, catalog = random.Random(base.SEED + 11), base.Catalog(base.SEED + 11)
        known: dict[str, list[int]] = {f"churn-{p}": [] for p in range(UPLOADERS)}
        started, tick = time.monotonic(), 0
        while not self.stop.is_set():
            provider = f"churn-{tick % UPLOADERS}"
            ids = known[provider]
            changed = rng.sample(ids, min(5, len(ids)))
            new = list(range(len(ids), len(ids) + 10 - len(changed)))
            ids.extend(new)
            body = orjson.dumps([record(provider, n, rng, catalog) for n in changed + new])
            key = f"providers/{provider}/upload-{tick:05d}.json"
            self.clients.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            self.uploaded += 1
            tick += 1
            self.stop.wait(max(0.0, started + tick * UPLOAD_EVERY / UPLOADERS - time.monotonic()))


def bulk_file(movies: int) -> Path:
    path = base.HERE / "data" / f"churn-bulk-{movies}-seed{base.SEED}.ndjson"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rng, catalog = random.Random(base.SEED + 13), base.Catalog(base.SEED + 13)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as out:
            for n in range(movies):
                out.write(orjson.dumps(record("bulk", n, rng, catalog)) + b"\n")
        partial.rename(path)
    return path


def ingested(url: str, key: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status FROM ingestions WHERE key = %s AND finished_at IS NOT NULL", (key,)
        ).fetchone()
    return row is not None


# --- what the API logged -----------------------------------------------------------------


@dataclass
class Applied:
    """One change set applied by one server process."""

    version: int
    movies: int
    read_ms: float
    apply_ms: float
    freshness_ms: float


def applied(log: Path, offset: int) -> tuple[list[Applied], int]:
    """The change sets applied since ``offset`` of the API's log, and the new offset."""
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read()
    found = []
    for line in data.splitlines():
        if b'"changes applied"' not in line:
            continue
        doc = orjson.loads(line)
        found.append(Applied(doc["catalog_version"], doc["movies"], doc["read_ms"],
                             doc["apply_ms"], doc["freshness_ms"]))  # fmt: skip
    return found, offset + len(data)


# --- churn ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    run: base.Run
    counters: dict[str, float]
    applied: list[Applied]
    seconds: float
    cpu: Cpu
    note: str = ""


@dataclass(frozen=True)
class Cpu:
    """Where the machine's CPU went while wrk ran: shares of every core's time."""

    api: float  # the API's processes (its supervisor and server processes)
    rest: float  # everything else: wrk, PostgreSQL, the worker, moto, Redis
    idle: float

    def __str__(self) -> str:
        return f"{self.api:.0%} / {self.rest:.0%} / {self.idle:.0%}"


def cpu_seconds(api: set[int]) -> tuple[float, float, float]:
    """Now: the machine's busy and idle CPU seconds since it booted (/proc/stat), and those the
    ``api`` processes have used."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    used = 0
    for pid in api:
        with contextlib.suppress(OSError):
            after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used += int(after_name[11]) + int(after_name[12])  # utime, stime
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (idle + iowait) / tick, used / tick


def cpu_between(before: tuple[float, float, float], after: tuple[float, float, float]) -> Cpu:
    busy, idle, api = (b - a for a, b in zip(before, after, strict=True))
    total = max(busy + idle, 1e-9)
    return Cpu(api / total, max(0.0, busy - api) / total, idle / total)


@dataclass
class Churn:
    api: base.Service
    log: Path
    mix: Path
    script: Path
    seconds: float
    phases: list[Phase] = field(default_factory=list)

    def settle(self) -> None:
        """A run of the mix whose figures are dropped: the first seconds of load after a start
        (the server processes' allocations, PostgreSQL's autovacuum of the fresh catalog) belong
        to no phase."""
        base.wrk(self.api.url, CONNECTIONS, min(self.seconds, 10.0), self.script, (str(self.mix),))

    def phase(self, name: str, during: Callable[[], Iterator[str]]) -> None:
        """wrk at ``CONNECTIONS`` for ``seconds`` while ``during`` runs (it yields once started,
        then again when the phase is over and returns a note)."""
        offset = self.log.stat().st_size
        before = base.cache_counters(self.api.url)
        work = during()
        next(work)
        pids = self.api.pids()
        started, cpu_before = time.perf_counter(), cpu_seconds(pids)
        run = base.wrk(self.api.url, CONNECTIONS, self.seconds, self.script, (str(self.mix),))
        wall, cpu = time.perf_counter() - started, cpu_between(cpu_before, cpu_seconds(pids))
        note = next(work, "")
        time.sleep(1.5)  # the last change sets reach the log
        counters = base.delta(base.cache_counters(self.api.url), before)
        changes, _ = applied(self.log, offset)
        self.phases.append(Phase(name, run, counters, changes, wall, cpu, note))
        print(f"{name}: {run.rps:,.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
              f"errors {run.errors}; CPU API / rest / idle {cpu}; {len(changes)} change sets "
              f"applied; {counters} {note}", flush=True)  # fmt: skip


def churn(args: argparse.Namespace) -> int:
    movies = args.movies or (3_000 if args.quick else 300_000)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    bulk = args.bulk or (20_000 if args.quick else BULK_MOVIES)
    results = args.results or (base.HERE / "RESULTS.md" if not args.quick else None)
    bulk_data = bulk_file(bulk)
    load_before = os.getloadavg()
    stack_of = base.catalog_stack(movies, args.state_dir, "moviestore-bench-churn-")
    with stack_of as (stack, endpoints, _), contextlib.ExitStack() as services:
        url = endpoints.database_url
        env = {**endpoints.settings_env(), "MOVIESTORE_LOG_LEVEL": "INFO"}
        services.callback(start_worker(stack, endpoints).stop)
        background(stack.server("moto"))
        services.enter_context(database_work_elsewhere(url))
        api = base.start_api(stack.state, env, base.Config(2, 1), "api-churn")
        services.callback(api.stop)
        work = Path(tempfile.mkdtemp(prefix="churn-", dir=stack.state))
        script = work / "mix.lua"
        script.write_text(MIX)
        mix = cached_mix(url, work)
        warm(api.url, mix, 2)
        log = stack.state / "logs" / "api-churn.log"
        bench = Churn(api, log, mix, script, seconds)
        with set_env(endpoints.settings_env()):
            clients = Clients(REGION, endpoints.aws_endpoint)

        def quiet() -> Iterator[str]:
            yield ""

        def uploads() -> Iterator[str]:
            with Uploaders(clients, endpoints.bucket) as uploaders:
                time.sleep(UPLOAD_EVERY / UPLOADERS)  # the first upload is in
                yield ""
            yield f"{uploaders.uploaded} files uploaded"

        def bulk_load() -> Iterator[str]:
            key = f"providers/bulk/bulk-{bulk}.ndjson"
            started = time.monotonic()
            clients.s3.upload_file(str(bulk_data), endpoints.bucket, key)
            yield ""
            wait_until(lambda: ingested(url, key), 600, "the bulk file's ingestion", api.server)
            took = time.monotonic() - started
            yield f"the {bulk:,}-movie file was loaded {took:.1f} s after its upload began"

        bench.settle()
        bench.phase("1. nobody uploading", quiet)
        bench.phase("2. 10-movie files from 5 providers, one every 2 s", uploads)
        bench.phase(f"3. while a {bulk:,}-movie file loads", bulk_load)
    command = " ".join(["benchmarks/bench_api.py", *sys.argv[1:]])
    section = render_churn(command, movies, bench, load_before, os.getloadavg())
    print(section)
    if results is not None:
        write_section(results, CHURN_SECTION, section)
    return 0


def background(server: Server) -> None:
    """In production the worker and S3 run on other machines than the API's pods: here they
    get the CPU the API leaves (nice 19), every thread of theirs."""
    assert server.proc is not None
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), 19)


@contextlib.contextmanager
def database_work_elsewhere(url: str) -> Iterator[None]:
    """In production PostgreSQL is RDS, a machine of its own: loading a file takes none of the
    API pods' CPU. Here every PostgreSQL process but the API's own backends (the worker's, the
    checkpointer, the WAL writer, autovacuum) runs at nice 19, looked for every 0.2 s, so it
    takes the CPU the API leaves; what the API asks of PostgreSQL keeps its priority."""
    stop = threading.Event()

    def renice() -> None:
        with psycopg.connect(url, autocommit=True, application_name="bench-renice") as conn:
            while not stop.wait(0.2):
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name <> %s",
                    (APPLICATION,),
                ).fetchall()
                for (pid,) in rows:
                    with contextlib.suppress(ProcessLookupError):
                        os.setpriority(os.PRIO_PROCESS, pid, 19)

    thread = threading.Thread(target=renice, name="renice", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def start_worker(stack: LocalStack, endpoints: Endpoints) -> base.Service:
    port = free_port()
    server = Server(
        "worker",
        ["nice", "-n", "19", sys.executable, "-m", "moviestore.cli", "worker"],
        stack.state / "logs" / "worker.log",
        env={**endpoints.settings_env(), "MOVIESTORE_METRICS_PORT": str(port),
             "MOVIESTORE_SQS_WAIT_SECONDS": "1"},
    )  # fmt: skip
    return base.serve(server, f"http://127.0.0.1:{port}", lambda: port_open(port), "the worker")


def percentile(values: list[float], p: float) -> float:
    return base.percentile(values, p) if values else float("nan")


def render_churn(
    command: str, movies: int, bench: Churn, before: tuple[float, ...], after: tuple[float, ...]
) -> str:
    first = bench.phases[0].run.rps
    lines = [
        *heading(CHURN_SECTION, command),
        f"- catalog: {movies:,} generated movies; API: 2 server processes x 1 worker; "
        f"wrk: {base.WRK_THREADS} threads, {CONNECTIONS} connections, a cached mix of 410 "
        "list (genre and years, three sorts), detail and title queries, warmed first",
        f"- machine: {base.cpu_model()}, {os.cpu_count()} cores, shared by wrk, the API, the "
        "worker, PostgreSQL, Redis and moto; the worker and moto (the local S3, SQS and SNS) "
        "run at nice 19, as if on machines of their own like in production, so they take the "
        "CPU the API leaves; so does every PostgreSQL process but the API's own backends (the "
        "worker's, the checkpointer, the WAL writer, autovacuum): RDS is a machine of its own",
        f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in before)}, after: "
        f"{' '.join(f'{x:.2f}' for x in after)}",
        "",
        "| phase | req/s | vs phase 1 | p50 | p99 | errors | memory hits | of them kept across "
        "a change | found stale in memory / in Redis | Redis hits | lists from the index "
        "| lists from PostgreSQL | CPU: the API / the rest / idle |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in bench.phases:
        c = p.counters
        lines.append(
            f"| {p.name} | {p.run.rps:,.0f} | {p.run.rps / first:.0%} | {p.run.p50_ms:.2f} ms "
            f"| {p.run.p99_ms:.2f} ms | {p.run.errors} | {c.get('memory:hit', 0):,.0f} "
            f"| {c.get('memory:kept', 0):,.0f} | {c.get('memory:stale', 0):,.0f} / "
            f"{c.get('redis:stale', 0):,.0f} | {c.get('redis:hit', 0):,.0f} "
            f"| {c.get('list:index', 0):,.0f} "
            f"| {c.get('list:database', 0):,.0f} | {p.cpu} |"
        )
    lines += [
        "",
        "Change sets applied (every server process applies each one; a set may hold several "
        "versions when they came close together):",
        "",
        "| phase | change sets | movies per set (max) | read p50 / max | apply p50 | apply p99 "
        "| apply max | freshness p50 | freshness p99 | freshness max |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in bench.phases:
        applies = [a.apply_ms for a in p.applied]
        reads_ms = [a.read_ms for a in p.applied]
        fresh = [a.freshness_ms for a in p.applied]
        most = max((a.movies for a in p.applied), default=0)
        lines.append(
            f"| {p.name} | {len(p.applied)} | {most:,} | {percentile(reads_ms, 50):.1f} / "
            f"{max(reads_ms, default=float('nan')):.1f} ms | {percentile(applies, 50):.2f} ms "
            f"| {percentile(applies, 99):.2f} ms | {max(applies, default=float('nan')):.2f} ms "
            f"| {percentile(fresh, 50):.0f} ms | {percentile(fresh, 99):.0f} ms "
            f"| {max(fresh, default=float('nan')):.0f} ms |"
        )
    notes = [f"- {p.name}: {p.note}" for p in bench.phases if p.note]
    small = [a.apply_ms for p in bench.phases for a in p.applied if a.movies <= 10]
    fresh_all = [a.freshness_ms for p in bench.phases for a in p.applied]
    quiet = bench.phases[0].cpu
    if quiet.idle > IDLE_UNSATURATED:
        notes.append(
            f"- 1. nobody uploading left {quiet.idle:.0%} of the machine idle: wrk did not keep "
            "the API busy, so the ratios to phase 1 below flatter phases 2 and 3; compare their "
            "req/s with another run's phase 1 too"
        )
    lines += ["", *notes, "", "Targets (the API keeps its speed while providers upload):", ""]
    for p in bench.phases[1:]:
        ok = p.run.rps >= 0.8 * first and p.run.p99_ms < 5
        lines.append(f"- {p.name}: {p.run.rps / first:.0%} of phase 1's req/s (target 80%), "
                     f"p99 {p.run.p99_ms:.2f} ms (target < 5 ms): "
                     f"{'met' if ok else 'NOT met'}")  # fmt: skip
    fallbacks = sum(p.counters.get("list:database", 0) for p in bench.phases)
    lines += [
        f"- freshness p99 {percentile(fresh_all, 99):.0f} ms over every change set "
        f"(target < 1 s): {'met' if percentile(fresh_all, 99) < 1000 else 'NOT met'}",
        f"- list answers from PostgreSQL: {fallbacks:,.0f} (target: none because an index is "
        "stale)",
        f"- a change set of at most 10 movies applied in p99 {percentile(small, 99):.2f} ms, "
        f"max {max(small, default=float('nan')):.2f} ms (target < 10 ms)",
    ]
    return "\n".join(lines) + "\n"


# --- scale ---------------------------------------------------------------------------------


def memory(pid: int) -> dict[str, float]:
    """MiB: RSS, its high-water mark, anonymous RSS, and PSS (shared pages divided among the
    processes mapping them)."""
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def kib(text: str, name: str) -> float:
        found = re.search(rf"^{name}:\s+(\d+) kB", text, re.M)
        return int(found.group(1)) / 1024 if found else 0.0

    return {"rss": kib(status, "VmRSS"), "hwm": kib(status, "VmHWM"),
            "anon": kib(status, "RssAnon"), "pss": kib(rollup, "Pss")}  # fmt: skip


class Pod:
    """The API's processes in a memory cgroup of their own with the pod's limit, as
    Kubernetes runs them: what the kernel charges them (anonymous memory and tmpfs pages, the
    bases, whoever maps them) is what the limit applies to, and going over it is an OOM kill.
    Needs root and cgroup v1's memory controller (this machine's); elsewhere ``None``."""

    ROOT = Path("/sys/fs/cgroup/memory")

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def make(cls, limit_mib: int) -> Pod | None:
        path = cls.ROOT / f"moviestore-bench-{os.getpid()}"
        try:
            path.mkdir()
            (path / "memory.limit_in_bytes").write_text(str(limit_mib << 20))
        except OSError:
            return None
        return cls(path)

    @property
    def wrap(self) -> tuple[str, ...]:
        """Joins the cgroup, then runs the command: the API and every process it forks."""
        return ("sh", "-c", f'echo $$ > {self.path / "cgroup.procs"} && exec "$@"', "sh")

    def stat(self) -> dict[str, int]:
        text = (self.path / "memory.stat").read_text()
        return {k: int(v) for k, v in (line.split() for line in text.splitlines())}

    def charged(self) -> float:
        """MiB the kernel cannot reclaim: anonymous memory and tmpfs (shmem) pages."""
        stat = self.stat()
        return (stat["rss"] + stat["shmem"]) / 2**20

    def oom_kills(self) -> int:
        found = re.search(r"^oom_kill (\d+)$", (self.path / "memory.oom_control").read_text(), re.M)
        return int(found.group(1)) if found else 0

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


class PodMemory(Background):
    """The pod's memory sampled every 20 ms while it runs: the cgroup's charge if there is one,
    else an upper bound from /proc (the processes' anonymous memory, pages they share after
    the fork counted in each, plus the files in the shared tmpfs directory)."""

    def __init__(self, pod: Pod | None, pids: list[int], shared: Path):
        super().__init__()
        self.pod, self.pids, self.shared = pod, pids, shared
        self.peak = 0.0

    def now(self) -> float:
        if self.pod is not None:
            return self.pod.charged()
        anon = sum(memory(p)["anon"] for p in self.pids)
        files = sum(f.stat().st_size for f in self.shared.iterdir() if f.is_file()) / 2**20
        return anon + files

    def run(self) -> None:
        while not self.stop.wait(0.02):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, self.now())


def metric(url: str, name: str) -> float:
    text = base.get(f"{url}/metrics").decode()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else float("nan")


@dataclass
class Moment:
    name: str
    processes: list[dict[str, float]]
    pod_now: float
    pod_peak: float


def scale(args: argparse.Namespace) -> int:
    movies = args.movies or 3_000_000
    results = args.results or (base.HERE / "RESULTS.md" if movies >= 3_000_000 else None)
    moments: list[Moment] = []
    stack_of = base.catalog_stack(movies, args.state_dir, "moviestore-bench-scale-")
    with stack_of as (stack, endpoints, _), contextlib.ExitStack() as services:
        url = endpoints.database_url
        shared = Path(tempfile.mkdtemp(prefix="moviestore-bench-index-", dir="/dev/shm"))
        services.callback(shutil.rmtree, shared, ignore_errors=True)
        # The change that makes the processes merge: past the merge threshold.
        large, merge_at = (110_000, 20_000) if movies >= 3_000_000 else (movies // 3, movies // 4)
        env = {**endpoints.settings_env(), "MOVIESTORE_LOG_LEVEL": "INFO",
               "MOVIESTORE_API_SEARCH_INDEX_DIR": str(shared),
               "MOVIESTORE_API_SEARCH_INDEX_MERGE_MOVIES": str(merge_at)}  # fmt: skip
        limit = args.pod_mib or POD_LIMIT_MIB
        pod = Pod.make(limit)
        if pod is not None:
            services.callback(pod.remove)  # after the API stopped (callbacks run last first)
        started = time.monotonic()
        wrap = pod.wrap if pod is not None else ()
        with PodMemory(pod, [], shared) as starting:
            api = base.start_api(stack.state, env, base.Config(2, 1), "api-scale", wrap)
        ready = time.monotonic() - started
        services.callback(api.stop)
        pids = sorted(api.pids())  # the supervisor and its server processes

        def moment(name: str, work: Callable[[], None], during: PodMemory | None = None) -> None:
            with PodMemory(pod, pids, shared) as sampled:
                work()
            peak = max(sampled.peak, during.peak if during is not None else 0.0)
            procs = [memory(p) for p in pids]
            moments.append(Moment(name, procs, sampled.now(), peak))
            kills = pod.oom_kills() if pod is not None else 0
            print(name, procs, f"pod {sampled.now():.0f} MiB, peak {peak:.0f}, OOM kills {kills}",
                  flush=True)  # fmt: skip

        moment("started: the start-up build, then serving", lambda: time.sleep(1), starting)
        stats = {
            "movies": metric(api.url, "moviestore_api_search_index_movies"),
            "heap": metric(api.url, "moviestore_api_search_index_bytes"),
            "mapped": metric(api.url, "moviestore_api_search_index_mapped_bytes"),
            "build": metric(api.url, "moviestore_api_search_index_build_seconds"),
        }

        def small() -> None:
            changes(url, 10)
            time.sleep(2)

        def merge() -> None:  # one process merges, the other maps its base
            changes(url, large)
            wait_until(
                lambda: metric(api.url, "moviestore_api_search_index_delta_movies") == 0,
                300, "the merge", api.server,
            )  # fmt: skip
            stats["merge"] = metric(api.url, "moviestore_api_search_index_merge_seconds")

        moment("a 10-movie change set applied", small)
        moment(f"a {large:,}-movie change set applied, then merged", merge)
        oom_kills = pod.oom_kills() if pod is not None else None
    command = " ".join(["benchmarks/bench_api.py", *sys.argv[1:]])
    section = render_scale(command, movies, ready, stats, moments, oom_kills=oom_kills, limit=limit)
    print(section)
    if results is not None:
        write_section(results, SCALE_SECTION, section)
    return 0


def changes(url: str, count: int) -> None:
    """``count`` movies changed the way an ingestion changes them: rows, feed and version in
    one transaction (no worker and no Redis: the API finds the version by polling)."""
    with psycopg.connect(url) as conn, conn.transaction():
        row = conn.execute(
            "INSERT INTO ingestions (bucket, key, version, provider, status)"
            " VALUES ('bench', %s, 'v', 'bench', 'loaded') RETURNING id",
            (f"scale-{time.time()}",),
        ).fetchone()
        assert row is not None
        ingestion = row[0]
        conn.execute(
            "WITH changed AS (UPDATE movies SET year = year %% 120 + 1900, ingestion_id = %s"
            " WHERE id IN (SELECT id FROM movies ORDER BY random() LIMIT %s) RETURNING id)"
            " INSERT INTO catalog_changes SELECT %s, id, 'updated' FROM changed",
            (ingestion, count, ingestion),
        )
        commit_version(conn, ingestion, count)


def render_scale(
    command: str,
    movies: int,
    ready: float,
    stats: dict[str, float],
    moments: list[Moment],
    *,
    oom_kills: int | None,
    limit: int,
) -> str:
    per_movie = (stats["heap"] + stats["mapped"]) / max(stats["movies"], 1)
    lines = [
        *heading(SCALE_SECTION, command),
        f"- catalog: {movies:,} generated movies; API: 2 server processes x 1 worker, as "
        "deployed; the search index's base in a tmpfs directory both map "
        "(`MOVIESTORE_API_SEARCH_INDEX_DIR`, an `emptyDir` of medium `Memory` in Kubernetes)",
        f"- start-up: ready, both processes answering lists from the index, {ready:.1f} s after "
        f"the start; the build itself {stats['build']:.1f} s; a merge "
        f"{stats.get('merge', float('nan')):.1f} s",
        f"- index: {stats['mapped'] / 2**20:,.0f} MiB mapped base, "
        f"{stats['heap'] / 2**20:,.1f} MiB of heap in the process holding the most: "
        f"{per_movie:.0f} bytes per movie",
        *pod_lines(oom_kills, limit),
        "",
        "| moment | RSS (MiB): supervisor / servers | peak RSS | anonymous | PSS | pod now "
        "| pod peak |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for m in moments:
        cells = [
            " / ".join(f"{p[kind]:.0f}" for p in m.processes)
            for kind in ("rss", "hwm", "anon", "pss")
        ]
        lines.append(f"| {m.name} | {' | '.join(cells)} | {m.pod_now:.0f} MiB "
                     f"| {m.pod_peak:.0f} MiB |")  # fmt: skip
    return "\n".join(lines) + "\n"


def pod_lines(oom_kills: int | None, limit_mib: int) -> list[str]:
    limit = f"The API pod's limit is {POD_LIMIT_MIB} MiB (deploy/k8s)."
    if oom_kills is None:
        return [
            "- pod: no memory cgroup could be made here (root and cgroup v1's memory "
            "controller are needed): an upper bound from /proc, the processes' anonymous "
            "memory (pages shared since the fork counted in each) plus the files in the shared "
            f"tmpfs directory; *peak* sampled every 20 ms while the moment lasted. {limit}"
        ]
    return [
        f"- pod: the API ran in a memory cgroup of its own limited to {limit_mib} MiB, as "
        "in Kubernetes; *pod* is what the kernel charged it and cannot reclaim (anonymous "
        "memory and tmpfs pages: the bases, mapped or not), *peak* sampled every 20 ms while "
        f"the moment lasted. OOM kills in the cgroup over the run: {oom_kills}. {limit}",
    ]
