"""The release gates: the gates file, locust's CSV and the verdict (no locust, no network)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from moviestore.bench import repo_path
from moviestore.bench.gates import Environment, GatesError, load_gates, parse_duration, parse_gates
from moviestore.bench.verdict import (
    INGEST_NAME,
    INGEST_TYPE,
    Row,
    RunInfo,
    evaluate,
    group,
    parse_stats,
    passed,
    read_stats,
    render,
)
from moviestore.cli import build_parser, main
from moviestore.commands import bench

ROOT = Path(__file__).resolve().parents[2]
GATES_FILE = ROOT / "benchmarks" / "gates.toml"
GROUPS = ("list", "search:title", "search:cast", "detail", "page", "conditional")

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def csv_line(kind: str, name: str, requests: int, *, failures: int = 0, rps: float, p: int) -> str:
    """A line as locust writes it; percentiles p/2 (50%), p (95%), 2p (99%); N/A when idle."""
    if requests == 0:
        tail = ",".join(["N/A"] * 11)
        return f"{kind},{name},0,0,0,0.0,0,0,0.0,0.0,0.0,{tail}"
    pcts = [p // 2, p // 2, p // 2, p // 2, p, p, p, 2 * p, 2 * p, 2 * p, 2 * p]
    tail = ",".join(str(v) for v in pcts)
    head = f"{kind},{name},{requests},{failures},{p // 2},{p / 2:.3f},0.4,{2 * p}.5,120.0"
    return f"{head},{rps},0.0,{tail}"


def stats(*lines: str) -> list[Row]:
    return parse_stats([HEADER, *lines])


def healthy(ingest_ms: int = 900, ingest_failures: int = 0) -> list[Row]:
    """Every group under its local ceilings, 400 req/s of reads, one failure in 8,000."""
    lines = [csv_line("GET", g, 1000, rps=50.0, p=10) for g in GROUPS]
    lines += [
        csv_line("GET", "ingest:poll", 40, rps=0.5, p=10),
        csv_line(INGEST_TYPE, INGEST_NAME, 4, failures=ingest_failures, rps=0.05, p=ingest_ms),
        csv_line("", "Aggregated", 6044, failures=1, rps=300.55, p=10),
    ]
    return stats(*lines)


@pytest.fixture
def data() -> dict[str, Any]:
    return tomllib.loads(GATES_FILE.read_text())


# Limits of its own, so that these tests do not move when benchmarks/gates.toml is recalibrated.
KNOWN = """
version = 3
[environments.local]
max_failure_ratio = 0.001
min_rps = 100
[environments.local.load]
users = 16
spawn_rate = 8
duration = "60s"
[environments.local.groups]
list = { p95_ms = 100, p99_ms = 250 }
"search:title" = { p95_ms = 150, p99_ms = 300 }
"search:cast" = { p95_ms = 100, p99_ms = 250 }
detail = { p95_ms = 50, p99_ms = 150 }
page = { p95_ms = 100, p99_ms = 250 }
conditional = { p95_ms = 50, p99_ms = 150 }
[environments.local.ingest]
p95_ms = 30000
"""


@pytest.fixture
def local() -> Environment:
    return parse_gates(tomllib.loads(KNOWN)).environment("local")


def by_name(gates: list[Any]) -> dict[str, Any]:
    return {g.name: g for g in gates}


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1h2m3s", 3723), (" 5M ", 300)],
)
def test_durations_in_locusts_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "5 minutes", "1.5m", "-3s", "m", "3s2m"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# --- the gates file --------------------------------------------------------------------------


def test_the_versioned_gates_file_gates_every_group_in_every_environment() -> None:
    gates = load_gates(GATES_FILE)
    assert gates.version >= 1
    assert set(gates.environments) == {"local", "staging", "production"}
    for name, env in gates.environments.items():
        assert set(env.groups) == set(GROUPS), name
        for latency in env.groups.values():
            assert set(latency.ceilings()) >= {95, 99}, name
            assert latency.ceilings()[95] <= latency.ceilings()[99], name
        assert 0 < env.max_failure_ratio < 0.01
        assert env.min_rps > 0
        assert env.load.seconds > 0
    # Ingestion is gated before production; production must not get synthetic movies.
    assert gates.environments["local"].ingest is not None
    assert gates.environments["staging"].ingest is not None
    assert gates.environments["production"].ingest is None


def test_an_unknown_key_is_an_error_naming_its_place(data: dict[str, Any]) -> None:
    data["environments"]["staging"]["groups"]["detail"]["p59_ms"] = 10
    with pytest.raises(GatesError, match=r"environments\.staging\.groups\.detail\.p59_ms"):
        parse_gates(data)


def test_a_group_without_a_ceiling_is_an_error(data: dict[str, Any]) -> None:
    data["environments"]["local"]["groups"]["list"] = {}
    with pytest.raises(GatesError, match="at least one of p50_ms, p95_ms, p99_ms"):
        parse_gates(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("groups", "list", "p95_ms"), 0, "greater than 0"),
        (("max_failure_ratio",), 1.5, "less than or equal to 1"),
        (("load", "duration"), "soon", "not a duration"),
        (("load", "users"), 0, "greater than or equal to 1"),
        (("ingest", "provider"), "Big Studio", "lower-case letters"),
        (("groups",), {}, "at least 1 item"),
    ],
)
def test_invalid_values_are_refused(
    data: dict[str, Any], path: tuple[str, ...], value: object, message: str
) -> None:
    node = data["environments"]["local"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(GatesError, match=message):
        parse_gates(data)


def test_a_missing_limit_is_an_error_not_a_default(data: dict[str, Any]) -> None:
    del data["environments"]["production"]["min_rps"]
    with pytest.raises(GatesError, match=r"environments\.production\.min_rps: Field required"):
        parse_gates(data)


def test_an_unknown_environment_names_the_known_ones(data: dict[str, Any]) -> None:
    with pytest.raises(GatesError, match="known: local, production, staging"):
        parse_gates(data).environment("prod")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(GatesError, match="cannot read"):
        load_gates(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = [1\n")
    with pytest.raises(GatesError, match="not valid TOML"):
        load_gates(bad)


# --- locust's statistics ---------------------------------------------------------------------


def test_parse_a_locust_stats_file(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats.csv"
    path.write_text(
        HEADER
        + "\n"
        + csv_line("GET", "search:title", 345, failures=2, rps=19.13, p=24)
        + "\n"
        + csv_line("GET", "page", 0, rps=0.0, p=0)
        + "\n"
        + csv_line("", "Aggregated", 345, failures=2, rps=19.13, p=24)
        + "\n"
    )
    title, page, total = read_stats(path)
    assert (title.type, title.name, title.requests, title.failures) == (
        "GET",
        "search:title",
        345,
        2,
    )
    assert title.rps == pytest.approx(19.13)
    assert title.percentiles == {50: 12, 95: 24, 99: 48}
    assert page.percentiles == {50: None, 95: None, 99: None}
    assert (total.type, total.name) == ("", "Aggregated")


def test_a_file_that_is_not_locusts_is_refused() -> None:
    with pytest.raises(ValueError, match="not a locust stats file"):
        parse_stats(["name,count", "list,3"])


def test_rows_of_one_name_merge_pessimistically() -> None:
    rows = stats(
        csv_line("GET", "detail", 100, failures=1, rps=10.0, p=10),
        csv_line("HEAD", "detail", 50, failures=2, rps=5.0, p=30),
        csv_line("GET", "list", 7, rps=1.0, p=4),
    )
    merged = group(rows, "detail")
    assert merged is not None
    assert (merged.requests, merged.failures, merged.rps) == (150, 3, 15.0)
    assert merged.percentiles == {50: 15, 95: 30, 99: 60}
    assert group(rows, "detail", "HEAD") == rows[1]
    assert group(rows, "nothing") is None


def test_a_merged_percentile_that_one_row_lacks_is_unknown() -> None:
    rows = stats(csv_line("GET", "detail", 100, rps=10.0, p=10))
    broken = [rows[0], Row("POST", "detail", 3, 0, 1.0, {50: None, 95: None, 99: None})]
    merged = group(broken, "detail")
    assert merged is not None and merged.percentiles[95] is None


def test_the_aggregated_line_is_never_a_group() -> None:
    rows = stats(csv_line("", "Aggregated", 10, rps=1.0, p=5))
    assert group(rows, "Aggregated") is None


# --- evaluation ------------------------------------------------------------------------------


def test_a_healthy_run_passes_every_gate(local: Environment) -> None:
    gates = evaluate(local, healthy())
    assert passed(gates), [g for g in gates if not g.passed]
    names = [g.name for g in gates]
    assert names[:2] == ["list p95", "list p99"]
    assert {"throughput", "failure ratio", "ingestion failures"} <= set(names)
    assert by_name(gates)["ingestion (upload→queryable) p95"].measured == "900 ms"


def test_a_percentile_over_its_ceiling_fails_only_that_gate(local: Environment) -> None:
    rows = healthy()
    slow = [r for r in rows if r.name != "detail"]
    slow.append(Row("GET", "detail", 1000, 0, 50.0, {50: 5, 95: 51, 99: 60}))
    gates = by_name(evaluate(local, slow))
    assert not gates["detail p95"].passed
    assert gates["detail p95"].measured == "51 ms"
    assert gates["detail p95"].threshold == "≤ 50 ms"
    assert gates["detail p99"].passed
    assert [n for n, g in gates.items() if not g.passed] == ["detail p95"]


def test_a_value_equal_to_its_ceiling_passes(local: Environment) -> None:
    rows = [r for r in healthy() if r.name != "detail"]
    rows.append(Row("GET", "detail", 1000, 0, 50.0, {50: 5, 95: 50, 99: 150}))
    gates = by_name(evaluate(local, rows))
    assert gates["detail p95"].passed and gates["detail p99"].passed


def test_a_group_without_requests_fails_never_passes(local: Environment) -> None:
    missing = [r for r in healthy() if r.name != "page"]
    gates = by_name(evaluate(local, missing))
    assert not gates["page p95"].passed and not gates["page p99"].passed
    assert gates["page p95"].measured == "no requests"

    idle = [*missing, *stats(csv_line("GET", "page", 0, rps=0.0, p=0))]
    gates = by_name(evaluate(local, idle))
    assert gates["page p99"].measured == "no requests" and not gates["page p99"].passed


def test_a_percentile_locust_did_not_report_fails(local: Environment) -> None:
    rows = [r for r in healthy() if r.name != "list"]
    rows.append(Row("GET", "list", 10, 0, 1.0, {50: None, 95: None, 99: None}))
    gates = by_name(evaluate(local, rows))
    assert gates["list p95"].measured == "not reported" and not gates["list p95"].passed


def test_an_empty_run_fails_every_gate(local: Environment) -> None:
    gates = evaluate(local, stats(csv_line("", "Aggregated", 0, rps=0.0, p=0)))
    assert gates and not any(g.passed for g in gates)
    assert not passed(evaluate(local, []))
    assert not passed([])


def test_throughput_counts_the_gated_groups_only(local: Environment) -> None:
    floor = local.min_rps
    per_group = floor / len(GROUPS)
    rows = [Row("GET", g, 100, 0, per_group, {50: 1, 95: 2, 99: 3}) for g in GROUPS]
    rows.append(Row("GET", "ingest:poll", 10_000, 0, 10 * floor, {50: 1, 95: 2, 99: 3}))
    assert by_name(evaluate(local, rows))["throughput"].passed
    rows[0] = Row("GET", GROUPS[0], 100, 0, per_group - 0.5, {50: 1, 95: 2, 99: 3})
    throughput = by_name(evaluate(local, rows))["throughput"]
    assert not throughput.passed
    assert throughput.threshold == f"≥ {floor:g} req/s"


def test_failure_ratio_uses_every_request(local: Environment) -> None:
    ceiling = local.max_failure_ratio
    at = [*healthy()[:-1], Row("", "Aggregated", 100_000, int(100_000 * ceiling), 300, {})]
    assert by_name(evaluate(local, at))["failure ratio"].passed
    over = [*at[:-1], Row("", "Aggregated", 100_000, int(100_000 * ceiling) + 1, 300, {})]
    gate = by_name(evaluate(local, over))["failure ratio"]
    assert not gate.passed
    assert "101 of 100,000" in gate.measured
    no_total = by_name(evaluate(local, at[:-1]))["failure ratio"]
    assert not no_total.passed and no_total.measured == "no requests"


def test_ingestion_gates(local: Environment) -> None:
    assert local.ingest is not None
    slow = by_name(evaluate(local, healthy(ingest_ms=int(local.ingest.p95_ms) + 100)))
    assert not slow["ingestion (upload→queryable) p95"].passed
    assert slow["ingestion failures"].passed

    timed_out = by_name(evaluate(local, healthy(ingest_failures=1)))
    assert not timed_out["ingestion failures"].passed
    assert timed_out["ingestion failures"].measured == "1 of 4 uploads"

    never = by_name(evaluate(local, [r for r in healthy() if r.type != INGEST_TYPE]))
    assert not never["ingestion (upload→queryable) p95"].passed
    assert not never["ingestion failures"].passed
    assert never["ingestion failures"].measured == "no uploads measured"


def test_without_an_ingest_table_nothing_about_ingestion_is_gated(data: dict[str, Any]) -> None:
    production = parse_gates(data).environment("production")
    rows = [r for r in healthy() if r.type != INGEST_TYPE]
    assert not any("ingestion" in g.name for g in evaluate(production, rows))


def test_only_the_gated_groups_are_gated() -> None:
    custom = tomllib.loads(KNOWN)
    custom["environments"]["local"]["groups"] = {"detail": {"p99_ms": 100}}
    env = parse_gates(custom).environment("local")
    names = [g.name for g in evaluate(env, healthy())]
    assert names[0] == "detail p99" and not any(n.startswith("list") for n in names)


# --- the verdict -----------------------------------------------------------------------------


def info() -> RunInfo:
    return RunInfo("local", "benchmarks/gates.toml", 1, "http://127.0.0.1:8080", 16, 8, 60, "2,000")


def test_the_verdict_shows_each_gate_threshold_measure_and_outcome(local: Environment) -> None:
    rows = [r for r in healthy() if r.name != "page"]
    gates = evaluate(local, rows)
    text = render(info(), local, gates, rows)
    assert text.startswith("# Release gate: FAIL\n")
    failed = sum(not g.passed for g in gates)
    assert f"{len(gates) - failed} of {len(gates)} gates passed; {failed} failed." in text
    assert "| page p95 | ≤ 100 ms | no requests | **FAIL** |" in text
    assert "| detail p95 | ≤ 50 ms | 10 ms | pass |" in text
    assert "| ingestion (upload→queryable) p95 | ≤ 30,000 ms | 900 ms | pass |" in text
    assert "| failure ratio | ≤ 0.10% | 0.02% (1 of 6,044) | pass |" in text
    assert "environment: `local` (gates version 1" in text
    assert "Requests without a gate: GET ingest:poll (40)." in text
    assert "requests: 6,044, failures: 1" in text
    assert len([line for line in text.splitlines() if line.startswith("| ")]) == len(gates) + 1


def test_a_passing_verdict(local: Environment) -> None:
    rows = healthy()
    text = render(info(), local, evaluate(local, rows), rows)
    assert text.startswith("# Release gate: PASS\n")
    assert "FAIL" not in text


# --- the command, up to where it would start something ----------------------------------------


def test_a_bad_environment_or_duration_stops_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["bench", "gate", "--env", "qa", "--out", str(out)]) == 2
    assert "no environment 'qa'" in capsys.readouterr().err
    assert main(["bench", "gate", "--duration", "soon", "--out", str(out)]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert main(["bench", "gate", "--users", "0", "--out", str(out)]) == 2
    assert not out.exists()


def test_the_ingestion_gate_needs_a_bucket_when_given_a_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOVIESTORE_S3_BUCKET", raising=False)
    argv = ["bench", "gate", "--host", "http://127.0.0.1:9", "--out", str(tmp_path)]
    assert main([*argv, "--env", "staging"]) == 2


def test_repository_files_are_found_from_a_checkout_or_an_installed_wheel(tmp_path: Path) -> None:
    assert repo_path("benchmarks/gates.toml") == GATES_FILE
    assert repo_path("benchmarks/gates.toml", checkout=tmp_path) == Path("benchmarks/gates.toml")


def test_the_locust_command_line(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["bench", "gate", "--users", "3", "--duration", "2m", "--out", str(tmp_path)]
    )
    job = bench.plan(args)
    argv = bench.locust_argv(job, "http://api:8080")
    assert argv[1:5] == ["-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py")]
    flags = {flag: argv[i + 1] for i, flag in enumerate(argv[:-1]) if flag.startswith("--")}
    assert flags["--host"] == "http://api:8080"
    assert flags["--run-time"] == "120s"
    assert flags["--users"] == "4"  # three readers and the provider
    assert flags["--csv"] == str(tmp_path / "locust")
    assert "--provider-scenario" in argv and flags["--ingest-provider"] == "loadtest"

    production = bench.plan(build_parser().parse_args(["bench", "gate", "--env", "production"]))
    argv = bench.locust_argv(production, "https://api")
    assert "--provider-scenario" not in argv
    assert argv[argv.index("--users") + 1] == str(production.users)
