"""``moviestore bench gate``: load the API with the locust suites and judge the release gates.

With ``--host`` it measures that API (staging, production). Without, it starts its own local
platform in a temporary directory (PostgreSQL, Redis, moto, the worker and the API), loads a
generated catalog of ``--catalog-size`` movies through S3 and the worker, then measures it.

Then: locust headless (its statistics print as it runs), every gate of ``--env`` in
``--gates`` evaluated from locust's CSV, and in ``--out``: ``locust.html``, ``locust_*.csv``
and ``verdict.md`` (each gate, its threshold, the measured value, pass or fail).

The load (users, spawn rate, duration, catalog size) comes from the environment's ``load``
table in the gates file; options override it. Exit status: 0 every gate passed, 1 a gate
failed (a gate that could not be measured fails), 2 the run itself failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from moviestore.bench import repo_path
from moviestore.bench.gates import Environment, Gates, GatesError, load_gates, parse_duration
from moviestore.bench.local import local_platform
from moviestore.bench.verdict import RunInfo, evaluate, passed, read_stats, render
from moviestore.localstack.processes import StackError, sigterm_unwinds
from moviestore.localstack.stack import LocalStack

GATES = repo_path("benchmarks/gates.toml")
LOCUSTFILE = repo_path("benchmarks/locustfile.py")
CSV_PREFIX = "locust"


def configure(bench: argparse.ArgumentParser) -> None:
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "gate",
        help="run the locust suites and judge the release gates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", help="the API's base URL (default: start a local platform)")
    p.add_argument("--env", default="local", help="the gates' environment (default: local)")
    p.add_argument("--users", type=int, help="concurrent readers")
    p.add_argument("--spawn-rate", type=float, help="readers started per second")
    p.add_argument("--duration", help="how long to measure: 90s, 5m, 1h30m")
    p.add_argument("--catalog-size", type=int, help="movies to load (local platform only)")
    p.add_argument("--out", type=Path, help="report directory (default: .state/gates/ENV-TIME)")
    p.add_argument("--gates", type=Path, default=GATES, help=f"gates file (default: {rel(GATES)})")
    p.add_argument("--locustfile", type=Path, default=LOCUSTFILE, help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


@dataclass(frozen=True)
class Job:
    """One gate run: the environment's gates and the load to apply, options applied."""

    env_name: str
    gates: Gates
    environment: Environment
    gates_file: Path
    locustfile: Path
    out: Path
    users: int
    spawn_rate: float
    seconds: int
    catalog_size: int

    @property
    def think_time_s(self) -> float:
        return self.environment.load.think_time_s


def run(args: argparse.Namespace) -> int:
    try:
        job = plan(args)
    except (GatesError, ValueError) as e:
        print(f"moviestore bench gate: {e}", file=sys.stderr)
        return 2
    if args.host and job.environment.ingest and not os.environ.get("MOVIESTORE_S3_BUCKET"):
        say(f"{job.env_name!r} gates ingestion: it needs MOVIESTORE_S3_BUCKET and AWS access")
        return 2
    job.out.mkdir(parents=True, exist_ok=True)
    with sigterm_unwinds():
        if args.host:
            return measure(job, args.host, dict(os.environ))
        return measure_locally(job)


def plan(args: argparse.Namespace) -> Job:
    gates = load_gates(args.gates)
    environment = gates.environment(args.env)
    load = environment.load
    job = Job(
        env_name=args.env,
        gates=gates,
        environment=environment,
        gates_file=args.gates,
        locustfile=args.locustfile,
        out=args.out or Path(".state/gates") / f"{args.env}-{time.strftime('%Y%m%d-%H%M%S')}",
        users=load.users if args.users is None else args.users,
        spawn_rate=load.spawn_rate if args.spawn_rate is None else args.spawn_rate,
        seconds=load.seconds if args.duration is None else parse_duration(args.duration),
        catalog_size=load.catalog_size if args.catalog_size is None else args.catalog_size,
    )
    if job.users < 1 or job.spawn_rate <= 0 or job.catalog_size < 1:
        raise ValueError("--users, --spawn-rate and --catalog-size must be above zero")
    return job


def measure_locally(job: Job) -> int:
    state = Path(tempfile.mkdtemp(prefix="moviestore-gate-"))
    try:
        with local_platform(state, job.catalog_size, say) as platform:
            catalog = f"{job.catalog_size:,} generated movies, loaded through S3 and the worker"
            return measure(job, platform.api_url, {**os.environ, **platform.env}, catalog)
    except StackError as e:
        say(f"the local platform failed: {e}")
        return 2
    finally:
        logs = state / "logs"
        if logs.is_dir():
            shutil.copytree(logs, job.out / "logs", dirs_exist_ok=True)
        LocalStack(state).destroy()


def measure(job: Job, host: str, env: dict[str, str], catalog: str = "") -> int:
    argv = locust_argv(job, host)
    say(f"measuring {host} for {job.seconds} s with {job.users} readers:\n  {' '.join(argv)}")
    code = run_locust(argv, env, timeout=job.seconds + 180)
    stats = job.out / f"{CSV_PREFIX}_stats.csv"
    if not stats.exists():
        say(f"locust exited with {code} and wrote no statistics; see its output above")
        return 2
    rows = read_stats(stats)
    results = evaluate(job.environment, rows)
    info = RunInfo(
        environment=job.env_name,
        gates_file=rel(job.gates_file),
        gates_version=job.gates.version,
        host=host,
        users=job.users,
        spawn_rate=job.spawn_rate,
        duration_s=job.seconds,
        catalog=catalog,
    )
    verdict = render(info, job.environment, results, rows)
    (job.out / "verdict.md").write_text(verdict)
    print(verdict, flush=True)
    ok = passed(results)
    say(f"{'PASS' if ok else 'FAIL'}; reports in {job.out}")
    return 0 if ok else 1


def locust_argv(job: Job, host: str) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(job.locustfile), "--headless"]
    argv += ["--host", host, "--run-time", f"{job.seconds}s"]
    argv += ["--spawn-rate", f"{job.spawn_rate:g}", "--think-time", f"{job.think_time_s:g}"]
    argv += ["--csv", str(job.out / CSV_PREFIX), "--html", str(job.out / "locust.html")]
    users = job.users
    if (ingest := job.environment.ingest) is not None:
        users += 1  # the provider is one more user, fixed, on top of the readers
        argv += ["--provider-scenario", "--ingest-provider", ingest.provider]
        argv += ["--ingest-records", str(ingest.records)]
        argv += ["--ingest-interval", f"{ingest.interval_s:g}"]
        argv += ["--ingest-timeout", f"{ingest.timeout_s:g}"]
    return [*argv, "--users", str(users)]


def run_locust(argv: list[str], env: dict[str, str], timeout: float) -> int:
    """Locust in a child process, its output straight through (the progress to watch)."""
    proc = subprocess.Popen(argv, env=env)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        say(f"locust still running after {timeout:.0f} s: stopping it")
        return -1
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def say(message: str) -> None:
    print(f"moviestore bench gate: {message}", flush=True)
