"""The validator benchmark still runs end to end (figures are reported, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_reports_every_tool(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_validator.py", "--quick", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    section = results.read_text()
    assert section.startswith("# Benchmark results") or "## Validator" in section
    for tool in ("**extension**, validate + COPY", "msgspec", "pydantic", "jsonschema", "orjson"):
        assert tool in section, tool
    assert "Targets" in section
