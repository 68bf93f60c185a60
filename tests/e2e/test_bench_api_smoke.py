"""The API benchmark still runs end to end on a small catalog (figures are reported, never
asserted): its own local stack, the API, the constant-body peer, PostgreSQL alone, wrk, the
RESULTS section."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli import benchmark

ROWS = (
    "ceiling: constant body, list size",
    "ceiling: constant body, detail size",
    "ceiling: constant body, 9 KB",
    "cached list",
    "cached detail",
    "uncached title",
    "uncached genre+year",
    "uncached cast",
    "database alone: title",
    "database alone: genre+year",
    "database alone: cast",
)


def test_quick_api_benchmark_writes_every_row(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_api.py", "--quick", "--configs", "1x1", "--results", results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = results.read_text()
    assert "## API" in text
    section = text.split("## API", 1)[1]
    assert ".venv/bin/python benchmarks/bench_api.py --quick" in section
    table = [line for line in section.splitlines() if line.startswith("| ")]
    for row in ROWS:
        assert any(line.startswith(f"| {row} |") for line in table), row
    assert "### Targets" in section
    for target in ("70% of the constant-body ceiling", "p99 under 2 ms", "p99 under 25 ms"):
        assert target in section, target
    assert "Redis hits 0" in section  # the uncached runs prove their misses
    # each uncached target is set beside PostgreSQL answering the same values alone
    assert section.count("PostgreSQL alone answering the same values") == 3
    assert "| 1x1 | cast, PostgreSQL alone |" in section


def test_quick_churn_benchmark_writes_every_phase(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_api.py", "churn", "--quick", "--results", results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    section = results.read_text().split("## API under churn", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for phase in ("1. nobody uploading", "2. 10-movie files", "3. while a 20,000-movie file"):
        assert sum(line.startswith(f"| {phase}") for line in rows) == 2, phase  # both tables
    # where the CPU went in each phase: the API's share, the rest, idle (about 100% together)
    for line in rows[1:4]:
        shares = re.fullmatch(r"(\d+)% / (\d+)% / (\d+)%", line.split("|")[-2].strip())
        assert shares is not None, line
        assert int(shares[1]) > 0 and 97 <= sum(map(int, shares.groups())) <= 103, line
    changes = [line for line in rows if line.startswith("| 2. ")][1]
    assert int(changes.split("|")[2].replace(",", "")) > 0  # change sets applied and logged
    for target in ("of phase 1's req/s", "freshness p99", "list answers from PostgreSQL",
                   "a change set of at most 10 movies"):  # fmt: skip
        assert target in section, target


def test_scale_benchmark_on_a_small_catalog_measures_each_moment(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_api.py", "scale", "--movies", "3000", "--results", results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    section = results.read_text().split("## API at scale", 1)[1]
    assert "bytes per movie" in section
    moments = [line for line in section.splitlines() if line.startswith("| ") and "MiB |" in line]
    assert len(moments) == 3, moments  # start-up, a small change set, a merge
