"""orjson: parsing only, no validation at all. A reference point, not a validator."""

from __future__ import annotations

from pathlib import Path

import orjson

from peers import CHUNK, Counts, Runner


def prepare_array() -> Runner:
    def run(path: Path) -> Counts:
        with open(path, "rb") as f:
            records = orjson.loads(f.read())
        return Counts(len(records), len(records))

    return run


def prepare_ndjson() -> Runner:
    def run(path: Path) -> Counts:
        total = 0
        with open(path, "rb", buffering=CHUNK) as f:
            for line in f:
                orjson.loads(line)
                total += 1
        return Counts(total, total)

    return run
