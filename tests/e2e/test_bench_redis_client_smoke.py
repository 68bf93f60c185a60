"""The Redis client benchmark still runs end to end (figures are reported, never asserted):
its own redis-server, the three clients, the RESULTS section."""

from __future__ import annotations

from pathlib import Path

from tests.cli import benchmark


def test_quick_redis_client_benchmark_writes_every_row(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_redis_client.py", "--quick", "--results", results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    section = results.read_text().split("## Redis client of the API", 1)[1]
    assert ".venv/bin/python benchmarks/bench_redis_client.py --quick" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "|--" not in line]
    clients = {row.split(" | ")[0].lstrip("| ") for row in rows[1:]}
    assert clients == {
        "floor: bare protocol, no parsing",
        "**PipelinedRedis** (the API's)",
        "redis-py asyncio + hiredis",
    }
    assert len(rows) == 1 + 2 + 4 + 4  # header; the floor at 1 caller; the others at 1 and 8
