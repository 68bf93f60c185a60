"""``moviestore`` and the benchmarks run as their users run them: a child process, its output
captured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def moviestore(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``moviestore ARGS`` with this process's environment (the stack's MOVIESTORE_* settings)
    unless ``env`` is given."""
    return python(["-m", "moviestore.cli", *map(str, args)], env, None, timeout)


def benchmark(
    script: str, *args: str | Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``benchmarks/SCRIPT ARGS`` from the repository's root, as its README runs it."""
    return python([f"benchmarks/{script}", *map(str, args)], None, ROOT, timeout)


def python(
    argv: list[str], env: dict[str, str] | None, cwd: Path | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        env=os.environ.copy() if env is None else env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
