"""Validator benchmark: the extension against the Python peers, on the same generated catalog.

One run generates (or reuses) a catalog as a JSON array and the same records as NDJSON, then
measures MB/s and records/s for the extension (validate only, and validate + binary COPY
output, fed in 1 MiB chunks) and for json + jsonschema, pydantic v2, msgspec and orjson
(parse only), next to the speed of merely reading the file. Each measurement runs in a fresh
child process, with Python's garbage collector on, so that its peak RSS is its own. It streams
a 1 GB NDJSON file through the extension and reports the peak RSS. Then whole processes, as a
user runs them: `moviestore validate` against a plain msgspec script on both files, in
alternating pairs, and the command line's start-up.

    .venv/bin/python benchmarks/bench_validator.py            # full run, writes RESULTS.md
    .venv/bin/python benchmarks/bench_validator.py --quick    # small smoke run, prints only

Nothing here asserts a time: the figures and the targets are reported, never enforced.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

import generate
from peers import Counts, Runner
from results import heading, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "RESULTS.md"
SECTION = "## Validator"
MB = generate.MB
RSS_TARGET_MB = 150
FULL_SIZE_MB = 200  # the minimum for the array; smaller runs are smoke runs
ARRAY_TARGET, NDJSON_TARGET = 4.0, 1.5
STARTUP_TARGET_MS = 100
MOVIESTORE = Path(sys.executable).with_name("moviestore")
SAMPLE = ROOT / "samples" / "catalog.json"
CONTENDED = 1.15  # wall time over CPU time beyond which a run was slowed by another process

Shape = Literal["array", "ndjson"]
Role = Literal["main", "slice", "big"]


# --- what is measured --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    checks: str
    runner: str  # module:function under peers/, imported only by the child that runs it
    shape: Shape
    role: Role = "main"
    kind: Literal["ceiling", "extension", "peer"] = "peer"


CEILING = "no validation"
ALL_RULES = "all rules"
PEER_CHECKS = "types, lengths, ranges, URL"
EXT_LABELS = {
    "ext": "**extension**, validate only",
    "ext-2t": "**extension**, validate only, lines on 2 threads (4 MiB chunks)",
    "ext-copy": "**extension**, validate + COPY",
}
RULES_LABEL = "msgspec + trimming, repeats, keys in Python"
RULES_CHECKS = "all but repeated field names"
READ = "read the file, 1 MiB chunks"
MEMCHR = "read + memchr over every byte (bytes.find)"


def _ceiling(key: str, label: str, function: str, shape: Shape) -> Case:
    return Case(key, label, CEILING, f"peers.ceiling:{function}", shape, kind="ceiling")


def _extension(key: str, shape: Shape, role: Role = "main") -> Case:
    function = {"ext-copy": "prepare_copy", "ext-2t": "prepare_validate_2t"}.get(
        key, "prepare_validate"
    )
    runner = f"peers.extension:{function}"
    return Case(key, EXT_LABELS[key], ALL_RULES, runner, shape, role, "extension")


def _peer(
    key: str, label: str, checks: str, runner: str, shape: Shape, *, role: Role = "main"
) -> Case:
    return Case(key, label, checks, f"peers.{runner}", shape, role)


CASES = (
    _ceiling("read", READ, "prepare_read", "array"),
    _ceiling("memchr", MEMCHR, "prepare_memchr", "array"),
    _extension("ext", "array"),
    _extension("ext-copy", "array"),
    _peer(
        "msgspec",
        "msgspec typed Structs, one decode",
        PEER_CHECKS,
        "msgspec_structs:prepare_array",
        "array",
    ),
    _peer(
        "msgspec-rules",
        RULES_LABEL,
        RULES_CHECKS,
        "msgspec_structs:prepare_rules_array",
        "array",
    ),
    _peer(
        "orjson",
        "orjson.loads (parse only)",
        "JSON syntax",
        "orjson_parse:prepare_array",
        "array",
    ),
    _peer(
        "pydantic",
        "pydantic v2 TypeAdapter(list[Movie]).validate_json",
        PEER_CHECKS + ", trims",
        "pydantic_model:prepare_array",
        "array",
    ),
    _peer(
        "jsonschema",
        "json.load + jsonschema (Draft 2020-12)",
        PEER_CHECKS,
        "jsonschema_peer:prepare_array",
        "array",
        role="slice",
    ),
    _ceiling("read", READ, "prepare_read", "ndjson"),
    _ceiling("memchr", MEMCHR, "prepare_memchr", "ndjson"),
    _ceiling("lines", "`for line in file` (no parsing)", "prepare_lines", "ndjson"),
    _extension("ext", "ndjson"),
    _extension("ext-2t", "ndjson"),
    _extension("ext-copy", "ndjson"),
    _peer(
        "msgspec",
        "msgspec Structs, one reused Decoder per line",
        PEER_CHECKS,
        "msgspec_structs:prepare_ndjson",
        "ndjson",
    ),
    _peer(
        "msgspec-rules",
        RULES_LABEL,
        RULES_CHECKS,
        "msgspec_structs:prepare_rules_ndjson",
        "ndjson",
    ),
    _peer(
        "orjson",
        "orjson.loads per line (parse only)",
        "JSON syntax",
        "orjson_parse:prepare_ndjson",
        "ndjson",
    ),
    _peer(
        "pydantic",
        "pydantic v2 Movie.model_validate_json per line",
        PEER_CHECKS + ", trims",
        "pydantic_model:prepare_ndjson",
        "ndjson",
    ),
    _peer(
        "jsonschema",
        "json.loads + jsonschema per line",
        PEER_CHECKS,
        "jsonschema_peer:prepare_ndjson",
        "ndjson",
        role="slice",
    ),
)
BIG_CASES = (
    _extension("ext-copy", "ndjson", "big"),
    _extension("ext", "ndjson", "big"),
    _peer(
        "msgspec",
        "msgspec Structs per line (for comparison)",
        PEER_CHECKS,
        "msgspec_structs:prepare_ndjson",
        "ndjson",
        role="big",
    ),
)


# --- one measurement, in a child process -------------------------------------------------------


def status_kb(field_name: str) -> int:
    """A field of /proc/self/status in kB (VmHWM is the peak resident set size)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(spec: dict[str, object]) -> dict[str, object]:
    path = Path(str(spec["path"]))
    repeat, budget = int(str(spec["repeat"])), float(str(spec["budget_s"]))
    module, function = str(spec["runner"]).split(":")
    try:
        run: Runner = getattr(importlib.import_module(module), function)()
    except ImportError as e:
        return {"error": f"not importable: {e}"}
    baseline_kb = status_kb("VmRSS")
    times: list[float] = []
    cpu_times: list[float] = []
    counts = Counts(0, 0)
    peak_kb = 0

    def wanted() -> bool:
        """At least one run; then up to `repeat`, or three times that while every run so far
        was slowed by another process, as long as the runs so far took less than the budget."""
        if not times:
            return True
        clean = any(t <= CONTENDED * c for t, c in zip(times, cpu_times, strict=True))
        return len(times) < (repeat if clean else 3 * repeat) and sum(times) < budget

    while wanted():
        gc.collect()  # start each run from the same heap; the collector stays on while timing
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            counts = run(path)
        except Exception as e:  # a peer rejecting valid data is a finding, not a crash
            return {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if len(times) == 1:
            # The first run's peak: later runs can peak higher on memory the allocator kept from
            # the run before, which a fresh process (a user's) never has.
            peak_kb = status_kb("VmHWM")
    return {
        "times": times,
        "cpu_times": cpu_times,
        "total": counts.total,
        "valid": counts.valid,
        "out_bytes": counts.out_bytes,
        "baseline_kb": baseline_kb,
        "peak_kb": peak_kb,
    }


@dataclass
class Measurement:
    case: Case
    path: Path
    bytes: int
    records: int
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    valid: int = 0
    total: int = 0
    out_bytes: int = 0
    baseline_kb: int = 0
    peak_kb: int = 0
    error: str | None = None

    @property
    def clean_times(self) -> list[float]:
        """Runs that were not slowed by another process taking the CPU (see CONTENDED)."""
        return [t for t, c in zip(self.times, self.cpu_times, strict=True) if t <= CONTENDED * c]

    @property
    def contended(self) -> bool:
        return not self.clean_times

    @property
    def seconds(self) -> float:
        # The best run not slowed by another process: the machine is shared, and such a run
        # says nothing about the code measured. Only when every run was, the best of those.
        return min(self.clean_times or self.times)

    @property
    def mb_s(self) -> float:
        return self.bytes / MB / self.seconds

    @property
    def records_s(self) -> float:
        return self.records / self.seconds

    @property
    def mb_s_text(self) -> str:
        return fmt_rate(self.mb_s) + (" †" if self.contended else "")


def measure(case: Case, path: Path, records: int, repeat: int, budget_s: float) -> Measurement:
    spec = {
        "runner": case.runner,
        "path": str(path),
        "repeat": repeat,
        "budget_s": budget_s,
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = Measurement(case, path, path.stat().st_size, records)
    sys.stderr.write(proc.stderr)
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        m.error = f"child exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return m
    if "error" in out:
        m.error = str(out["error"])
        return m
    m.times, m.cpu_times = out["times"], out["cpu_times"]
    m.total, m.valid = out["total"], out["valid"]
    m.out_bytes, m.baseline_kb, m.peak_kb = out["out_bytes"], out["baseline_kb"], out["peak_kb"]
    if case.kind != "ceiling" and m.total != records:
        m.error = f"counted {m.total} records, the file holds {records}"
    return m


# --- whole processes ----------------------------------------------------------------------------


@dataclass
class Timed:
    """One command timed as a whole process, several times: wall and CPU seconds per run."""

    argv: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    error: str | None = None

    def run(self, cwd: Path = HERE) -> None:
        start = time.perf_counter()
        proc = subprocess.Popen(self.argv, cwd=cwd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        self.walls.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for its rusage
        self.cpus.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode != 0 and self.error is None:
            self.error = f"exited {proc.returncode}"

    def warm_up(self) -> None:
        """One run that does not count: the file and the interpreter in the page cache."""
        self.run()
        self.walls.clear()
        self.cpus.clear()

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def command(self) -> str:
        return shlex.join(display_path(Path(a)) if "/" in a else a for a in self.argv)


@dataclass
class Pair:
    """`moviestore validate` and the msgspec script on the same file, run in turn."""

    shape: Shape
    dataset: Dataset
    ours: Timed
    peer: Timed

    @property
    def ratios(self) -> list[float]:
        return [p / o for o, p in zip(self.ours.walls, self.peer.walls, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def validate_argv(path: Path) -> list[str]:
    return [str(MOVIESTORE), "validate", "--format", "json", str(path)]


def whole_processes(data: dict[tuple[Shape, Role], Dataset], rounds: int) -> list[Pair]:
    """Each file: a warm-up of both, then `rounds` pairs, the order swapped every round so that
    neither side always runs on a cache or a CPU the other has just warmed."""
    pairs = []
    for shape in ("array", "ndjson"):
        dataset = data[shape, "main"]
        ours = Timed(validate_argv(dataset.path))
        peer = Timed([sys.executable, "-m", "peers.msgspec_structs", str(dataset.path)])
        ours.warm_up()
        peer.warm_up()
        for i in range(rounds):
            for timed in (ours, peer) if i % 2 == 0 else (peer, ours):
                timed.run()
        pair = Pair(shape, dataset, ours, peer)
        log(f"{shape:6} whole process: {ours.wall:.3f} s vs {peer.wall:.3f} s, {pair.ratio:.2f}x")
        pairs.append(pair)
    return pairs


def startup(runs: int) -> list[Timed]:
    """The command line's own start-up: the interpreter alone, then moviestore commands that
    do (almost) nothing else."""
    commands = [
        Timed([sys.executable, "-c", "pass"]),
        Timed([str(MOVIESTORE), "--version"]),
        Timed([str(MOVIESTORE), "--help"]),
        Timed([str(MOVIESTORE), "validate", "--help"]),
        Timed([str(MOVIESTORE), "validate", "--format", "json", str(SAMPLE)]),
    ]
    for timed in commands:
        timed.warm_up()
    for _ in range(runs):
        for timed in commands:
            timed.run()
    for timed in commands:
        log(f"start-up {timed.command}: {timed.wall * 1000:.0f} ms")
    return commands


# --- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    path: Path
    records: int


def ensure_data(sizes: dict[Role, float], seed: int) -> dict[tuple[Shape, Role], Dataset]:
    """Generate the catalogs in one pass (same seed: every file starts with the same records),
    reusing files from an earlier run when the generator and the parameters are unchanged."""
    version = hashlib.sha256((HERE / "generate.py").read_bytes()).hexdigest()[:12]
    wanted: dict[tuple[Shape, Role], tuple[Path, generate.Format]] = {}
    for role, size in sizes.items():
        stem = f"catalog-{size:g}MB-seed{seed}"
        wanted["ndjson", role] = (DATA / f"{stem}.ndjson", "ndjson")
        if role != "big":
            wanted["array", role] = (DATA / f"{stem}.json", "json")
    manifest_path = DATA / "manifest.json"
    manifest: dict[str, dict[str, object]] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())

    def fresh(path: Path) -> bool:
        entry = manifest.get(path.name)
        return (
            entry is not None
            and entry.get("generator") == version
            and path.exists()
            and path.stat().st_size == entry.get("bytes")
        )

    missing = {k: v for k, v in wanted.items() if not fresh(v[0])}
    if missing:
        outputs: dict[tuple[Shape, Role], generate.Output] = {
            (shape, role): generate.Output(path, fmt, target_bytes=int(sizes[role] * MB))
            for (shape, role), (path, fmt) in missing.items()
        }
        names = ", ".join(o.path.name for o in outputs.values())
        log(f"generating {names}")
        start = time.perf_counter()
        generate.generate(list(outputs.values()), seed=seed)
        log(f"generated in {time.perf_counter() - start:.0f} s")
        for out in outputs.values():
            manifest[out.path.name] = {
                "generator": version,
                "bytes": out.path.stat().st_size,
                "records": out.records,
            }
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return {
        k: Dataset(path, int(str(manifest[path.name]["records"])))
        for k, (path, _) in wanted.items()
    }


# --- the report --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True)
        rust = rustc.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rust = "rustc not found"
    versions = []
    for package in ("moviestore", "msgspec", "pydantic", "pydantic-core", "jsonschema", "orjson"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return {
        "CPU": f"{cpu}, {len(os.sched_getaffinity(0))} cores (`nproc`), {mem} RAM",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Rust": rust,
        "packages": ", ".join(versions),
    }


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_rss(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def table(rows: Sequence[Measurement], reference: Measurement | None) -> list[str]:
    lines = [
        "| tool | checks | MB/s | records/s | vs msgspec | peak RSS | runs |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for m in rows:
        c = m.case
        if m.error:
            lines.append(f"| {c.label} | {c.checks} | - | - | - | - | {m.error} |")
            continue
        records = "-" if c.kind == "ceiling" else fmt_rate(m.records_s)
        ratio = "-"
        if reference is not None and not reference.error and c.kind != "ceiling":
            ratio = f"{m.mb_s / reference.mb_s:.2f}x"
        label = c.label + (f" ({m.bytes / MB:.0f} MB slice)" if c.role == "slice" else "")
        lines.append(
            f"| {label} | {c.checks} | {m.mb_s_text} | {records} | {ratio} | "
            f"{fmt_rss(m.peak_kb)} | {len(m.times)} |"
        )
    return lines


def ratio(results: Sequence[Measurement], shape: Shape, key: str) -> tuple[float, bool] | None:
    """The extension's MB/s over msgspec's, and whether either figure is a † one."""
    found = {m.case.key: m for m in results if m.case.shape == shape and m.case.role != "big"}
    ext, ref = found.get(key), found.get("msgspec")
    if ext is None or ref is None or ext.error or ref.error:
        return None
    return ext.mb_s / ref.mb_s, ext.contended or ref.contended


def verdict(
    measured: tuple[float, bool] | None, target: float, unit: str, higher: bool = True
) -> str:
    if measured is None:
        return "not measured"
    value, contended = measured
    met = value >= target if higher else value < target
    note = ", from a † figure: rerun on a quiet machine" if contended else ""
    return f"{value:.2f}{unit} ({'met' if met else 'NOT met'}{note})"


def render(
    results: Sequence[Measurement],
    data: dict[tuple[Shape, Role], Dataset],
    command: str,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    *,
    pairs: Sequence[Pair] = (),
    starts: Sequence[Timed] = (),
) -> str:
    out = heading(SECTION, command)
    for name, value in machine().items():
        out.append(f"- {name}: {value}")
    before, after = load
    out.append(
        f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in before)}, "
        f"after: {' '.join(f'{x:.2f}' for x in after)}"
    )
    out.append("")
    out += [
        "Every figure comes from a fresh child process (Python's garbage collector on), files "
        "in the page cache, reading from the file included; MB = 10^6 bytes of the file. A run "
        f"whose wall time exceeds its CPU time by more than {CONTENDED - 1:.0%} waited for "
        "another process; each figure is the best run of the others, and † marks one from such "
        "runs only (so it is low). *vs msgspec* divides MB/s by msgspec's on the same file. "
        "Peak RSS is the child's VmHWM after its first run (interpreter, imports and, for the "
        "array peers, every parsed record).",
        "",
        "The data comes from `benchmarks/generate.py` (the seed is in the file names): movie "
        "records shaped like the Wikipedia-derived movies dataset, about 1 KB each, most with a "
        "300-2000 character extract, some non-ASCII; the NDJSON file holds the same records as "
        "the array, and the smaller and larger files start with them too. The extension's COPY "
        "output is produced and dropped, not written anywhere.",
        "",
    ]
    sections: tuple[tuple[Shape, str], ...] = (
        ("array", "JSON array"),
        ("ndjson", "NDJSON (same records)"),
    )
    for shape, title in sections:
        main = data[shape, "main"]
        rows = [m for m in results if m.case.shape == shape and m.case.role != "big"]
        reference = next((m for m in rows if m.case.key == "msgspec"), None)
        size = main.path.stat().st_size / MB
        out += [f"### {title}: {main.path.name}, {size:.0f} MB, {main.records:,} records", ""]
        out += [*table(rows, reference), ""]
    big = data["ndjson", "big"]
    big_rows = [m for m in results if m.case.role == "big"]
    out += [
        f"### Streaming {big.path.stat().st_size / MB:,.0f} MB of NDJSON "
        f"({big.path.name}, {big.records:,} records)",
        "",
        "| tool | MB/s | records/s | peak RSS | RSS after imports |",
        "|---|--:|--:|--:|--:|",
    ]
    for m in big_rows:
        if m.error:
            out.append(f"| {m.case.label} | - | - | - | {m.error} |")
        else:
            out.append(
                f"| {m.case.label} | {m.mb_s_text} | {fmt_rate(m.records_s)} | "
                f"{fmt_rss(m.peak_kb)} | {fmt_rss(m.baseline_kb)} |"
            )
    big_copy = next((m for m in big_rows if m.case.key == "ext-copy" and not m.error), None)
    rss = None if big_copy is None else (big_copy.peak_kb / 1024, False)
    out += ["", *render_whole_processes(pairs), *render_startup(starts)]
    out += [
        "### Targets",
        "",
        *(
            [
                "A smoke run on small files: the array peers hold far fewer objects than on "
                f"{FULL_SIZE_MB:g} MB, so these ratios say nothing about the targets.",
                "",
            ]
            if data["array", "main"].path.stat().st_size < FULL_SIZE_MB * MB
            else []
        ),
        f"- JSON array, in one process, extension validate + COPY (the worker's path) vs msgspec: "
        f"{verdict(ratio(results, 'array', 'ext-copy'), ARRAY_TARGET, 'x')}, target ≥ "
        f"{ARRAY_TARGET:g}x",
        f"- NDJSON, in one process, extension validate + COPY (the worker's path, one thread) "
        "vs msgspec: "
        f"{verdict(ratio(results, 'ndjson', 'ext-copy'), NDJSON_TARGET, 'x')}, target ≥ "
        f"{NDJSON_TARGET:g}x",
        f"- peak RSS streaming the {big.path.stat().st_size / MB:,.0f} MB NDJSON file: "
        f"{verdict(rss, RSS_TARGET_MB, ' MB', higher=False)}, target < {RSS_TARGET_MB} MB",
        *whole_process_targets(pairs, starts),
        "",
        "### What the peers check",
        "",
        "The extension applies every rule of docs/provider-format.md (strict JSON, trimming "
        "before counting characters, repeats collapsed, repeated field names, record keys and "
        "duplicates, every error with its line and pointer) and, with COPY, encodes each valid "
        "record as a PostgreSQL binary COPY tuple. The peers check what their schema language "
        "can say: types, required fields, lengths (untrimmed, except pydantic's "
        "`strip_whitespace`), ranges, item counts and the URL pattern; their parsers keep the "
        "last of two equal field names. *msgspec + … in Python* adds trimming, repeats and "
        "record keys after msgspec, to show what a complete Python implementation costs. "
        "jsonschema runs on a slice (the first records of the same stream) because it is slow; "
        "its MB/s is per MB of that slice. The array peers need the whole file and every record "
        "in memory at once; line-by-line NDJSON peers do not.",
        "",
    ]
    return "\n".join(out)


TITLES: dict[Shape, str] = {"array": "JSON array", "ndjson": "NDJSON"}


def render_whole_processes(pairs: Sequence[Pair]) -> list[str]:
    if not pairs:
        return []
    out = [
        "### Whole process: `moviestore validate` against a msgspec script",
        "",
        "Both timed from outside as whole processes, as a user runs them (interpreter, imports, "
        "reading the file, the report), in the same run: a warm-up of each, then "
        f"{len(pairs[0].ratios)} pairs in alternating order. Wall and CPU seconds are medians; "
        "*x msgspec* is the script's wall time over `moviestore validate`'s, the median of the "
        "pairs (their range in brackets). `moviestore validate` examines NDJSON lines on two "
        "threads (`--threads`, default 2 where two cores are available), so its CPU time can "
        "exceed its wall time.",
        "",
        "| file | `moviestore validate` wall | CPU | msgspec script wall | CPU | x msgspec |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for p in pairs:
        size = p.dataset.path.stat().st_size / MB
        error = p.ours.error or p.peer.error
        ratio = f"{p.ratio:.2f}x ({min(p.ratios):.2f}-{max(p.ratios):.2f})"
        out.append(
            f"| {TITLES[p.shape]}, {size:.0f} MB | {p.ours.wall:.3f} s | {p.ours.cpu:.3f} s | "
            f"{p.peer.wall:.3f} s | {p.peer.cpu:.3f} s | {error or ratio} |"
        )
    out += ["", "```sh", *(f"{t.command}" for p in pairs for t in (p.ours, p.peer)), "```", ""]
    out.append("(the msgspec script runs from `benchmarks/`.)")
    return [*out, ""]


def render_startup(starts: Sequence[Timed]) -> list[str]:
    if not starts:
        return []
    out = [
        "### Start-up of the command line",
        "",
        f"Whole processes, median of {len(starts[0].walls)} runs each after a warm-up; the first "
        "row is the interpreter alone. `validate` of `samples/catalog.json` (300 records) is "
        "start-up plus about a millisecond of validation.",
        "",
        "| command | wall | min-max | CPU |",
        "|---|--:|--:|--:|",
    ]
    for t in starts:
        spread = f"{min(t.walls) * 1000:.0f}-{max(t.walls) * 1000:.0f} ms"
        wall = t.error or f"{t.wall * 1000:.0f} ms"
        out.append(f"| `{t.command}` | {wall} | {spread} | {t.cpu * 1000:.0f} ms |")
    return [*out, ""]


def whole_process_targets(pairs: Sequence[Pair], starts: Sequence[Timed]) -> list[str]:
    out = []
    for p in pairs:
        target = ARRAY_TARGET if p.shape == "array" else NDJSON_TARGET
        measured = None if p.ours.error or p.peer.error else (p.ratio, False)
        out.append(
            f"- {TITLES[p.shape]}, whole process, `moviestore validate` vs the msgspec script: "
            f"{verdict(measured, target, 'x')}, target ≥ {target:g}x"
        )
    commands = [t for t in starts if t.argv[0] == str(MOVIESTORE)]
    if commands:
        slowest = max(commands, key=lambda t: t.wall)
        measured = None if slowest.error else (slowest.wall * 1000, False)
        out.append(
            f"- start-up of `moviestore --version`, `--help` and `validate` (the slowest median, "
            f"`{' '.join(slowest.argv[1:3])}`): "
            f"{verdict(measured, STARTUP_TARGET_MS, ' ms', higher=False)}, "
            f"target < {STARTUP_TARGET_MS} ms"
        )
    return out


# --- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small files and one run each (a smoke run; does not write RESULTS.md)",
    )
    parser.add_argument("--size-mb", type=float, help="size of the array and NDJSON (default 230)")
    parser.add_argument("--slice-mb", type=float, help="size for jsonschema (default 25)")
    parser.add_argument("--big-mb", type=float, help="size of the streamed NDJSON (default 1000)")
    parser.add_argument(
        "--repeat", type=int, help="runs per measurement; the best counts (default 5)"
    )
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument(
        "--only",
        help="comma-separated case keys, e.g. ext,ext-copy,msgspec; cli (whole processes) and "
        "startup",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help=f"where to write the section (default {RESULTS.relative_to(ROOT)}, "
        "not written by --quick unless given)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    quick = args.quick
    sizes: dict[Role, float] = {
        "main": args.size_mb or (8 if quick else 230),
        "slice": args.slice_mb or (2 if quick else 25),
        "big": args.big_mb or (40 if quick else 1000),
    }
    repeat = args.repeat or (1 if quick else 5)
    budget_s = 20.0  # stop repeating a slow peer once its runs have taken this long
    only = set(args.only.split(",")) if args.only else None
    results_path: Path | None = args.results or (None if quick else RESULTS)

    load_before = os.getloadavg()
    data = ensure_data(sizes, args.seed)
    results: list[Measurement] = []
    for case in (*CASES, *BIG_CASES):
        if only is not None and case.key not in only:
            continue
        dataset = data[case.shape, case.role]
        log(f"{case.shape:6} {case.role:5} {case.key} ...")
        m = measure(case, dataset.path, dataset.records, repeat, budget_s)
        if m.error:
            log(f"    {m.error}")
        else:
            log(f"    {m.mb_s:,.1f} MB/s, {m.records_s:,.0f} records/s, peak {fmt_rss(m.peak_kb)}")
        results.append(m)
    pairs = whole_processes(data, 3 if quick else 7) if only is None or "cli" in only else []
    starts = startup(5 if quick else 20) if only is None or "startup" in only else []

    command = shlex.join(
        [
            display_path(Path(sys.executable)),
            display_path(Path(__file__)),
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    load = (load_before, os.getloadavg())
    section = render(results, data, command, load, pairs=pairs, starts=starts)
    print(section)
    if results_path is not None:
        write_section(results_path, SECTION, section)
        log(f"wrote the {SECTION!r} section of {display_path(results_path)}")
    return 0


def display_path(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
