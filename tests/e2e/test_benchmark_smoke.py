"""The validator benchmark still runs end to end (figures are reported, never asserted)."""

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
