"""``moviestore`` run as its users run it: a child process, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def moviestore(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``moviestore ARGS`` with this process's environment (the stack's MOVIESTORE_* settings)
    unless ``env`` is given."""
    return subprocess.run(
        [sys.executable, "-m", "moviestore.cli", *map(str, args)],
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


ROOT = Path(__file__).resolve().parent.parent


def benchmark(
    script: str, *args: str | Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``benchmarks/SCRIPT ARGS`` from the repository's root, as its README runs it."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
