"""moviestore._validator, fed 1 MiB chunks as the loader feeds it (4 MiB to two threads)."""

from __future__ import annotations

import sys
from pathlib import Path

from moviestore._validator import Validator
from peers import CHUNK, Counts, Runner


def _prepare(copy: bool, threads: int = 1) -> Runner:
    # Two threads are fed 4 MiB chunks, as `moviestore validate` feeds them.
    size = CHUNK if threads == 1 else 4 * CHUNK

    def run(path: Path) -> Counts:
        validator = Validator(filename=path.name, copy=copy, threads=threads)
        out = 0
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(size):
                out += len(validator.feed(chunk).copy_data)
            out += len(validator.finish().copy_data)
        report = validator.report
        if report.records_invalid or report.file_error:
            print(f"warning: {path.name}: {report.to_dict()}", file=sys.stderr)
        return Counts(report.records_total, report.records_valid, out)

    return run


def prepare_validate() -> Runner:
    return _prepare(copy=False)


def prepare_validate_2t() -> Runner:
    return _prepare(copy=False, threads=2)


def prepare_copy() -> Runner:
    return _prepare(copy=True)
