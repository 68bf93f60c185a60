"""``moviestore bench gate`` as the release pipeline runs it: a real local platform (PostgreSQL,
Redis, moto, the worker, the API), a generated catalog ingested through S3, locust, the verdict."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

LOAD = """
[environments.local.load]
users = 4
spawn_rate = 4
duration = "8s"
catalog_size = 500
think_time_s = 0.05

[environments.local.ingest]
p95_ms = 60000
records = 20
interval_s = 2
timeout_s = 30
"""
GENEROUS_GROUPS = """
[environments.local.groups]
list = { p95_ms = 5000, p99_ms = 10000 }
"search:title" = { p95_ms = 5000, p99_ms = 10000 }
"search:cast" = { p95_ms = 5000, p99_ms = 10000 }
detail = { p95_ms = 5000, p99_ms = 10000 }
page = { p95_ms = 5000, p99_ms = 10000 }
conditional = { p95_ms = 5000, p99_ms = 10000 }
"""


def bench_gate(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moviestore.cli", "bench", "gate", *options],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def gate(tmp_path: Path, gates: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    gates_file, out = tmp_path / "gates.toml", tmp_path / "out"
    gates_file.write_text(gates)
    return bench_gate("--gates", str(gates_file), "--out", str(out)), out


def rows(verdict: str) -> dict[str, list[str]]:
    table = [line.strip("|").split("|") for line in verdict.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in table[1:]}


def test_an_impossible_gate_fails_the_run_and_the_verdict_says_which(tmp_path: Path) -> None:
    impossible = f"""
version = 7
[environments.local]
max_failure_ratio = 0.5
min_rps = 1000000
{LOAD}
{GENEROUS_GROUPS}
"search:nothing" = {{ p95_ms = 5000 }}
"""
    done, out = gate(tmp_path, impossible)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    # Progress while it ran: its own steps, then locust's statistics.
    assert "moviestore bench gate: starting the local stack" in done.stdout
    assert "the worker loaded 500 movies" in done.stdout
    assert "Aggregated" in output

    verdict = (out / "verdict.md").read_text()
    assert verdict.startswith("# Release gate: FAIL\n"), verdict
    assert "gates version 7" in verdict
    gates = rows(verdict)
    assert gates["throughput"][0] == "≥ 1,000,000 req/s"
    assert gates["throughput"][2] == "**FAIL**"
    # No request can fall in a group the suites do not have: that gate fails, never passes.
    assert gates["search:nothing p95"][1:] == ["no requests", "**FAIL**"]
    # Everything else was measured and passed: the suites ran every group, the provider too.
    for name in ("list", "search:title", "search:cast", "detail", "page", "conditional"):
        for p in ("p95", "p99"):
            assert gates[f"{name} {p}"][2] == "pass", (name, p, gates[f"{name} {p}"])
    assert gates["ingestion (upload→queryable) p95"][2] == "pass", verdict
    assert gates["ingestion failures"][2] == "pass", verdict
    assert gates["failure ratio"][1].startswith("0.00%"), verdict

    for report in ("locust.html", "locust_stats.csv", "locust_failures.csv"):
        assert (out / report).stat().st_size > 0, report
    assert (out / "logs" / "api.log").exists()
    assert (out / "logs" / "worker.log").exists()


def test_generous_gates_pass(tmp_path: Path) -> None:
    generous = f"""
version = 1
[environments.local]
max_failure_ratio = 0.01
min_rps = 5
{LOAD}
{GENEROUS_GROUPS}
"""
    done, out = gate(tmp_path, generous)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    verdict = (out / "verdict.md").read_text()
    assert verdict.startswith("# Release gate: PASS\n"), verdict
    assert all(cells[2] == "pass" for cells in rows(verdict).values()), verdict


def test_a_host_that_cannot_be_measured_fails_every_gate(tmp_path: Path) -> None:
    # Nothing listens there: the readers cannot sample a catalog, so no request is made.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    host = f"http://127.0.0.1:{port}"
    done = bench_gate("--env", "production", "--host", host, "--duration", "3s", "--out", str(out))
    assert done.returncode == 1, (done.stdout + done.stderr)[-4000:]
    assert "cannot sample the catalog" in done.stderr
    verdict = (out / "verdict.md").read_text()
    assert verdict.startswith("# Release gate: FAIL\n")
    gates = rows(verdict)
    assert gates and all(cells[1:] == ["no requests", "**FAIL**"] for cells in gates.values())
