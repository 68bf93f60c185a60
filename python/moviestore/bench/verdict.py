"""From locust's ``*_stats.csv`` and an environment's gates to a verdict, as data and markdown.

Pure functions: no locust, no network. A gate that cannot be measured (no request in its
group, no percentile, no ingestion) fails; nothing passes by default.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moviestore.bench.gates import Environment

AGGREGATED = "Aggregated"
# What the locustfile reports the provider scenario as (request_type, name).
INGEST_TYPE, INGEST_NAME = "INGEST", "upload->queryable"


@dataclass(frozen=True)
class Row:
    """One line of locust's requests statistics; percentiles keyed 50, 95, 99 (None: N/A)."""

    type: str
    name: str
    requests: int
    failures: int
    rps: float
    percentiles: dict[int, float | None] = field(default_factory=dict)


def parse_stats(lines: Iterable[str]) -> list[Row]:
    """Rows of a locust ``*_stats.csv`` (its header first), the ``Aggregated`` line included."""
    reader = csv.DictReader(lines)
    missing = {"Type", "Name", "Request Count", "Failure Count", "Requests/s"} - set(
        reader.fieldnames or ()
    )
    if missing:
        raise ValueError(f"not a locust stats file: no column {', '.join(sorted(missing))}")
    rows = []
    for line in reader:
        percentiles = {p: number(line.get(f"{p}%")) for p in (50, 95, 99)}
        rows.append(
            Row(
                type=line["Type"],
                name=line["Name"],
                requests=int(line["Request Count"]),
                failures=int(line["Failure Count"]),
                rps=float(line["Requests/s"]),
                percentiles=percentiles,
            )
        )
    return rows


