"""Validate catalog files with the Rust extension: the public face of ``moviestore._validator``."""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from moviestore._validator import Batch, CatalogFileError, Report, Validator

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_MAX_BYTES",
    "CatalogFileError",
    "Limits",
    "Report",
    "iter_batches",
    "validate_path",
]

# Big enough that per-call overhead vanishes, small enough to keep memory flat.
CHUNK_SIZE = 1 << 20
# With two threads, each chunk's lines are shared out and joined again: larger chunks make
# starting the second thread negligible (validate_path only; the worker keeps one thread).
THREADED_CHUNK_SIZE = 4 << 20
# The largest decompressed file moviestore accepts by default (the worker and `validate`):
# seven times the largest catalog seen (230 MB), so a small gzip file that inflates to gigabytes
# costs a worker seconds, not minutes (docs/provider-format.md, "Limits").
DEFAULT_MAX_BYTES = 3 << 29  # 1.5 GiB

# The longest a pipe's reader goes without looking for a signal (see read_chunks).
SIGNAL_CHECK_INTERVAL = 0.2

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Limits:
    """Validation settings (docs/provider-format.md, "Limits")."""

    max_errors: int = 1000
    max_depth: int = 64
    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_record_bytes: int = 16 << 20
    current_year: int | None = None
    format: Literal["auto", "json", "ndjson"] = "auto"
    # NDJSON lines examined on two threads when 2; the outcome is the same either way.
    threads: int = 1

    def validator(
        self, filename: str, *, copy: bool = True, stream_errors: bool = False
    ) -> Validator:
        return Validator(
            filename=filename,
            format=self.format,
            max_errors=self.max_errors,
            max_depth=self.max_depth,
            max_bytes=self.max_bytes,
            max_record_bytes=self.max_record_bytes,
            current_year=self.current_year,
            copy=copy,
            stream_errors=stream_errors,
            threads=self.threads,
        )


def read_chunks(f: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The chunks of an open file, read so that Ctrl-C always ends the wait for bytes.

    A regular file never blocks. A pipe or a terminal may wait forever, and Python raises
    ``KeyboardInterrupt`` only between its own steps or when a signal interrupts a system call:
    a SIGINT handled just as one read returns, before the next one starts inside the same
    buffered ``read``, was lost and the command waited on (seen under load). So such a file is
    read one system call per step, each after a ``select`` whose bounded wait a signal ends.
    """
    if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        while chunk := f.read(size):
            yield chunk
        return
    fd, pending = f.fileno(), bytearray()
    while True:
        if not select.select([fd], [], [], SIGNAL_CHECK_INTERVAL)[0]:
            continue
        if not (data := os.read(fd, size - len(pending))):
            break
        pending += data
        if len(pending) == size:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


def iter_batches(
    validator: Validator, chunks: Iterable[bytes], progress: Progress | None = None
) -> Iterator[Batch]:
    """Feed ``chunks`` through ``validator``, yielding every batch with valid records or
    deletion records (``Batch.deleted_keys``).

    Raises ``CatalogFileError`` on a whole-file error; ``validator.report`` has the counts.
    """
    for chunk in chunks:
        batch = validator.feed(chunk)
        if progress is not None:
            progress(len(chunk))
        if batch.count or batch.deleted_keys:
            yield batch
    last = validator.finish()
    if last.count or last.deleted_keys:
        yield last


def validate_path(path: Path, limits: Limits, progress: Progress | None = None) -> Report:
    """Validate one file without producing COPY data. Whole-file errors are in the report."""
    validator = limits.validator(path.name, copy=False)
    size = THREADED_CHUNK_SIZE if limits.threads > 1 else CHUNK_SIZE
    with path.open("rb") as f:
        try:
            for _ in iter_batches(validator, read_chunks(f, size), progress):
                pass
        except CatalogFileError as e:
            return e.report
    return validator.report
