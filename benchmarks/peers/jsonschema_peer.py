"""json (the standard library) + jsonschema, with a JSON Schema of the rules."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from jsonschema import Draft202012Validator

from peers import CHUNK, MAX_YEAR, URL_PATTERN, Counts, Runner


def _text(min_length: int, max_length: int) -> dict[str, object]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _optional_text(max_length: int, **extra: object) -> dict[str, object]:
    return {"type": ["string", "null"], "maxLength": max_length, **extra}


_SIZE = {"type": ["integer", "null"], "minimum": 1, "maximum": 100_000}

MOVIE_SCHEMA: dict[str, object] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["title", "year"],
    "properties": {
        "title": _text(1, 500),
        "year": {"type": "integer", "minimum": 1888, "maximum": MAX_YEAR},
        "cast": {"type": ["array", "null"], "maxItems": 1000, "items": _text(1, 200)},
        "genres": {"type": ["array", "null"], "maxItems": 50, "items": _text(1, 64)},
        "id": {"type": ["string", "integer", "null"], "minLength": 1, "maxLength": 200},
        "href": _optional_text(1000),
        "extract": _optional_text(100_000),
        "thumbnail": _optional_text(2000, pattern=URL_PATTERN),
        "thumbnail_width": _SIZE,
        "thumbnail_height": _SIZE,
    },
}


def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(MOVIE_SCHEMA)
    return Draft202012Validator(MOVIE_SCHEMA)


def prepare_array() -> Runner:
    validator = _validator()

    def run(path: Path) -> Counts:
        with open(path, "rb") as f:
            records = json.load(f)
        # iter_errors, not is_valid: a team reports every error of a record, as the extension does.
        valid = sum(not list(validator.iter_errors(record)) for record in records)
        return Counts(len(records), valid)

    return run


def prepare_ndjson() -> Runner:
    validator = _validator()

    def run(path: Path) -> Counts:
        total = valid = 0
        with open(path, "rb", buffering=CHUNK) as f:
            for line in f:
                total += 1
                with contextlib.suppress(ValueError):
                    valid += not list(validator.iter_errors(json.loads(line)))
        return Counts(total, valid)

    return run