def read_stats(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as f:
        return parse_stats(f)


def number(text: str | None) -> float | None:
    if text is None or text.strip() in ("", "N/A"):
        return None
    return float(text)


def group(rows: Sequence[Row], name: str, request_type: str | None = None) -> Row | None:
    """Every row named ``name`` (of any method unless ``request_type``) merged into one.

    Percentiles of rows merged across methods are their maximum: a bound that can only be
    pessimistic, never flattering.
    """
    found = [
        r
        for r in rows
        if r.name == name and not is_total(r) and (request_type is None or r.type == request_type)
    ]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    percentiles: dict[int, float | None] = {}
    for p in (50, 95, 99):
        values = [r.percentiles.get(p) for r in found if r.requests]
        known = [v for v in values if v is not None]
        percentiles[p] = max(known) if known and len(known) == len(values) else None
    return Row(
        type="+".join(r.type for r in found),
        name=name,
        requests=sum(r.requests for r in found),
        failures=sum(r.failures for r in found),
        rps=sum(r.rps for r in found),
        percentiles=percentiles,
    )


def is_total(row: Row) -> bool:
    return row.name == AGGREGATED and row.type == ""


def aggregated(rows: Sequence[Row]) -> Row | None:
    return next((r for r in rows if is_total(r)), None)


@dataclass(frozen=True)
class Gate:
    name: str
    threshold: str
    measured: str
    passed: bool


def evaluate(env: Environment, rows: Sequence[Row]) -> list[Gate]:
    """Every gate of ``env`` against locust's statistics, in the order of the gates file."""
    gates: list[Gate] = []
    for name, latency in env.groups.items():
        row = group(rows, name)
        for percentile, ceiling in latency.ceilings().items():
            gates.append(at_most_ms(f"{name} p{percentile}", row, percentile, ceiling))
    gates.append(throughput(env, rows))
    gates.append(failure_ratio(env.max_failure_ratio, aggregated(rows)))
    if env.ingest is not None:
        row = group(rows, INGEST_NAME, INGEST_TYPE)
        gates.append(at_most_ms("ingestion (upload→queryable) p95", row, 95, env.ingest.p95_ms))
        gates.append(ingest_failures(row))
    return gates


def at_most_ms(name: str, row: Row | None, percentile: int, ceiling: float) -> Gate:
    threshold = f"≤ {num(ceiling)} ms"
    if row is None or row.requests == 0:
        return Gate(name, threshold, "no requests", False)
    value = row.percentiles.get(percentile)
    if value is None:
        return Gate(name, threshold, "not reported", False)
    return Gate(name, threshold, f"{num(value)} ms", value <= ceiling)


def throughput(env: Environment, rows: Sequence[Row]) -> Gate:
    """Requests per second of the gated endpoint groups together (the provider scenario and its
    polling are not reader traffic). Every row's rate shares one time base, so they add up."""
    threshold = f"≥ {num(env.min_rps)} req/s"
    found = [r for r in (group(rows, name) for name in env.groups) if r is not None]
    if not any(r.requests for r in found):
        return Gate("throughput", threshold, "no requests", False)
    rps = sum(r.rps for r in found)
    return Gate("throughput", threshold, f"{rps:.1f} req/s", rps >= env.min_rps)


def failure_ratio(ceiling: float, total: Row | None) -> Gate:
    threshold = f"≤ {ceiling:.2%}"
    if total is None or total.requests == 0:
        return Gate("failure ratio", threshold, "no requests", False)
    ratio = total.failures / total.requests
    measured = f"{ratio:.2%} ({total.failures:,} of {total.requests:,})"
    return Gate("failure ratio", threshold, measured, ratio <= ceiling)


def ingest_failures(row: Row | None) -> Gate:
    """An upload that never became queryable is a failed release whatever the percentiles say."""
    if row is None or row.requests == 0:
        return Gate("ingestion failures", "0", "no uploads measured", False)
    return Gate(
        "ingestion failures",
        "0",
        f"{row.failures} of {row.requests} uploads",
        row.failures == 0,
    )


@dataclass(frozen=True)
class RunInfo:
    """What the verdict says about the run, so that it can be read on its own."""

    environment: str
    gates_file: str
    gates_version: int
    host: str
    users: int
    spawn_rate: float
    duration_s: int
    catalog: str = ""


def num(value: float) -> str:
    """30000.0 → "30,000"; 0.5 → "0.5": thresholds as people write them."""
    return f"{int(value):,}" if value == int(value) else f"{value:,g}"


def passed(gates: Sequence[Gate]) -> bool:
    return bool(gates) and all(g.passed for g in gates)


def render(info: RunInfo, env: Environment, gates: Sequence[Gate], rows: Sequence[Row]) -> str:
    """The verdict as markdown: the outcome first, then every gate, then what had no gate."""
    outcome = "PASS" if passed(gates) else "FAIL"
    failed = sum(not g.passed for g in gates)
    lines = [
        f"# Release gate: {outcome}",
        "",
        f"{len(gates) - failed} of {len(gates)} gates passed"
        + (f"; {failed} failed." if failed else "."),
        "",
        f"- environment: `{info.environment}` (gates version {info.gates_version}, "
        f"`{info.gates_file}`)",
        f"- host: {info.host}",
        f"- load: {info.users} users, spawn rate {info.spawn_rate:g}/s, {info.duration_s} s",
    ]
    if info.catalog:
        lines.append(f"- catalog: {info.catalog}")
    total = aggregated(rows)
    if total is not None:
        lines.append(f"- requests: {total.requests:,}, failures: {total.failures:,}")
    lines += ["", "| gate | threshold | measured | result |", "|---|---|---|---|"]
    for g in gates:
        result = "pass" if g.passed else "**FAIL**"
        lines.append(f"| {g.name} | {g.threshold} | {g.measured} | {result} |")
    gated = set(env.groups) | ({INGEST_NAME} if env.ingest else set())
    others = [r for r in rows if r.name not in gated and not is_total(r)]
    if others:
        listed = ", ".join(f"{r.type} {r.name} ({r.requests:,})" for r in others)
        lines += ["", f"Requests without a gate: {listed}."]
    return "\n".join(lines) + "\n"
