"""The validator and ingestion benchmarks still run end to end (figures are reported, never
asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.cli import benchmark


def test_quick_benchmark_runs_and_reports_every_tool(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_validator.py", "--quick", "--results", results)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    section = results.read_text()
    assert section.startswith("# Benchmark results") or "## Validator" in section
    for tool in ("**extension**, validate + COPY", "msgspec", "pydantic", "jsonschema", "orjson"):
        assert tool in section, tool
    assert "Targets" in section


def test_quick_ingestion_benchmark_runs_every_part(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = benchmark("bench_ingest.py", "--quick", "--results", results, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    section = results.read_text()
    for part in ("### A burst", "| 1 |", "| 4 |", "### One file", "raw binary COPY",
                 "queryable through the API", "### A snapshot that withdraws 10%"):  # fmt: skip
        assert part in section, part
