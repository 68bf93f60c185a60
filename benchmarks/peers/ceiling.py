"""How fast the file can be read at all: the ceiling any validator is measured against."""

from __future__ import annotations

from pathlib import Path

from peers import CHUNK, Counts, Runner


def prepare_read() -> Runner:
    def run(path: Path) -> Counts:
        n = 0
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(CHUNK):
                n += len(chunk)
        return Counts(0, 0, n)

    return run


def prepare_memchr() -> Runner:
    """Read, then look at every byte once at memchr speed (a NUL byte is never there)."""

    def run(path: Path) -> Counts:
        found = 0
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(CHUNK):
                found += chunk.find(b"\0") >= 0
        return Counts(found, 0)

    return run


def prepare_lines() -> Runner:
    """Iterate the lines with no parsing: the ceiling of every line-by-line NDJSON peer."""

    def run(path: Path) -> Counts:
        total = 0
        with open(path, "rb", buffering=CHUNK) as f:
            for _ in f:
                total += 1
        return Counts(total, 0)

    return run
