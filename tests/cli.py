"""``moviestore`` and the benchmarks run as their users run them: a child process, its output
captured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def interrupted(
    *args: str | Path,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
    stderr: int | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``moviestore ARGS`` sent one real SIGINT, as Ctrl-C sends it, once ``ready()`` holds (the
    command is where the interruption should land); its exit status and output (stderr to the
    file descriptor ``stderr`` instead, when given: a terminal)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moviestore.cli", *map(str, args)],
            env=os.environ.copy() if env is None else env,
            stdout=out,
            stderr=err if stderr is None else stderr,
            text=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None:
                    out.seek(0)
                    err.seek(0)
                    raise AssertionError(
                        f"exited {proc.returncode} before it was interrupted:\n"
                        f"{out.read()[-2000:]}{err.read()[-2000:]}"
                    )
                assert time.monotonic() < deadline, f"not ready after {timeout} s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())


def assert_interrupted(done: subprocess.CompletedProcess[str], command: str) -> None:
    """Exit status 130 and, last on stderr, one line that says so; no traceback."""
    assert done.returncode == 130, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1:] == [f"moviestore {command}: interrupted"], done.stderr
